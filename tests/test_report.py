"""Report figures against values computed by hand on a small fixed store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from typer.testing import CliRunner

from llm_council.audition.report import build_report
from llm_council.audition.report_render import render_html, render_markdown
from llm_council.audition.store import AuditionStore
from llm_council.council.result import (
    CallRecord,
    ChairmanResult,
    DuplicateFlag,
    RankingEntry,
    SeatResult,
    SessionResult,
)
from llm_council.registry import load_registry

REGISTRY = load_registry()
PARETO = "openrouter/pareto-code"
MINI, SONNET, KIMI = "openai/gpt-5.4-mini", "anthropic/claude-sonnet-4.6", "moonshotai/kimi-k2.6"


def seat(sid, requested, resolved, borda, flags=(), score=None):
    return SeatResult(
        seat_id=sid, requested_model=requested, resolved_model=resolved, status="ok", borda=borda,
        votes=2, min_coding_score=score, flags=list(flags),
        duplicate_kind="exact" if any(f.kind == "exact" for f in flags) else None,
        duplicate_of=[f.with_seat for f in flags if f.kind == "exact"],
    )  # fmt: skip


def call(stage, sid, requested, resolved, cost, score=None):
    return CallRecord(
        stage=stage, seat_id=sid, requested_model=requested, resolved_model=resolved,
        min_coding_score=score, status="ok", started_at=datetime(2026, 11, 20, tzinfo=UTC),
        latency_ms=10, prompt_tokens=1000, completion_tokens=1000, cost_usd=cost,
    )  # fmt: skip


def session(sid, when, tier, seats, calls):
    ranked = sorted(seats, key=lambda s: -s.borda)
    return SessionResult(
        session_id=sid, created_at=when, tier=tier, mode="coding", status="ok", gateway="sandbox",
        prompt="q", seats=seats,
        ranking=[RankingEntry(seat_id=s.seat_id, borda=s.borda, votes=2) for s in ranked],
        chairman=ChairmanResult(requested_model="anthropic/claude-opus-4.7", status="ok"),
        calls=calls,
    )  # fmt: skip


def fixed_sessions():
    a = session(
        "aaaa", datetime(2026, 11, 20, 10, tzinfo=UTC), "balanced",
        [
            seat("s1", MINI, MINI, 0.5, [DuplicateFlag(kind="exact", with_seat="s3", model=MINI)]),
            seat("s2", SONNET, SONNET, 1.0),
            seat("s3", PARETO, MINI, 0.0, [DuplicateFlag(kind="exact", with_seat="s1", model=MINI)], 0.5),
        ],
        [
            call("answer", "s1", MINI, MINI, 0.001),
            call("answer", "s2", SONNET, SONNET, 0.004),
            call("answer", "s3", PARETO, MINI, 0.001, 0.5),
            call("chairman", "chairman", "anthropic/claude-opus-4.7", "anthropic/claude-opus-4.7", 0.01),
        ],
    )  # fmt: skip
    b = session(
        "bbbb", datetime(2026, 11, 21, 9, tzinfo=UTC), "balanced",
        [seat("s1", MINI, MINI, 0.0), seat("s2", SONNET, SONNET, 0.5), seat("s3", PARETO, KIMI, 1.0, (), 0.5)],
        [
            call("answer", "s3", PARETO, KIMI, 0.002, 0.5),
            call("review", "s3", PARETO, KIMI, 0.05, 0.5),  # above the medium band's ceiling (0.018)
            call("answer", "s1", MINI, MINI, 0.001),
            call("answer", "s2", SONNET, SONNET, 0.003),
        ],
    )  # fmt: skip
    c = session(
        "cccc", datetime(2026, 11, 21, 11, tzinfo=UTC), "balanced",
        [
            seat("s1", MINI, MINI, 1.0),
            seat("s2", SONNET, SONNET, 0.0),
            seat("s3", PARETO, KIMI, 0.5, [DuplicateFlag(kind="drift", stage2_model="x-ai/grok-4.3")], 0.5),
        ],
        [call("answer", "s3", PARETO, KIMI, 0.002, 0.5)],
    )  # fmt: skip
    d = session(
        "dddd", datetime(2026, 11, 21, 12, tzinfo=UTC), "quick",
        [
            seat("s1", "google/gemini-3-flash-preview", "google/gemini-3-flash-preview", 1.0),
            seat("s2", "anthropic/claude-haiku-4.5", "anthropic/claude-haiku-4.5", 0.0),
        ],
        [
            call("answer", "s1", "google/gemini-3-flash-preview", "google/gemini-3-flash-preview", 0.0005),
            call("answer", "s2", "anthropic/claude-haiku-4.5", "anthropic/claude-haiku-4.5", 0.0005),
        ],
    )  # fmt: skip
    return [a, b, c, d]


@pytest.fixture
def store(tmp_path):
    store = AuditionStore(f"sqlite:///{tmp_path / 'r.db'}")
    for result in fixed_sessions():
        store.write_session(result, REGISTRY)
    return store


def test_hand_computed_balanced_tier(store):
    report = build_report(store, REGISTRY)
    t = report.tiers["balanced"]
    assert (t.sessions, t.seats, t.pareto_seats, t.pareto_calls) == (3, 9, 3, 4)
    assert [(m.model, m.count, m.share) for m in t.resolved_models] == [
        (KIMI, 2, 0.6667),
        (MINI, 1, 0.3333),
    ]
    # 3 sessions with a Pareto seat: A exact, C drift.
    assert t.duplicate_rate.model_dump() == {
        "any": 0.6667,
        "exact": 0.3333,
        "family": 0.0,
        "drift": 0.3333,
    }
    assert [(d.model, d.sessions, d.share) for d in t.duplicated_seats] == [(MINI, 1, 0.3333)]
    # distinct models 2, 3, 3; provider entropy A = H(2/3, 1/3)/ln 3 = 0.5794, B = C = 1.
    assert t.diversity.distinct_models_per_session == pytest.approx(2.6667, abs=1e-4)
    assert t.diversity.provider_entropy == pytest.approx((0.579380 + 2) / 3, abs=1e-4)
    # Pareto Borda 0, 1, 0.5: mean 0.5, sd 0.5, half-width 1.96 * 0.5 / sqrt 3 = 0.566 -> clipped.
    p = t.peer_review.pareto
    assert (p.mean_borda, p.ci95, p.first_place_rate, p.n) == (0.5, [0.0, 1.0], 0.3333, 3)
    # Named Borda .5 1 0 .5 1 0: mean .5, sd sqrt(.2), half 1.96 * .4472 / sqrt 6 = .3578.
    n = t.peer_review.named
    assert n.mean_borda == 0.5 and n.n == 6 and n.first_place_rate == 0.3333
    assert n.ci95 == pytest.approx([0.1422, 0.8578], abs=1e-4)
    assert t.cost.pareto.total_usd == pytest.approx(
        0.055
    ) and t.cost.pareto.mean_usd == pytest.approx(0.01375)
    assert t.cost.named.total_usd == pytest.approx(
        0.019
    ) and t.cost.named.mean_usd == pytest.approx(0.0038)
    assert t.cost.above_band_calls == 1
    assert [(d.date, d.models) for d in t.by_day] == [
        ("2026-11-20", {MINI: 1}),
        ("2026-11-21", {KIMI: 2}),
    ]


def test_overall_merges_the_tiers_and_a_tier_without_pareto_is_clean(store):
    report = build_report(store, REGISTRY)
    o, q = report.overall, report.tiers["quick"]
    assert (o.sessions, o.seats, o.pareto_seats, o.pareto_calls) == (4, 11, 3, 4)
    assert o.duplicate_rate.any == 0.6667  # still over the 3 sessions that had a Pareto seat
    assert o.diversity.distinct_models_per_session == 2.5
    assert o.diversity.provider_entropy == pytest.approx((0.579380 + 3) / 4, abs=1e-4)
    assert o.peer_review.named.n == 8 and o.peer_review.named.first_place_rate == 0.375
    assert o.cost.named.total_usd == pytest.approx(0.02)
    assert q.pareto_seats == 0 and q.resolved_models == [] and q.duplicated_seats == []
    assert q.duplicate_rate.model_dump() == {"any": 0.0, "exact": 0.0, "family": 0.0, "drift": 0.0}
    assert q.peer_review.pareto.model_dump() == {
        "mean_borda": None,
        "ci95": None,
        "first_place_rate": None,
        "n": 0,
    }
    assert q.cost.pareto.mean_usd is None and q.cost.pareto.total_usd == 0
    assert report.window.sessions == 4
    assert report.window.since == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert report.recommendations == []  # 3 sessions are too few to advise on


def test_window_filters(store):
    newest = build_report(store, REGISTRY, last=1, tier="balanced")
    assert newest.window.sessions == 1 and newest.tiers["balanced"].duplicate_rate.drift == 1.0
    since = build_report(store, REGISTRY, since=datetime(2026, 11, 21, tzinfo=UTC))
    assert since.overall.sessions == 3 and since.tiers["balanced"].pareto_calls == 3


def test_empty_store_and_one_session(tmp_path):
    empty = AuditionStore(f"sqlite:///{tmp_path / 'empty.db'}")
    report = build_report(empty, REGISTRY)
    assert report.tiers == {} and report.overall.sessions == 0 and report.window.since is None
    assert report.overall.diversity.distinct_models_per_session == 0.0
    assert "svg" in render_html(report) and "0 sessions" in render_markdown(report)
    empty.write_session(fixed_sessions()[0], REGISTRY)
    one = build_report(empty, REGISTRY)
    assert one.overall.sessions == 1 and one.overall.peer_review.pareto.ci95 is None


def test_recommendations_need_enough_sessions(tmp_path):
    store = AuditionStore(f"sqlite:///{tmp_path / 'many.db'}")
    base = fixed_sessions()[0]
    for i in range(25):
        store.write_session(base.model_copy(update={"session_id": f"s{i:04d}"}), REGISTRY)
    advice = build_report(store, REGISTRY).recommendations
    assert any(
        "balanced: the Pareto seat duplicated openai/gpt-5.4-mini in 100% of 25 sessions" in a
        for a in advice
    )


class _Charts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.svgs, self.external = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "svg":
            self.svgs.append(attrs.get("id"))
        if tag in ("script", "link", "img") or any(
            v and str(v).startswith("http") and k in ("src", "href") for k, v in attrs.items()
        ):
            self.external.append(tag)


def test_html_is_self_contained_with_every_chart(store):
    page = render_html(build_report(store, REGISTRY))
    parser = _Charts()
    parser.feed(page)
    assert {"chart-share-balanced", "chart-share-quick", "chart-duplicates", "chart-borda"} <= set(
        parser.svgs
    )
    assert parser.external == []


def test_report_cli_formats(store, tmp_path, monkeypatch):
    from llm_council.cli import app

    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", store.url_for_humans)
    runner = CliRunner()
    out = runner.invoke(app, ["report", "--format", "json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert set(payload) == {"window", "tiers", "overall", "recommendations"}
    assert set(payload["tiers"]["balanced"]) == {
        "sessions", "seats", "pareto_seats", "pareto_calls", "resolved_models", "duplicate_rate",
        "duplicated_seats", "diversity", "peer_review", "cost", "by_day",
    }  # fmt: skip
    html_file = tmp_path / "r.html"
    assert (
        runner.invoke(app, ["report", "--format", "html", "--output", str(html_file)]).exit_code
        == 0
    )
    assert html_file.read_text().startswith("<!DOCTYPE html>")
    assert "## balanced" in runner.invoke(app, ["report", "--format", "markdown"]).stdout
    assert runner.invoke(app, ["report", "--since", "yesterday-ish"]).exit_code == 2
    assert runner.invoke(app, ["report", "--tier", "huge"]).exit_code == 2
    table = runner.invoke(app, ["report", "--since", "3650d"])
    assert table.exit_code == 0 and "balanced" in table.stdout
