"""`check` predicts what the sandbox then resolves to; `registry sync` writes only the overlay."""

from __future__ import annotations

import json

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from llm_council.check import run_check
from llm_council.config import load_config
from llm_council.defaults import shipped_file
from llm_council.gateway.base import ChatMessage, CompletionRequest
from llm_council.gateway.openrouter import OpenRouterGateway
from llm_council.registry import load_registry
from llm_council.registry_sync import sync_registry
from llm_council.sandbox import SandboxOptions, create_app
from tests.council_helpers import make_config

REGISTRY = load_registry()


def sandbox_gateway(config, app):
    return OpenRouterGateway(
        config.gateway,
        api_key=None,
        kind="sandbox",
        transport=httpx.ASGITransport(app=app),
        base_url="http://sandbox/api/v1",
        tier_scores={t.value: s for t, s in config.pareto.tier_scores.items()},
    )


async def test_check_predicts_what_the_sandbox_resolves_for_every_default_tier():
    config = load_config(shipped_file("unified_config.yaml"), env={})
    result = run_check(config, REGISTRY)
    assert {p.tier for p in result.predictions} == {
        "quick",
        "balanced",
        "high",
        "reasoning",
        "frontier",
    }
    gateway = sandbox_gateway(config, create_app(REGISTRY, SandboxOptions(latency_ms=0)))
    for p in result.predictions:
        entry = config.pool(p.tier).models[int(p.seat_id[1:]) - 1]
        answer = await gateway.complete(
            CompletionRequest(
                model=entry.model,
                messages=(ChatMessage(role="user", content="Write a sort function."),),
                tier=p.tier,
                min_coding_score=entry.min_coding_score,
            )
        )
        assert answer.resolved_model == p.primary, p
    await gateway.aclose()
    assert result.findings == []  # the shipped pools avoid predictable duplicates


def test_check_warns_about_avoidable_duplicates_and_single_provider():
    config = make_config(
        {
            "balanced": ["openai/gpt-5.4-mini", "openai/gpt-5.4", "openrouter/pareto-code"],
            "quick": [
                "anthropic/claude-haiku-4.5",
                {"model": "openrouter/pareto-code:nitro", "min_coding_score": 0.1},
            ],
            "high": ["someone/unknown-model-2", "openrouter/pareto-code"],
        }
    )
    result = run_check(config, REGISTRY)
    messages = [f.message for f in result.findings]
    assert any(
        "balanced: s3" in m and "already seat s1" in m and "openai/gpt-5.4-mini" in m
        for m in messages
    )
    assert any("balanced: every seat is from openai" in m for m in messages)
    # :nitro in the low band is the fastest member, Claude Haiku 4.5, which s1 already is.
    nitro = next(p for p in result.predictions if p.tier == "quick")
    assert nitro.primary == "anthropic/claude-haiku-4.5" and nitro.band == "low"
    assert any("quick: s2" in m and "already seat s1" in m for m in messages)
    assert any("someone/unknown-model-2 is not in the registry" in m for m in messages)


def test_check_cli_exit_codes(tmp_path, monkeypatch):
    from llm_council.cli import app

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    clean = runner.invoke(app, ["check", "--json", "--strict"])
    assert clean.exit_code == 0, clean.output
    assert len(json.loads(clean.stdout)["predictions"]) == 5
    monkeypatch.setenv("LLM_COUNCIL_MODELS_BALANCED", "openai/gpt-5.4-mini,openrouter/pareto-code")
    assert runner.invoke(app, ["check"]).exit_code == 0
    assert runner.invoke(app, ["check", "--strict"]).exit_code == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("council: [\n")
    broken = runner.invoke(app, ["check", "--config", str(bad)])
    assert broken.exit_code == 2 and "YAML syntax error" in broken.output


async def test_sync_writes_changes_to_the_overlay_only(tmp_path):
    config = make_config()
    shipped = shipped_file("registry.yaml")
    before = shipped.read_bytes()
    cheaper = load_registry().with_overrides(
        {"openai/gpt-5.4-mini": {"prompt_per_mtok": 0.2, "context_length": 500000}}
    )
    app = create_app(cheaper, SandboxOptions(latency_ms=0))
    overlay = tmp_path / "overlay.yaml"
    gateway = sandbox_gateway(config, app)
    result = await sync_registry(gateway, REGISTRY, overlay)
    changed = {(c.model, c.field, c.old, c.new) for c in result.changes}
    assert changed == {
        ("openai/gpt-5.4-mini", "prompt_per_mtok", 0.25, 0.2),
        ("openai/gpt-5.4-mini", "context_length", 400000, 500000),
    }
    assert result.written and yaml.safe_load(overlay.read_text())["models"][
        "openai/gpt-5.4-mini"
    ] == {
        "prompt_per_mtok": 0.2,
        "context_length": 500000,
    }
    assert shipped.read_bytes() == before
    refreshed = load_registry(overlay=overlay)
    assert refreshed.get("openai/gpt-5.4-mini").prompt_per_mtok == 0.2
    again = await sync_registry(gateway, refreshed, overlay)
    assert again.changes == [] and not again.written
    dry = await sync_registry(gateway, REGISTRY, tmp_path / "dry.yaml", dry_run=True)
    assert dry.changes and not (tmp_path / "dry.yaml").exists()
    await gateway.aclose()


@pytest.mark.parametrize("args", [["registry", "list"], ["registry", "list", "--json"]])
def test_registry_list(args):
    from llm_council.cli import app

    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0 and "deepseek" in out.stdout and "pareto-code" in out.stdout
