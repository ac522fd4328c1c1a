"""Cost estimates: registry prices x expected tokens, the Pareto seat at its predicted band
model, refusals under a cap before any call, and ``check --cost``."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from llm_council.choices import TIERS
from llm_council.cli import app
from llm_council.council.estimate import (
    DEFAULT_SIZES,
    REFERENCE_PROMPT_TOKENS,
    CompletionSizes,
    check_cap,
    estimate_plan,
    estimate_session,
)
from llm_council.council.plan import plan_session
from llm_council.council.preflight import PreflightError, estimated_tokens
from llm_council.pareto import route
from llm_council.registry import load_registry
from llm_council.sandbox import SandboxOptions, create_app
from tests.conftest import serve_asgi
from tests.council_helpers import make_config, sandbox_council

PARETO = "openrouter/pareto-code"
SONNET = "anthropic/claude-sonnet-4.6"
GPT = "openai/gpt-5.4"
PROMPT = "Write a Python function that merges two sorted lists into one sorted list."
REGISTRY = load_registry()


def _plan(pool: list[str], tier: str = "balanced", **sections):
    return plan_session(make_config({tier: pool}, **sections), tier, "coding")


def test_every_call_is_priced_from_the_registry():
    plan = _plan([SONNET, GPT])
    est = estimate_session(plan, REGISTRY, PROMPT)
    assert est.label == "estimate" and est.complete
    stages = [(c.stage, c.seat_id) for c in est.calls]
    assert stages == [
        ("answer", "s1"),
        ("answer", "s2"),
        ("review", "s1"),
        ("review", "s2"),
        ("chairman", "chairman"),
    ]
    for call in est.calls:
        entry = REGISTRY.get(call.priced_model)
        assert call.cost_usd == pytest.approx(
            entry.cost_usd(call.prompt_tokens, call.completion_tokens)
        )
    assert est.cost_usd == pytest.approx(sum(c.cost_usd for c in est.calls))
    answer = est.calls[0]
    # The prompt plus the answering system text, at 4 bytes a token; the assumed answer size.
    assert answer.prompt_tokens > estimated_tokens(PROMPT)
    assert answer.completion_tokens == DEFAULT_SIZES.answer
    # A reviewer reads the other seat's answer; the chairman reads both.
    review, chairman = est.calls[2], est.calls[4]
    assert review.prompt_tokens >= estimated_tokens(PROMPT) + DEFAULT_SIZES.answer
    assert chairman.prompt_tokens >= estimated_tokens(PROMPT) + 2 * DEFAULT_SIZES.answer
    assert chairman.priced_model == plan.chairman
    assert "estimate" in est.describe()


@pytest.mark.parametrize(
    ("tier", "model"),
    [
        ("quick", PARETO),
        ("balanced", PARETO),
        ("balanced", PARETO + ":nitro"),
        ("high", PARETO),
        ("frontier", PARETO),
    ],
)
def test_the_pareto_seat_is_priced_at_its_predicted_band_model(tier, model):
    plan = _plan([SONNET, model], tier)
    seat = plan.seats[1]
    predicted = route(REGISTRY, seat.min_coding_score, seat.variant).primary
    est = estimate_session(plan, REGISTRY, PROMPT)
    pareto_calls = [c for c in est.calls if c.seat_id == "s2"]
    assert {c.priced_model for c in pareto_calls} == {predicted}
    assert all(c.requested_model == model for c in pareto_calls)
    assert pareto_calls[0].cost_usd == pytest.approx(
        REGISTRY.get(predicted).cost_usd(
            pareto_calls[0].prompt_tokens, pareto_calls[0].completion_tokens
        )
    )


def test_nitro_is_priced_at_the_fastest_member_not_the_cheapest():
    cheap = estimate_session(_plan([SONNET, PARETO]), REGISTRY, PROMPT)
    fast = estimate_session(_plan([SONNET, PARETO + ":nitro"]), REGISTRY, PROMPT)
    assert cheap.calls[1].priced_model == "openai/gpt-5.4-mini"
    assert fast.calls[1].priced_model == "x-ai/grok-4.3"
    assert fast.cost_usd != cheap.cost_usd


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=400), st.text(min_size=1, max_size=400))
def test_a_longer_prompt_never_costs_less(a, b):
    plan = _plan([SONNET, GPT, PARETO])
    short = estimate_session(plan, REGISTRY, a)
    longer = estimate_session(plan, REGISTRY, a + b)
    assert longer.cost_usd >= short.cost_usd > 0


def test_completion_sizes_are_the_assumption_that_moves_the_estimate():
    plan = _plan([SONNET, GPT])
    small = estimate_plan(
        plan, REGISTRY, 100, CompletionSizes(answer=100, review=50, synthesis=100)
    )
    large = estimate_plan(
        plan, REGISTRY, 100, CompletionSizes(answer=2000, review=800, synthesis=3000)
    )
    assert large.cost_usd > 5 * small.cost_usd


def test_an_unpriced_model_is_named_and_no_cap_can_be_held():
    plan = _plan([SONNET, "acme/unknown-coder"])
    est = estimate_session(plan, REGISTRY, PROMPT)
    assert est.unpriced == ["acme/unknown-coder"] and not est.complete
    assert "not counting unpriced acme/unknown-coder" in est.describe()
    with pytest.raises(PreflightError, match="no price for acme/unknown-coder"):
        check_cap(est, 100.0)


def test_check_cap_refuses_above_and_passes_below():
    est = estimate_session(_plan([SONNET, GPT, PARETO]), REGISTRY, PROMPT)
    check_cap(est, est.cost_usd * 1.01)
    with pytest.raises(PreflightError) as info:
        check_cap(est, est.cost_usd / 2)
    message = str(info.value)
    assert "(estimate)" in message and "nothing was called" in message
    assert "s3 as openai/gpt-5.4-mini" in message  # says how the Pareto seat was priced


async def test_the_estimate_is_above_what_a_sandbox_session_costs_and_of_its_order():
    """The sandbox bills registry prices for its synthetic answers, shorter than the assumed
    sizes: the estimate should be conservative but not wildly off."""
    for tier in ("quick", "balanced", "high"):
        council, _ = sandbox_council(make_config())
        try:
            result = await council.run(PROMPT, tier)
        finally:
            await council.aclose()
        est = estimate_session(council.plan(tier), REGISTRY, PROMPT)
        assert result.status == "ok"
        assert result.usage.cost_usd <= est.cost_usd <= 5 * result.usage.cost_usd, tier


async def test_council_run_refuses_over_the_cap_before_any_call():
    app_ = create_app(REGISTRY, SandboxOptions(latency_ms=0))
    council, _ = sandbox_council(make_config(), app=app_)
    try:
        with pytest.raises(PreflightError, match=r"above the cap of \$0.001"):
            await council.run(PROMPT, "balanced", max_usd=0.001)
        assert not app_.requests
        ok = await council.run(PROMPT, "balanced", max_usd=1.0)
    finally:
        await council.aclose()
    assert ok.status == "ok" and app_.requests


def test_cli_run_max_usd_refuses_with_exit_2_and_calls_nothing(tmp_path, monkeypatch):
    """``run --max-usd`` against the sandbox on a real socket: refused before any request."""
    sandbox = create_app(REGISTRY, SandboxOptions(latency_ms=0))
    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-test-maxusd-0123456789")
    monkeypatch.chdir(tmp_path)
    with serve_asgi(sandbox) as url:
        monkeypatch.setenv("OPENROUTER_BASE_URL", f"{url}/api/v1")
        runner = CliRunner()
        refused = runner.invoke(app, ["run", PROMPT, "--max-usd", "0.001", "--json"])
        assert refused.exit_code == 2, refused.output
        assert "estimate" in refused.stderr and "nothing was called" in refused.stderr
        assert refused.stdout == ""
        assert not sandbox.requests
        allowed = runner.invoke(app, ["run", PROMPT, "--max-usd", "5", "--json"])
    assert allowed.exit_code == 0, allowed.output
    assert json.loads(allowed.stdout)["status"] == "ok" and sandbox.requests


def test_check_cost_prints_an_estimate_per_tier(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    table = runner.invoke(app, ["check", "--cost"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "estimate" in table.stdout
    for tier in TIERS:
        assert tier in table.stdout
    assert "openai/gpt-5.4-mini" in table.stdout  # balanced's Pareto seat as predicted
    raw = runner.invoke(app, ["check", "--cost", "--json"])
    assert raw.exit_code == 0, raw.output
    payload = json.loads(raw.stdout)
    assert payload["label"] == "estimate" and payload["prompt_tokens"] == REFERENCE_PROMPT_TOKENS
    assert list(payload["tiers"]) == list(TIERS)
    balanced = payload["tiers"]["balanced"]["calls"]
    assert {c["priced_model"] for c in balanced if c["requested_model"] == PARETO} == {
        "openai/gpt-5.4-mini"
    }
    config = make_config()
    for tier, est in payload["tiers"].items():
        expected = estimate_plan(
            plan_session(config, tier, "coding"), REGISTRY, REFERENCE_PROMPT_TOKENS
        )
        assert est["label"] == "estimate"
        assert est["cost_usd"] == pytest.approx(expected.cost_usd)
    # Stronger tiers cost more.
    costs = {t: e["cost_usd"] for t, e in payload["tiers"].items()}
    assert costs["quick"] < costs["balanced"] < costs["high"]
