"""Council sessions end to end on the sandbox: the real adapter, real HTTP (in-process or socket)."""

from __future__ import annotations

import json
import time

import pytest

from llm_council.council.result import SessionResult
from llm_council.sandbox import Fault
from tests.council_helpers import make_config, requests_for, sandbox_council

PARETO = "openrouter/pareto-code"
PROMPT = "Write a Python function that merges two sorted lists."


def _review_bodies(app, model):
    return [b for b in requests_for(app, model) if "<candidate" in b["messages"][-1]["content"]]


@pytest.mark.parametrize("transport", ["in-process", "socket"])
async def test_balanced_session_with_a_pareto_seat(transport, asgi_server):
    config = make_config({"balanced": ["anthropic/claude-sonnet-4.6", "openai/gpt-5.4", PARETO]})
    if transport == "socket":
        from llm_council.registry import load_registry
        from llm_council.sandbox import SandboxOptions, create_app

        app = create_app(load_registry(), SandboxOptions(latency_ms=0))
        with asgi_server(app) as url:
            council, app = sandbox_council(config, base_url=f"{url}/api/v1", app=app)
            result = await council.run(PROMPT, "balanced")
            await council.aclose()
    else:
        council, app = sandbox_council(config)
        result = await council.run(PROMPT, "balanced")
        await council.aclose()

    assert result.status == "ok" and result.gateway == "sandbox"
    pareto = result.seat("s3")
    assert pareto.requested_model == PARETO and pareto.min_coding_score == 0.5
    pareto_bodies = requests_for(app, PARETO)
    assert len(pareto_bodies) == 2  # answer + review
    for body in pareto_bodies:
        assert body["plugins"] == [{"id": "pareto-router", "min_coding_score": 0.5}]
        assert body["session_id"] == f"{result.session_id}:s3"
    answer_call = next(c for c in result.calls if c.seat_id == "s3" and c.stage == "answer")
    assert pareto.resolved_model == answer_call.resolved_model == "openai/gpt-5.4-mini"
    for model in ("anthropic/claude-sonnet-4.6", "openai/gpt-5.4"):
        assert all("plugins" not in b for b in requests_for(app, model))
    assert sorted(s.label for s in result.seats) == ["Response A", "Response B", "Response C"]
    # Order and scores are recomputed from the reviews in test_session_rules.py; here the
    # ranking must cover every seat and agree with what each seat carries.
    assert sorted(e.seat_id for e in result.ranking) == ["s1", "s2", "s3"]
    assert all(
        (result.seat(e.seat_id).borda, result.seat(e.seat_id).votes) == (e.borda, e.votes)
        for e in result.ranking
    )
    assert result.synthesis and not result.synthesis_is_fallback
    assert result.chairman.status == "ok" and result.chairman.resolved_model
    assert result.usage.prompt_tokens > 0 and result.usage.cost_usd > 0
    dumped = result.model_dump(mode="json")
    assert set(dumped) >= {
        "session_id", "created_at", "tier", "mode", "status", "gateway", "prompt", "seats",
        "ranking", "reviews", "chairman", "synthesis", "synthesis_is_fallback", "usage",
    }  # fmt: skip
    assert "calls" not in dumped
    assert dumped["created_at"].endswith("Z")
    seat = dumped["seats"][2]
    assert set(seat) >= {
        "seat_id", "requested_model", "variant", "min_coding_score", "resolved_model", "status",
        "error", "latency_ms", "cost_usd", "label", "borda", "votes", "duplicate_of",
        "duplicate_kind", "flags",
    }  # fmt: skip
    assert SessionResult.model_validate(dumped).seat("s3").resolved_model == "openai/gpt-5.4-mini"


async def test_pareto_seat_on_a_seated_model_keeps_its_own_identity():
    pool = ["openai/gpt-5.4-mini", "anthropic/claude-sonnet-4.6", "x-ai/grok-4.3", PARETO]
    council, app = sandbox_council(make_config({"balanced": pool}))
    result = await council.run(PROMPT, "balanced")
    s1, s4 = result.seat("s1"), result.seat("s4")
    assert s1.resolved_model == s4.resolved_model == "openai/gpt-5.4-mini"
    assert s1.answer and s4.answer and s1.label != s4.label
    assert s1.votes > 0 and s4.votes > 0 and s1.borda is not None and s4.borda is not None
    assert {e.seat_id for e in result.ranking} == {"s1", "s2", "s3", "s4"}
    assert s1.duplicate_of == ["s4"] and s4.duplicate_of == ["s1"]
    assert s1.duplicate_kind == s4.duplicate_kind == "exact"
    assert [f.model_dump() for f in s1.flags] == [{"kind": "exact", "with": "s4"}]
    assert s1.flags[0].model == "openai/gpt-5.4-mini"
    reviews = {r.reviewer_seat: r for r in result.reviews}
    # Self-votes by concrete model: s1 and s4 are the same model and never rank each other.
    assert "s4" not in reviews["s1"].ranking and "s1" not in reviews["s4"].ranking
    assert set(reviews["s1"].ranking) == {"s2", "s3"} and set(reviews["s4"].ranking) == {"s2", "s3"}
    for body in _review_bodies(app, "openai/gpt-5.4-mini") + _review_bodies(app, PARETO):
        text = body["messages"][-1]["content"]
        assert text.count('<candidate label="') == 2
    assert s1.votes == 2 and s4.votes == 2  # from s2 and s3 only
    await council.aclose()


async def test_one_seat_rate_limited_past_its_retries_is_partial():
    pool = ["anthropic/claude-sonnet-4.6", "openai/gpt-5.4", "x-ai/grok-4.3", PARETO]
    council, app = sandbox_council(make_config({"balanced": pool}))
    app.set_fault("anthropic/claude-sonnet-4.6", Fault(kind="status", status=429, retry_after=0))
    result = await council.run(PROMPT, "balanced")
    s1 = result.seat("s1")
    assert s1.status == "rate_limited" and "429" in (s1.error or "") and s1.attempts == 2
    assert result.status == "partial"
    assert any("s1" in n and "rate_limited" in n for n in result.notices)
    assert all(s.status == "ok" for s in result.seats if s.seat_id != "s1")
    assert {e.seat_id for e in result.ranking} == {"s2", "s3", "s4"}
    assert result.synthesis and not result.synthesis_is_fallback
    await council.aclose()


async def test_chairman_failure_returns_a_labelled_fallback():
    council, app = sandbox_council(make_config())
    app.set_fault(council.config.council.chairman, Fault(kind="status", status=502))
    result = await council.run(PROMPT, "balanced")
    assert result.status == "partial"
    assert result.chairman.status == "error" and "502" in (result.chairman.error or "")
    assert result.synthesis_is_fallback
    top = result.seat(result.ranking[0].seat_id)
    assert result.synthesis.startswith("> **Fallback, not a synthesis.**")
    assert top.answer in result.synthesis and top.label in result.synthesis
    await council.aclose()


async def test_all_seats_failing_is_failed_and_skips_review_and_chairman():
    council, app = sandbox_council(make_config())
    for model in ("anthropic/claude-sonnet-4.6", "openai/gpt-5.4", PARETO):
        app.set_fault(model, Fault(kind="status", status=402))
    result = await council.run(PROMPT, "balanced")
    assert result.status == "failed"
    assert {s.status for s in result.seats} == {"payment_required"}
    assert result.reviews == [] and result.ranking == [] and result.synthesis is None
    assert result.chairman.status == "error" and "no seat answered" in result.chairman.error
    assert not requests_for(app, council.config.council.chairman)
    await council.aclose()


async def test_hanging_seat_is_cut_at_its_deadline_while_the_others_finish():
    config = make_config(tiers={"pools": {"balanced": {"session_timeout_s": 1.0}}})
    council, app = sandbox_council(config)
    app.set_fault("openai/gpt-5.4", Fault(kind="hang"))
    t0 = time.perf_counter()
    result = await council.run(PROMPT, "balanced")
    elapsed = time.perf_counter() - t0
    assert result.seat("s2").status == "timeout"
    assert result.seat("s1").status == "ok" and result.seat("s3").status == "ok"
    assert result.status == "partial" and result.synthesis
    assert elapsed < 1.5, elapsed
    await council.aclose()


async def test_general_mode_leaves_pareto_seats_out_visibly():
    council, app = sandbox_council(make_config())
    result = await council.run("Explain the CAP theorem.", "balanced", "general")
    assert [s.requested_model for s in result.seats] == [
        "anthropic/claude-sonnet-4.6",
        "openai/gpt-5.4",
    ]
    assert any("coding-only" in n for n in result.notices)
    assert not requests_for(app, PARETO)
    await council.aclose()


async def test_collapse_counts_a_duplicate_pair_as_one_voice():
    pool = ["openai/gpt-5.4-mini", "anthropic/claude-sonnet-4.6", "x-ai/grok-4.3", PARETO]
    council, _ = sandbox_council(make_config({"balanced": pool}))
    result = await council.run(PROMPT, "balanced", duplicate_policy="collapse")
    s1, s4 = result.seat("s1"), result.seat("s4")
    assert {e.seat_id for e in result.ranking} == {"s1", "s2", "s3"}
    assert s4.answer and s4.label == s1.label and s4.borda == s1.borda and s4.votes == s1.votes
    assert sorted(r.reviewer_seat for r in result.reviews) == ["s1", "s2", "s3"]
    assert result.duplicate_policy == "collapse"
    assert any("collapse" in n for n in result.notices)
    await council.aclose()


async def test_reroute_calls_an_unseated_band_member_by_name():
    """OpenRouter docs, "Model Fallbacks": ``models`` is tried only after ``model`` fails, so
    a reroute must name the concrete model in ``model``; the router is not asked again."""
    pool = ["openai/gpt-5.4-mini", "anthropic/claude-sonnet-4.6", "x-ai/grok-4.3", PARETO]
    council, app = sandbox_council(make_config({"balanced": pool}))
    result = await council.run(PROMPT, "balanced", duplicate_policy="reroute")
    s4 = result.seat("s4")
    assert s4.requested_model == PARETO  # the seat keeps its identity
    assert s4.rerouted_from == "openai/gpt-5.4-mini"
    assert s4.resolved_model == "moonshotai/kimi-k2.6"  # next cheapest medium member, unseated
    assert s4.answered_via == "direct"
    assert s4.duplicate_kind is None and not [f for f in s4.flags if f.kind == "exact"]
    reroute = [c for c in result.calls if c.stage == "reroute"]
    assert len(reroute) == 1
    assert reroute[0].requested_model == reroute[0].resolved_model == "moonshotai/kimi-k2.6"
    # Stage 1 and 2 of the rerouted seat: one router call (its first answer), then by name.
    s4_bodies = [b for b in app.requests if b.get("session_id", "").endswith(":s4")]
    assert [b["model"] for b in s4_bodies] == [PARETO]
    direct = requests_for(app, "moonshotai/kimi-k2.6")
    assert len(direct) == 2  # the rerouted answer and the seat's review
    assert all("plugins" not in b and "models" not in b and "session_id" not in b for b in direct)
    review = next(r for r in result.reviews if r.reviewer_seat == "s4")
    assert review.resolved_model == "moonshotai/kimi-k2.6"
    review_call = next(c for c in result.calls if c.seat_id == "s4" and c.stage == "review")
    assert review_call.requested_model == "moonshotai/kimi-k2.6"
    assert not [f for f in s4.flags if f.kind == "drift"]
    await council.aclose()


async def test_reroute_moves_only_as_many_seats_as_the_duplicate_needs():
    """Two Pareto seats on one model: rerouting the first ends the duplicate; the second
    keeps its answer (a second paid call would buy nothing)."""
    pool = ["anthropic/claude-sonnet-4.6", "x-ai/grok-4.3", PARETO, PARETO]
    council, _ = sandbox_council(make_config({"balanced": pool}))
    result = await council.run(PROMPT, "balanced", duplicate_policy="reroute")
    s3, s4 = result.seat("s3"), result.seat("s4")
    reroutes = [c for c in result.calls if c.stage == "reroute"]
    assert len(reroutes) == 1 and reroutes[0].seat_id == "s3"
    assert s3.rerouted_from == s4.resolved_model and s3.resolved_model != s4.resolved_model
    assert s4.answered_via == "router" and s4.rerouted_from is None
    assert not [f for s in result.seats for f in s.flags if f.kind == "exact"]
    await council.aclose()


async def test_drift_is_flagged_when_the_review_lands_on_another_model():
    council, app = sandbox_council(make_config())

    class KnockOutAfterAnswer:
        def stage_started(self, stage, calls):
            pass

        def call_finished(self, stage, seat_id, status, resolved_model, latency_ms):
            if stage == "answer" and seat_id == "s3" and resolved_model:
                app.set_fault(resolved_model, Fault(kind="unavailable"))

    result = await council.run(PROMPT, "balanced", progress=KnockOutAfterAnswer())
    s3 = result.seat("s3")
    drift = [f for f in s3.flags if f.kind == "drift"]
    assert drift and drift[0].stage2_model not in (None, s3.resolved_model)
    assert drift[0].model_dump() == {"kind": "drift", "stage2_model": drift[0].stage2_model}
    review = next(r for r in result.reviews if r.reviewer_seat == "s3")
    assert review.resolved_model == drift[0].stage2_model
    await council.aclose()


def test_cli_run_json_on_the_sandbox_without_a_key(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from llm_council.cli import app

    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["run", PROMPT, "--json", "--tier", "quick"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["gateway"] == "sandbox" and payload["tier"] == "quick"
    assert payload["seats"][-1]["resolved_model"] == "deepseek/deepseek-v4-flash"
    assert payload["seats"][-1]["min_coding_score"] == 0.2
    assert "gateway: sandbox (simulated OpenRouter, no OPENROUTER_API_KEY set)" in result.stderr
    assert (tmp_path / "a.db").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", PROMPT, "--gateway", "openrouter"], "OPENROUTER_API_KEY"),
        (["run", "   "], "empty"),
        (["run", PROMPT, "--tier", "huge"], "huge"),
        (["run", PROMPT, "--config", "/nonexistent/x.yaml"], "not found"),
    ],
)
def test_cli_bad_input_exits_2(args, needle, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from llm_council.cli import app

    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", f"sqlite:///{tmp_path / 'a.db'}")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert needle in result.output


def test_python_api_run_sync(tmp_path, monkeypatch):
    from llm_council import Council

    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    council = Council.from_config(gateway="sandbox", audition=False)
    try:
        first = council.run_sync(PROMPT, tier="high")
        second = council.run_sync(PROMPT, tier="high")
    finally:
        council.close()
    assert first.status == second.status == "ok"
    assert first.session_id != second.session_id
    assert first.seat("s3").resolved_model == "deepseek/deepseek-v4-pro"
