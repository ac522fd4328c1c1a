"""Before the first paid call: unknown model ids are warned about (refused under --strict),
and a prompt that cannot fit a seat's context window is refused with the numbers."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from llm_council.api import Council
from llm_council.config import GatewaySettings
from llm_council.council.preflight import BYTES_PER_TOKEN, PreflightError, estimated_tokens
from llm_council.gateway.openrouter import OpenRouterGateway
from llm_council.pareto import band_for_score
from llm_council.registry import load_registry
from tests.conftest import serve_asgi
from tests.council_helpers import make_config, sandbox_council
from tests.scripted_openrouter import Reply, ScriptedServer, completion

PARETO = "openrouter/pareto-code"
POOL = ["anthropic/claude-sonnet-4.6", "openai/gpt-5.4", PARETO]


async def test_unknown_chairman_is_a_warning_and_the_session_runs():
    council, app = sandbox_council(make_config({"balanced": POOL}))
    result = await council.run("Write fizzbuzz.", "balanced", chairman="nobody/no-such-model")
    await council.aclose()
    assert any("chairman: 'nobody/no-such-model' is in neither" in n for n in result.notices)
    assert app.requests  # it ran


async def test_strict_refuses_an_unknown_chairman_before_any_call():
    council, app = sandbox_council(make_config({"balanced": POOL}))
    with pytest.raises(PreflightError, match="nobody/no-such-model"):
        await council.run(
            "Write fizzbuzz.", "balanced", chairman="nobody/no-such-model", strict=True
        )
    await council.aclose()
    assert not app.requests  # nothing was paid for


async def test_unknown_seat_model_is_named_with_its_seat():
    council, app = sandbox_council(make_config({"balanced": ["acme/coder-9", *POOL]}))
    with pytest.raises(PreflightError, match=r"s1: 'acme/coder-9'"):
        await council.run("Write fizzbuzz.", "balanced", strict=True)
    await council.aclose()
    assert not app.requests


async def test_a_prompt_larger_than_the_smallest_window_is_refused_with_numbers():
    registry = load_registry()
    band = registry.band_members(band_for_score(registry, 0.5))
    smallest = min([*band, *(registry.get(m) for m in POOL[:2])], key=lambda m: m.context_length)
    prompt = "x" * (smallest.context_length * BYTES_PER_TOKEN + BYTES_PER_TOKEN)
    council, app = sandbox_council(make_config({"balanced": POOL}))
    with pytest.raises(PreflightError) as caught:
        await council.run(prompt, "balanced")
    await council.aclose()
    message = str(caught.value)
    assert f"{estimated_tokens(prompt):,} tokens" in message
    assert f"{smallest.context_length:,}-token context window" in message
    assert smallest.id in message and "nothing was called" in message
    assert not app.requests


async def test_a_prompt_that_fits_is_not_refused():
    council, _ = sandbox_council(make_config({"balanced": POOL}))
    result = await council.run("y" * 40_000, "balanced")
    await council.aclose()
    assert result.status == "ok"


@pytest.mark.parametrize(
    ("listed", "warned"),
    [(["acme/coder-9", "anthropic/claude-opus-4.7"], False), (["someone/else"], True)],
)
async def test_with_a_key_the_gateways_model_list_settles_unknown_ids(listed, warned):
    """OpenRouter docs, "List available models" (GET /api/v1/models -> {"data": [{"id": ...}]}):
    a model missing from our registry but listed by the gateway is real."""
    server = ScriptedServer(
        Reply(body={"data": [{"id": m} for m in listed]}),
        Reply(body=completion("acme/coder-9", "def f(): pass", cost=0.0001)),
    )
    config = make_config({"balanced": ["acme/coder-9", "openai/gpt-5.4"]})
    with serve_asgi(server) as url:
        gateway = OpenRouterGateway(
            GatewaySettings(max_attempts=1), api_key="sk-or-test-key", base_url=f"{url}/api/v1"
        )
        council = Council(config, load_registry(), gateway)
        result = await council.run("Write fizzbuzz.", "balanced")
        await council.aclose()
    assert server.log[0]["path"] == "/api/v1/models"
    notes = [n for n in result.notices if "acme/coder-9" in n and "in neither" in n]
    assert bool(notes) is warned


def test_cli_strict_exits_2_and_names_the_model(tmp_path, monkeypatch):
    from llm_council.cli import app

    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    refused = runner.invoke(
        app, ["run", "Write fizzbuzz.", "--chairman", "nobody/[x]model", "--strict"]
    )
    assert refused.exit_code == 2
    assert "refused under --strict before any call" in refused.stderr
    assert "nobody/[x]model" in refused.stderr
    warned = runner.invoke(app, ["run", "Write fizzbuzz.", "--chairman", "nobody/m", "--json"])
    assert warned.exit_code == 0, warned.output
    notices = json.loads(warned.stdout)["notices"]
    assert any("chairman: 'nobody/m' is in neither" in n for n in notices)
