"""The eval report: statistics, strategies, the JSON contract, rendering, and the harness
against a server whose every answer is the same unrelated function.

Sessions here are graded for real (isolated subprocesses); only the SessionResults of the
strategy test are built by hand, so every expected number can be worked out on paper.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime

import pytest
from rich.console import Console

from llm_council.api import Council
from llm_council.config import GatewaySettings
from llm_council.council.result import (
    CallRecord,
    ChairmanResult,
    RankingEntry,
    SeatResult,
    SessionResult,
    UsageTotals,
)
from llm_council.evaluation.grade import COUNCIL, answer_cost, grade_session, ranking_cost
from llm_council.evaluation.render import render_html, render_markdown, render_table
from llm_council.evaluation.report import EvalReport, build_eval_report
from llm_council.evaluation.score import auc, cost_per_solved, pass_rate, wilson_ci95
from llm_council.evaluation.tasks import load_tasks
from llm_council.gateway.openrouter import OpenRouterGateway
from llm_council.registry import load_registry
from tests.conftest import serve_asgi
from tests.council_helpers import make_config
from tests.scripted_openrouter import Reply, ScriptedServer, completion

PARETO = "openrouter/pareto-code"
TASKS = load_tasks()[:4]

# DESIGN.md, "Contract: llm-council eval --format json": every key must be there.
CONTRACT_TOP = {
    "tasks", "tier", "gateway", "sessions", "council", "borda_winner", "best_single_seat",
    "seats", "borda_predicts_pass", "synthesis_worse_than_best_answer", "results",
}  # fmt: skip
CONTRACT_COUNCIL = {"passed", "pass_rate", "ci95", "cost_usd", "cost_per_solved_usd"}
CONTRACT_SEAT = {
    "seat_id", "requested_model", "resolved_models", "passed", "pass_rate", "ci95", "cost_usd",
    "cost_per_solved_usd",
}  # fmt: skip


# ---------------------------------------------------------------- statistics


def test_auc_is_mann_whitney():
    assert auc([0.9, 0.8, 0.2, 0.1], [True, True, False, False]) == 1.0
    assert auc([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 0.0
    assert auc([0.5, 0.5], [True, False]) == 0.5  # a tie counts half
    # 3 positives, 2 negatives: of 6 pairs, 0.3 beats 0.2 and each 0.6 beats 0.2 and ties 0.6.
    assert auc([0.3, 0.6, 0.6, 0.2, 0.6], [True, True, True, False, False]) == round(4 / 6, 4)
    assert auc([0.4, 0.9], [True, True]) is None and auc([], []) is None
    with pytest.raises(ValueError, match="2 scores but 1 labels"):
        auc([0.1, 0.2], [True])


def test_rates_intervals_and_cost_per_solved():
    assert pass_rate(31, 40) == 0.775 and pass_rate(0, 0) is None
    lo, hi = wilson_ci95(31, 40)
    assert 0.62 < lo < 0.64 and 0.87 < hi < 0.89  # the DESIGN example: [0.63, 0.88]
    assert cost_per_solved(0.71, 31) == round(0.71 / 31, 6) and cost_per_solved(0.5, 0) is None


# ---------------------------------------------------------------- strategies on known sessions


def _seat(seat_id, model, answer, *, resolved=None, borda=None, cost=0.0, status="ok"):
    return SeatResult(
        seat_id=seat_id,
        requested_model=model,
        resolved_model=resolved or (model if status == "ok" and model != PARETO else None),
        status=status,
        answer=answer,
        borda=borda,
        cost_usd=cost,
    )


def _session(i, seats, ranking, synthesis, chairman_status="ok"):
    return SessionResult(
        session_id=f"sess-{i}",
        created_at=datetime(2026, 11, 24, tzinfo=UTC),
        tier="balanced",
        mode="coding",
        status="ok",
        gateway="sandbox",
        prompt=TASKS[i].prompt,
        seats=seats,
        ranking=[RankingEntry(seat_id=s, borda=b, votes=2) for s, b in ranking],
        chairman=ChairmanResult(
            requested_model="anthropic/claude-opus-4.7", status=chairman_status
        ),
        synthesis=synthesis,
        usage=UsageTotals(cost_usd=0.05),
    )


def _md(code):
    return f"Here you go:\n\n```python\n{code}```\n"


def _scenario():
    """Four sessions; R = the task's reference (passes), W = its wrong variant (fails).

    s0: s1 R .9, s2 W .1, s3 R .6 (-> gpt-5.4-mini); synthesis R
    s1: s1 W .8, s2 R .5, s3 W .2 (-> gpt-5.4-mini); synthesis W      (worse than s2)
    s2: all R, no votes (Borda winner falls back to s1); synthesis R
    s3: s1 timed out, s2 R 1.0, s3 prose only 0.0 (-> qwen3-coder); no synthesis (worse)
    """
    r = [_md(t.reference) for t in TASKS]
    w = [_md(t.wrong) for t in TASKS]
    named = ("anthropic/claude-sonnet-4.6", "openai/gpt-5.4")

    def seats(i, a1, a2, a3, b1, b2, b3, model3, s1_status="ok"):
        return [
            _seat("s1", named[0], a1, borda=b1, cost=0.01, status=s1_status),
            _seat("s2", named[1], a2, borda=b2, cost=0.002),
            _seat("s3", PARETO, a3, resolved=model3, borda=b3, cost=0.001),
        ]

    mini, qwen = "openai/gpt-5.4-mini", "qwen/qwen3-coder"
    return [
        _session(0, seats(0, r[0], w[0], r[0], 0.9, 0.1, 0.6, mini), [("s1", .9), ("s3", .6), ("s2", .1)], r[0]),
        _session(1, seats(1, w[1], r[1], w[1], 0.8, 0.5, 0.2, mini), [("s1", .8), ("s2", .5), ("s3", .2)], w[1]),
        _session(2, seats(2, r[2], r[2], r[2], None, None, None, qwen), [], r[2]),
        _session(3, seats(3, None, r[3], "Use a loop.", None, 1.0, 0.0, qwen, s1_status="timeout"),
                 [("s2", 1.0), ("s3", 0.0)], None, chairman_status="error"),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def graded():
    results = _scenario()
    grades = [g for t, r in zip(TASKS, results, strict=True) for g in grade_session(t, r)]
    return results, grades


def test_grade_session_grades_every_seat_and_the_synthesis(graded):
    _, grades = graded
    assert [(g.session_id, g.who) for g in grades[:4]] == [
        ("sess-0", "s1"), ("sess-0", "s2"), ("sess-0", "s3"), ("sess-0", COUNCIL),
    ]  # fmt: skip
    by = {(g.session_id, g.who): g for g in grades}
    assert by["sess-0", "s1"].passed and by["sess-0", "s1"].reason is None
    assert by["sess-0", "s2"].outcome == "failed" and "AssertionError" in by["sess-0", "s2"].reason
    assert by["sess-3", "s1"].outcome == "no_answer"
    assert by["sess-3", "s1"].reason == "no answer: seat status timeout"
    assert by["sess-3", "s3"].outcome == "no_code"
    assert by["sess-3", "s3"].reason == "no code: no Python code block in the answer"
    assert by["sess-3", COUNCIL].outcome == "no_answer"
    assert by["sess-3", COUNCIL].reason.startswith("no synthesis: chairman status error")
    assert by["sess-0", "s3"].is_pareto and not by["sess-0", "s1"].is_pareto
    assert by["sess-0", "s3"].resolved_model == "openai/gpt-5.4-mini"
    assert by["sess-0", COUNCIL].cost_usd == 0.05 and by["sess-0", "s2"].cost_usd == 0.002


def test_the_report_scores_every_strategy(graded):
    results, grades = graded
    report = build_eval_report(TASKS, results, grades, tier="balanced", gateway="sandbox")
    assert (report.tasks, report.sessions, report.tier, report.gateway) == (
        4,
        4,
        "balanced",
        "sandbox",
    )
    c = report.council
    assert (c.passed, c.pass_rate, c.cost_usd, c.cost_per_solved_usd) == (2, 0.5, 0.2, 0.1)
    assert c.ci95 == list(wilson_ci95(2, 4))
    b = report.borda_winner
    assert (b.passed, b.pass_rate, b.fallbacks) == (3, 0.75, 1)
    seats = {s.seat_id: s for s in report.seats}
    assert [s.seat_id for s in report.seats] == ["s1", "s2", "s3"]
    assert (seats["s1"].passed, seats["s2"].passed, seats["s3"].passed) == (2, 3, 2)
    assert seats["s2"].cost_usd == 0.008 and seats["s2"].cost_per_solved_usd == 0.002667
    assert seats["s3"].requested_model == PARETO
    assert seats["s3"].resolved_models == {"openai/gpt-5.4-mini": 2, "qwen/qwen3-coder": 2}
    assert seats["s1"].resolved_models == {"anthropic/claude-sonnet-4.6": 3}  # not the timeout
    best = report.best_single_seat
    assert (best.seat_id, best.passed, best.pass_rate) == ("s2", 3, 0.75)
    pareto = {m.model: (m.n, m.passed) for m in report.pareto_by_model}
    assert pareto == {"openai/gpt-5.4-mini": (2, 1), "qwen/qwen3-coder": (2, 1)}
    # Positives .9 .6 .5 1.0 against negatives .1 .8 .2 .0: 14 of 16 pairs ordered right.
    assert report.borda_predicts_pass.auc == 0.875 and report.borda_predicts_pass.n == 8
    assert report.synthesis_worse_than_best_answer == 2
    assert report.outcomes == {"passed": 9, "failed": 4, "no_answer": 2, "no_code": 1}
    assert len(report.results) == 16
    assert [r.who for r in report.results[:4]] == ["s1", "s2", "s3", "council"]


def test_the_json_is_the_design_contract(graded):
    results, grades = graded
    dumped = json.loads(
        build_eval_report(
            TASKS, results, grades, tier="balanced", gateway="sandbox"
        ).model_dump_json()
    )
    assert set(dumped) >= CONTRACT_TOP
    assert set(dumped["council"]) >= CONTRACT_COUNCIL
    assert set(dumped["borda_winner"]) >= {"passed", "pass_rate", "ci95"}
    assert set(dumped["best_single_seat"]) >= {"seat_id", "passed", "pass_rate"}
    assert all(set(s) >= CONTRACT_SEAT for s in dumped["seats"])
    assert set(dumped["borda_predicts_pass"]) == {"auc", "n"}
    assert isinstance(dumped["synthesis_worse_than_best_answer"], int)
    assert {tuple(sorted(r)) for r in dumped["results"]} == {
        ("passed", "reason", "session_id", "task_id", "who")
    }
    assert isinstance(dumped["council"]["ci95"], list) and len(dumped["council"]["ci95"]) == 2
    assert EvalReport.model_validate(dumped).model_dump(mode="json") == dumped


def test_a_missing_grade_counts_as_failed_not_graded(graded):
    results, grades = graded
    partial = [g for g in grades if not (g.session_id == "sess-0" and g.who in ("s1", COUNCIL))]
    report = build_eval_report(TASKS, results, partial, tier="balanced", gateway="sandbox")
    assert report.council.passed == 1
    rows = {(r.session_id, r.who): r for r in report.results}
    assert (
        rows["sess-0", COUNCIL].reason == "error: not graded" and not rows["sess-0", COUNCIL].passed
    )
    assert rows["sess-0", "s1"].reason == "error: not graded"


def test_no_sessions_gives_no_data_not_zero():
    report = build_eval_report(TASKS, [], [], tier="balanced", gateway="sandbox")
    assert report.council.pass_rate is None and report.council.ci95 is None
    assert report.best_single_seat.seat_id is None and report.borda_predicts_pass.auc is None
    assert "n/a" in render_html(report) or "no sessions" in render_html(report)
    render_markdown(report)


def test_costs_come_from_the_calls_when_the_session_has_them():
    def call(stage, seat, cost):
        return CallRecord(
            stage=stage, seat_id=seat, requested_model="m", resolved_model="m", status="ok",
            started_at=datetime(2026, 11, 24, tzinfo=UTC), latency_ms=1.0, cost_usd=cost,
        )  # fmt: skip

    result = _scenario()[0]
    result.calls = [
        call("answer", "s1", 0.004), call("review", "s1", 0.003), call("answer", "s2", 0.001),
        call("chairman", "chairman", 0.02),
    ]  # fmt: skip
    assert answer_cost(result, "s1") == 0.004  # its review is the council's cost, not the seat's
    assert ranking_cost(result) == 0.008  # answers and reviews, no chairman


# ---------------------------------------------------------------- rendering


def _hostile_report(graded) -> EvalReport:
    results, grades = graded
    evil = "evil/<script>alert(1)</script>\x1b[2J|pipe\u202e"
    hostile = [
        g.model_copy(update={"resolved_model": evil, "reason": "failed: <b>x</b> | \x1b]0;t\x07"})
        if g.who == "s3"
        else g
        for g in grades
    ]
    return build_eval_report(TASKS, results, hostile, tier="balanced", gateway="sandbox")


def test_html_has_its_charts_and_escapes_outside_text(graded):
    page = render_html(_hostile_report(graded))
    for chart in ("chart-pass-rate", "chart-cost", "chart-pareto", "chart-grid"):
        assert f'id="{chart}"' in page
    assert "<script" not in page and "\x1b" not in page and "\u202e" not in page
    assert "&lt;script&gt;" in page and "\\x1b" in page and "\\u202e" in page
    assert page.count("<svg") == 4 and page.startswith("<!DOCTYPE html>")
    assert page.count('class="cell"') == 16  # one per graded answer


def test_markdown_and_table_neutralise_outside_text(graded):
    report = _hostile_report(graded)
    markdown = render_markdown(report)
    assert "\x1b" not in markdown and "<script>" not in markdown and "<b>" not in markdown
    assert "evil/&lt;script&gt;" in markdown and "\\|pipe" in markdown
    for line in markdown.splitlines():  # an escaped pipe never adds a column
        if line.startswith("| "):
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            assert len(cells) in (3, 6), line
    console = Console(record=True, width=200, color_system=None)
    render_table(console, report)
    text = console.export_text()
    assert "council synthesis" in text and "pick the Borda winner" in text
    assert "Pareto → evil/<script>" in text and "\x1b" not in text
    assert "AUC 0.88 over 8 answers" in text


# ---------------------------------------------------------------- the harness, end to end

UNRELATED = "Sure!\n\n```python\ndef unrelated(x):\n    return x * 2\n```\n"


async def test_a_server_answering_one_unrelated_function_scores_zero_without_crashing():
    """OpenRouter docs, "Chat completions" (POST /api/v1/chat/completions; choices[].message
    .content): every call of every stage gets the same content. The eval must grade it as
    failing everywhere, with the reason, and still produce and render a report."""
    server = ScriptedServer(Reply(body=completion("openai/gpt-5.4-mini", UNRELATED, cost=0.0001)))
    config = make_config({"balanced": ["anthropic/claude-sonnet-4.6", "openai/gpt-5.4", PARETO]})
    with serve_asgi(server) as url:
        gateway = OpenRouterGateway(
            GatewaySettings(max_attempts=1), api_key="sk-or-test-key", base_url=f"{url}/api/v1"
        )
        council = Council(config, load_registry(), gateway)
        results = [await council.run(task.prompt, "balanced") for task in TASKS]
        await council.aclose()
    grades = [
        g
        for batch in await asyncio.gather(
            *(asyncio.to_thread(grade_session, t, r) for t, r in zip(TASKS, results, strict=True))
        )
        for g in batch
    ]
    report = build_eval_report(TASKS, results, grades, tier="balanced", gateway="openrouter")
    assert report.sessions == 4 and len(report.results) == 16
    assert report.council.passed == 0 and report.council.pass_rate == 0.0
    assert report.council.cost_per_solved_usd is None and report.council.cost_usd > 0
    assert report.borda_winner.passed == 0 and report.best_single_seat.passed == 0
    assert all(s.passed == 0 and s.pass_rate == 0.0 for s in report.seats)
    assert report.outcomes == {"no_code": 16}, [r.reason for r in report.results]
    assert len(server.requests) >= 4 * 4  # at least 3 answers and the chairman per session
    for row, task in zip(report.results[::4], TASKS, strict=True):
        assert row.reason == f"no code: no code block defines `{task.entry_point}`"
    assert report.synthesis_worse_than_best_answer == 0
    render_html(report)
    render_markdown(report)
    render_table(Console(record=True, width=160, color_system=None), report)
