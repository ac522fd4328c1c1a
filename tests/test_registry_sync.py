"""``registry sync`` writes changed prices to the overlay only; ``registry list`` shows them."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
import yaml
from typer.testing import CliRunner

from llm_council.config import GatewaySettings
from llm_council.defaults import shipped_file
from llm_council.gateway.base import MalformedResponseError
from llm_council.gateway.openrouter import OpenRouterGateway
from llm_council.registry import RegistryError, load_registry
from llm_council.registry_sync import per_mtok, sync_registry
from llm_council.sandbox import SandboxOptions, create_app

MINI, KIMI = "openai/gpt-5.4-mini", "moonshotai/kimi-k2.6"
SONNET, GROK = "anthropic/claude-sonnet-4.6", "x-ai/grok-4.3"
FLASH = "google/gemini-3-flash-preview"  # in the registry, on no shortlist band
DS_FLASH = "deepseek/deepseek-v4-flash"  # the snapshot's low band
NEW = "brand/new-coder-1"  # unknown to the registry
REGISTRY = load_registry()


def sandbox_gateway(registry) -> OpenRouterGateway:
    """A gateway on an in-process sandbox whose /models reports ``registry``'s prices."""
    return OpenRouterGateway(
        GatewaySettings(),
        api_key=None,
        kind="sandbox",
        transport=httpx.ASGITransport(app=create_app(registry, SandboxOptions(latency_ms=0))),
        base_url="http://sandbox.test/api/v1",
    )


def test_price_strings_become_usd_per_million_tokens():
    assert per_mtok("0.00000025") == 0.25 and per_mtok("0.000015") == 15.0
    assert per_mtok("0") == 0.0 and per_mtok(0.000002) == 2.0
    for unusable in ("-1", "abc", None, "", "inf", "nan", True, [], {}):
        assert per_mtok(unusable) is None, unusable


async def test_changes_land_in_the_overlay_and_the_shipped_file_is_untouched(tmp_path):
    shipped = shipped_file("registry.yaml")
    before = shipped.read_bytes()
    upstream = load_registry().with_overrides(
        {MINI: {"prompt_per_mtok": 0.2, "context_length": 500000}, KIMI: {"completion_per_mtok": 3}}
    )
    overlay = tmp_path / "data" / "registry_overlay.yaml"
    gateway = sandbox_gateway(upstream)
    try:
        first = await sync_registry(gateway, load_registry(overlay=overlay), overlay)
        assert {(c.model, c.field, c.old, c.new) for c in first.changes} == {
            (MINI, "prompt_per_mtok", 0.25, 0.2),
            (MINI, "context_length", 400000, 500000),
            (KIMI, "completion_per_mtok", 2.5, 3.0),
        }
        assert first.written and not first.dry_run
        assert first.fetched == len(upstream.models) + len(upstream.meta_models)
        assert first.matched == len(upstream.models) and first.unknown_remote == 0
        assert yaml.safe_load(overlay.read_text())["models"] == {
            MINI: {"prompt_per_mtok": 0.2, "context_length": 500000},
            KIMI: {"completion_per_mtok": 3.0},
        }
        assert shipped.read_bytes() == before
        refreshed = load_registry(overlay=overlay)
        assert (
            refreshed.get(MINI).prompt_per_mtok == 0.2
            and refreshed.get(MINI).context_length == 500000
        )
        assert load_registry().get(MINI).prompt_per_mtok == 0.25  # without the overlay: shipped
        # A second sync against the refreshed registry finds nothing and writes nothing.
        stamp = overlay.stat().st_mtime_ns
        second = await sync_registry(gateway, refreshed, overlay)
        assert second.changes == [] and not second.written
        assert overlay.stat().st_mtime_ns == stamp
    finally:
        await gateway.aclose()
    assert shipped.read_bytes() == before


async def test_dry_run_writes_nothing_and_later_syncs_merge(tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"models": {KIMI: {"context_length": 300000}}}))
    gateway = sandbox_gateway(load_registry().with_overrides({MINI: {"completion_per_mtok": 1.5}}))
    try:
        dry = await sync_registry(gateway, load_registry(overlay=overlay), overlay, dry_run=True)
        # Kimi's overlay value differs from upstream (the shipped 262144): a change too.
        assert {(c.model, c.field) for c in dry.changes} == {
            (MINI, "completion_per_mtok"),
            (KIMI, "context_length"),
        }
        assert dry.dry_run and not dry.written
        assert yaml.safe_load(overlay.read_text()) == {"models": {KIMI: {"context_length": 300000}}}
        done = await sync_registry(gateway, load_registry(overlay=overlay), overlay)
        assert done.written
        assert yaml.safe_load(overlay.read_text())["models"] == {
            KIMI: {"context_length": 262144},
            MINI: {"completion_per_mtok": 1.5},
        }
    finally:
        await gateway.aclose()


@respx.mock
async def test_openrouter_listing_skips_unknown_models_variants_and_router_prices(tmp_path):
    listing = [
        {"id": MINI, "context_length": 400000, "pricing": {"prompt": "0.0000003", "completion": "0.000002"}},
        {"id": f"{MINI}:free", "context_length": 8000, "pricing": {"prompt": "0", "completion": "0"}},
        {"id": "openrouter/pareto-code", "context_length": 200000, "pricing": {"prompt": "-1", "completion": "-1"}},
        {"id": "brand/new-model", "context_length": 128000, "pricing": {"prompt": "0.000001", "completion": "0.000002"}},
        {"id": KIMI, "context_length": "big", "pricing": "n/a"},
    ]  # fmt: skip
    route = respx.get("https://openrouter.ai/api/v1/models").mock(
        return_value=httpx.Response(200, json={"data": listing})
    )
    async with OpenRouterGateway(
        GatewaySettings(), api_key="sk-or-test", transport=httpx.AsyncHTTPTransport()
    ) as gateway:
        result = await sync_registry(gateway, load_registry(), tmp_path / "o.yaml")
    assert route.called
    assert [(c.model, c.field, c.new) for c in result.changes] == [(MINI, "prompt_per_mtok", 0.3)]
    assert (result.fetched, result.matched, result.unknown_remote) == (5, 2, 1)
    respx.get("https://openrouter.ai/api/v1/models").mock(
        return_value=httpx.Response(200, json={"data": [{"name": "no id"}]})
    )
    async with OpenRouterGateway(
        GatewaySettings(), api_key="sk-or-test", transport=httpx.AsyncHTTPTransport()
    ) as gateway:
        with pytest.raises(MalformedResponseError):
            await sync_registry(gateway, load_registry(), tmp_path / "o.yaml")


@pytest.fixture
def runner(tmp_path, monkeypatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    return CliRunner()


def test_registry_cli_list_and_sync(runner, tmp_path):
    from llm_council.cli import app
    from llm_council.paths import default_overlay_path

    overlay = default_overlay_path()
    assert overlay.is_relative_to(tmp_path / "data")
    listed = runner.invoke(app, ["registry", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    payload = json.loads(listed.stdout)
    assert payload["overlay"] is None and not any(m["from_overlay"] for m in payload["models"])
    assert {m["id"]: m["pareto_band"] for m in payload["models"]}[MINI] == "medium"
    assert payload["meta_models"][0]["id"] == "openrouter/pareto-code"
    # The sandbox serves the registry's own prices: nothing to change, nothing written.
    synced = runner.invoke(app, ["registry", "sync", "--gateway", "sandbox", "--json"])
    assert synced.exit_code == 0, synced.output
    assert json.loads(synced.stdout)["changes"] == [] and not overlay.exists()
    text = runner.invoke(app, ["registry", "sync", "--dry-run"])
    assert text.exit_code == 0 and "no changes" in text.stdout
    assert "sandbox" in text.stderr
    overlay.parent.mkdir(parents=True, exist_ok=True)
    overlay.write_text(yaml.safe_dump({"models": {MINI: {"prompt_per_mtok": 0.2}}}))
    table = runner.invoke(app, ["registry", "list"])
    assert table.exit_code == 0 and f"{MINI} *" in table.stdout and "sync overlay" in table.stdout
    # Syncing from the sandbox now reports the overlay's price as a change back to 0.25.
    back = runner.invoke(app, ["registry", "sync", "--gateway", "sandbox"])
    assert back.exit_code == 0 and f"{MINI} prompt_per_mtok: 0.2 → 0.25" in back.stdout
    assert yaml.safe_load(overlay.read_text())["models"][MINI] == {"prompt_per_mtok": 0.25}
    no_key = runner.invoke(app, ["registry", "sync", "--gateway", "openrouter"])
    assert no_key.exit_code == 2 and "OPENROUTER_API_KEY" in no_key.output
    assert runner.invoke(app, ["registry", "sync", "--gateway", "elsewhere"]).exit_code == 2


# -- registry sync --from-store: the Pareto shortlist from what the router listed --------------


def observed_store(path, listed, sessions=3, start=0):
    """A store of balanced sessions (medium band) whose Pareto calls list ``listed``."""
    from tests.test_check_store import recent, store_with

    return store_with(path, recent(sessions, listed, start=start))


def test_from_store_rewrites_the_observed_band_in_the_overlay_only(tmp_path):
    from llm_council.audition.report_router import observe_shortlist
    from llm_council.registry_sync import sync_shortlist

    shipped = shipped_file("registry.yaml")
    before = shipped.read_bytes()
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"models": {MINI: {"prompt_per_mtok": 0.2}}}))
    store = observed_store(tmp_path / "a.db", [MINI, SONNET, KIMI, FLASH, NEW])
    observed = observe_shortlist(store, REGISTRY)
    dry = sync_shortlist(REGISTRY, observed, overlay, dry_run=True)
    assert dry.dry_run and not dry.written
    assert yaml.safe_load(overlay.read_text()) == {"models": {MINI: {"prompt_per_mtok": 0.2}}}
    done = sync_shortlist(REGISTRY, observed, overlay)
    assert done.written and done.calls == 6 and done.changes == dry.changes
    (medium,) = done.changes
    assert (medium.band, medium.calls, medium.added, medium.removed) == (
        "medium", 6, [FLASH], [GROK],
    )  # fmt: skip
    # Models that stay keep the snapshot's order; new ones follow, most listed first.
    assert medium.after == [MINI, SONNET, KIMI, FLASH]
    assert any(NEW in n and "registry does not know" in n for n in done.notes)
    written = yaml.safe_load(overlay.read_text())
    assert written == {
        "models": {MINI: {"prompt_per_mtok": 0.2}},  # the price sync's entry is kept
        "pareto": {"shortlist": {"medium": [MINI, SONNET, KIMI, FLASH]}},
    }
    assert shipped.read_bytes() == before
    # A price sync afterwards keeps the shortlist section too.
    from llm_council.registry_sync import write_overlay

    write_overlay(overlay, updates={KIMI: {"context_length": 300000}})
    assert yaml.safe_load(overlay.read_text())["pareto"] == written["pareto"]


def test_from_store_moves_a_model_between_bands_and_keeps_the_registry_valid(tmp_path):
    from llm_council.audition.report_router import observe_shortlist
    from llm_council.registry import Registry
    from llm_council.registry_sync import sync_shortlist

    # Calls asking for the medium band list DeepSeek V4 Flash, which the snapshot has in low.
    store = observed_store(tmp_path / "a.db", [MINI, SONNET, KIMI, GROK, DS_FLASH])
    result = sync_shortlist(REGISTRY, observe_shortlist(store, REGISTRY), tmp_path / "o.yaml")
    changes = {c.band: c for c in result.changes}
    assert changes["medium"].added == [DS_FLASH] and changes["medium"].removed == []
    # low had no observed call: it only gives up the model that moved.
    assert (changes["low"].calls, changes["low"].added, changes["low"].removed) == (0, [], [DS_FLASH])  # fmt: skip
    assert "high" not in changes
    bands = {**REGISTRY.pareto.shortlist, **{b: tuple(c.after) for b, c in changes.items()}}
    data = REGISTRY.data.model_copy(
        update={"pareto": REGISTRY.pareto.model_copy(update={"shortlist": bands})}
    )
    Registry(data, "<synced>")  # no model in two bands, every member known: it validates


def test_from_store_leaves_thin_bands_alone(tmp_path):
    from llm_council.audition.report_router import observe_shortlist
    from llm_council.registry_sync import MIN_CALLS_FOR_SHORTLIST, sync_shortlist

    store = observed_store(tmp_path / "a.db", [FLASH], sessions=2)  # 4 calls
    assert MIN_CALLS_FOR_SHORTLIST == 5
    result = sync_shortlist(REGISTRY, observe_shortlist(store, REGISTRY), tmp_path / "o.yaml")
    assert result.changes == [] and not result.written and not (tmp_path / "o.yaml").exists()
    assert result.notes == ["medium band left alone: 4 observed calls, fewer than 5"]
    only_unknown = observed_store(tmp_path / "b.db", [NEW])
    result = sync_shortlist(
        REGISTRY, observe_shortlist(only_unknown, REGISTRY), tmp_path / "o.yaml"
    )
    assert result.changes == []
    assert "medium band left alone: no observed model is in the registry" in result.notes


def test_load_registry_applies_the_overlay_shortlist(tmp_path):
    """``load_registry`` applies the overlay's ``pareto.shortlist``; a second sync then
    finds nothing to change."""
    from llm_council.audition.report_router import observe_shortlist
    from llm_council.registry_sync import sync_shortlist

    overlay = tmp_path / "o.yaml"
    store = observed_store(tmp_path / "a.db", [MINI, SONNET, KIMI, FLASH])
    observed = observe_shortlist(store, REGISTRY)
    assert sync_shortlist(REGISTRY, observed, overlay).written
    synced = load_registry(overlay=overlay)
    assert synced.pareto.shortlist["medium"] == (MINI, SONNET, KIMI, FLASH)
    assert synced.pareto.shortlist["low"] == REGISTRY.pareto.shortlist["low"]
    again = sync_shortlist(synced, observe_shortlist(store, synced), overlay)
    assert again.changes == [] and not again.written
    overlay.write_text(yaml.safe_dump({"pareto": {"shortlist": {"medium": [NEW]}}}))
    with pytest.raises(RegistryError, match="has no entry under models"):
        load_registry(overlay=overlay)
    overlay.write_text(yaml.safe_dump({"pareto": {"shortlist": {"huge": [MINI]}}}))
    with pytest.raises(RegistryError, match="unknown band"):
        load_registry(overlay=overlay)


def test_registry_cli_sync_from_store(runner, tmp_path, monkeypatch):
    from llm_council.cli import app
    from llm_council.paths import default_overlay_path

    overlay = default_overlay_path()
    observed_store(tmp_path / "a.db", [MINI, SONNET, KIMI, FLASH, "evil/\x1b[31m[bold]x"])
    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", f"sqlite:///{tmp_path / 'a.db'}")
    dry = runner.invoke(app, ["registry", "sync", "--from-store", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"medium band (6 observed calls): +{FLASH}; -{GROK}" in dry.stdout
    assert "dry run; would write" in dry.stdout and not overlay.exists()
    assert "\x1b" not in dry.stdout and "evil/\\x1b[31m[bold]x" in dry.stdout  # a note, inert
    done = runner.invoke(app, ["registry", "sync", "--from-store", "--json"])
    assert done.exit_code == 0, done.output
    payload = json.loads(done.stdout)
    assert payload["written"] and payload["changes"][0]["after"] == [MINI, SONNET, KIMI, FLASH]
    assert yaml.safe_load(overlay.read_text())["pareto"]["shortlist"]["medium"][-1] == FLASH
    none = runner.invoke(app, ["registry", "sync", "--from-store", "--since", "1h"])
    assert none.exit_code == 0 and "0 shortlist bands changed from 0 Pareto calls" in none.stdout
    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", "not a url")
    bad = runner.invoke(app, ["registry", "sync", "--from-store"])
    assert bad.exit_code == 2 and "invalid audition store URL" in bad.stderr


def test_registry_cli_output_is_terminal_safe(runner, tmp_path, monkeypatch):
    from llm_council.cli import app
    from llm_council.paths import default_overlay_path

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "d[bold]\x1b]0;pwned\x07"))
    overlay = default_overlay_path()
    overlay.parent.mkdir(parents=True, exist_ok=True)
    overlay.write_text(yaml.safe_dump({"models": {MINI: {"prompt_per_mtok": 0.2}}}))
    listed = runner.invoke(app, ["registry", "list"])
    assert listed.exit_code == 0, listed.output
    assert "\x1b" not in listed.stdout and "\x07" not in listed.stdout
    flat = "".join(listed.stdout.split())  # the long path may wrap
    assert "d[bold]\\x1b]0;pwned\\x07" in flat  # markup and controls shown, not obeyed
    back = runner.invoke(app, ["registry", "sync", "--gateway", "sandbox"])
    assert back.exit_code == 0 and "\x1b" not in back.stdout + back.stderr
    assert "d[bold]\\x1b]0;pwned\\x07" in "".join(back.stdout.split())
