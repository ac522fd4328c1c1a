"""``llm-council check``: predictions match what the sandbox resolves; warnings and exit codes."""

from __future__ import annotations

import json

import httpx
import pytest
from typer.testing import CliRunner

from llm_council.check import run_check
from llm_council.choices import TIERS
from llm_council.config import load_config
from llm_council.defaults import shipped_file
from llm_council.gateway.base import ChatMessage, CompletionRequest
from llm_council.gateway.openrouter import OpenRouterGateway
from llm_council.registry import load_registry
from llm_council.sandbox import SandboxOptions, create_app
from tests.council_helpers import make_config

REGISTRY = load_registry()


def sandbox_gateway(config, registry=REGISTRY) -> OpenRouterGateway:
    app = create_app(registry, SandboxOptions(latency_ms=0))
    return OpenRouterGateway(
        config.gateway,
        api_key=None,
        kind="sandbox",
        transport=httpx.ASGITransport(app=app),
        base_url="http://sandbox.test/api/v1",
        tier_scores={t.value: s for t, s in config.pareto.tier_scores.items()},
    )


async def resolve_each_prediction(config, result) -> list[tuple[str, str | None, str | None]]:
    """Send one Pareto request per predicted seat through the adapter; (tier, predicted, got)."""
    gateway = sandbox_gateway(config)
    out = []
    try:
        for p in result.predictions:
            entry = config.pool(p.tier).models[int(p.seat_id[1:]) - 1]
            answer = await gateway.complete(
                CompletionRequest(
                    model=entry.model,
                    messages=(ChatMessage(role="user", content="Write a binary search in Go."),),
                    tier=p.tier,
                    min_coding_score=entry.min_coding_score,
                )
            )
            out.append((p.tier, p.primary, answer.resolved_model))
    finally:
        await gateway.aclose()
    return out


async def test_check_predicts_what_the_sandbox_resolves_for_every_default_tier():
    config = load_config(shipped_file("unified_config.yaml"), env={})
    result = run_check(config, REGISTRY)
    assert [p.tier for p in result.predictions] == list(TIERS)  # one Pareto seat per pool
    resolved = await resolve_each_prediction(config, result)
    assert all(predicted == got for _tier, predicted, got in resolved), resolved
    # And the figures, from the shortlist snapshot (cheapest by 3:1 blended price):
    by_tier = {p.tier: p for p in result.predictions}
    assert (by_tier["quick"].band, by_tier["quick"].primary) == (
        "low",
        "deepseek/deepseek-v4-flash",
    )
    assert (by_tier["balanced"].band, by_tier["balanced"].primary) == (
        "medium",
        "openai/gpt-5.4-mini",
    )
    assert by_tier["frontier"].min_coding_score is None and by_tier["frontier"].band == "high"
    assert by_tier["balanced"].fallbacks == ["moonshotai/kimi-k2.6", "x-ai/grok-4.3"]
    assert by_tier["balanced"].nitro == "x-ai/grok-4.3"  # highest throughput in the band
    assert result.findings == []  # the shipped pools avoid predictable duplicates


async def test_overrides_and_variants_are_predicted_like_the_sandbox_routes_them():
    config = make_config(
        {
            "balanced": [
                "anthropic/claude-sonnet-4.6",
                {"model": "openrouter/pareto-code", "min_coding_score": 0.9},  # -> high band
                "openrouter/pareto-code:nitro",  # medium band, fastest member
            ],
        },
        pareto={"tier_scores": {"quick": 0.1}},
    )
    result = run_check(config, REGISTRY)
    got = {(p.tier, p.seat_id): p for p in result.predictions}
    assert (
        got[("balanced", "s2")].band == "high" and got[("balanced", "s2")].min_coding_score == 0.9
    )
    assert got[("balanced", "s3")].primary == "x-ai/grok-4.3"
    assert got[("quick", "s3")].min_coding_score == 0.1
    resolved = await resolve_each_prediction(config, result)
    assert all(predicted == got for _tier, predicted, got in resolved), resolved


def test_warnings_for_duplicates_family_single_provider_and_unknown_ids():
    config = make_config(
        {
            # medium band -> gpt-5.4-mini, already s1; every seat is OpenAI's.
            "balanced": ["openai/gpt-5.4-mini", "openai/gpt-5.4", "openrouter/pareto-code"],
            # low band :nitro -> the fastest, Claude Haiku 4.5, already s1.
            "quick": [
                "anthropic/claude-haiku-4.5",
                {"model": "openrouter/pareto-code:nitro", "min_coding_score": 0.1},
            ],
            # high band -> DeepSeek V4 Pro; an unknown id; a same-family named seat.
            "high": ["someone/unknown-model-2", "deepseek/deepseek-v4-pro-exp", "openrouter/pareto-code"],
            # two Pareto seats with the same score resolve to the same model; a bad variant.
            "reasoning": ["openai/gpt-5.5", "openrouter/pareto-code", "openrouter/pareto-code", "openrouter/pareto-code:floor"],
        },
        council={"chairman": "nobody/unknown-chair"},
    )  # fmt: skip
    result = run_check(config, REGISTRY)
    messages = [f.message for f in result.findings]
    assert all(f.level == "warning" for f in result.findings) and result.errors == []

    def has(*parts: str) -> bool:
        return any(all(p in m for p in parts) for m in messages)

    assert has("balanced: s3", "openai/gpt-5.4-mini", "already seat s1", "exact duplicate")
    assert has("balanced: every seat is from openai")
    assert has("quick: s2", "anthropic/claude-haiku-4.5", "already seat s1")
    assert has("high: someone/unknown-model-2 is not in the registry")
    assert has("high: s3", "deepseek/deepseek-v4-pro", "same family as seat s2")
    assert has("reasoning: s3", "like Pareto seat s2")
    assert has("reasoning: s4 (openrouter/pareto-code:floor) is not a Pareto Router variant")
    assert has("chairman nobody/unknown-chair is not in the registry")
    pools = {p.tier: p for p in result.pools}
    assert pools["balanced"].providers == ["openai"] and pools["balanced"].provider_entropy == 0.0
    # quick: anthropic, anthropic (predicted) -> one provider as well.
    assert pools["quick"].predicted_models == ["anthropic/claude-haiku-4.5"] * 2


def test_a_pareto_seat_with_nothing_to_route_to_is_an_error():
    data = REGISTRY.data
    empty = data.pareto.model_copy(update={"shortlist": {"high": (), "medium": (), "low": ()}})
    registry = type(REGISTRY)(data.model_copy(update={"pareto": empty}), "<no shortlist>")
    result = run_check(load_config(shipped_file("unified_config.yaml"), env={}), registry)
    assert len(result.errors) == 5 and all(p.primary is None for p in result.predictions)
    assert "has no model in any shortlist band" in result.errors[0].message


@pytest.fixture
def runner(tmp_path, monkeypatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)  # no ./unified_config.yaml: the shipped one
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # no user overlay
    monkeypatch.setenv("COLUMNS", "200")  # rich: wide enough that model ids are not folded
    for name in (
        "LLM_COUNCIL_CONFIG",
        "LLM_COUNCIL_MODELS_BALANCED",
        "OPENROUTER_API_KEY",
        "LLM_COUNCIL_AUDITION_URL",  # the default store in the empty data dir: none yet
    ):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def test_check_cli_exit_codes(runner, tmp_path, monkeypatch):
    from llm_council.cli import app

    clean = runner.invoke(app, ["check", "--json", "--strict"])
    assert clean.exit_code == 0, clean.output
    payload = json.loads(clean.stdout)
    assert len(payload["predictions"]) == 5 and payload["findings"] == []
    table = runner.invoke(app, ["check"])
    assert table.exit_code == 0 and "openai/gpt-5.4-mini" in table.stdout
    assert "no warnings" in table.stdout
    monkeypatch.setenv("LLM_COUNCIL_MODELS_BALANCED", "openai/gpt-5.4-mini,openrouter/pareto-code")
    warned = runner.invoke(app, ["check"])
    assert warned.exit_code == 0 and "already seat s1" in warned.stdout
    assert runner.invoke(app, ["check", "--strict"]).exit_code == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("council: [\n")
    broken = runner.invoke(app, ["check", "--config", str(bad)])
    assert broken.exit_code == 2 and "YAML syntax error" in broken.output
    overlay = tmp_path / "data" / "llm-council" / "registry_overlay.yaml"
    overlay.parent.mkdir(parents=True)
    overlay.write_text("models:\n  openai/gpt-5.4-mini: {prompt_per_mtok: -3}\n")
    bad_registry = runner.invoke(app, ["check"])
    assert bad_registry.exit_code == 2 and "registry overlay error" in bad_registry.output
