"""Report figures against values computed by hand on a small fixed store.

The store is written through the real store API (``AuditionStore.write_session``), so the
per-session columns the report aggregates (distinct models, provider entropy, flags) are the
store's own. Every expected number below is worked out in the comment next to it.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from llm_council.audition.report import build_report
from llm_council.audition.report_html import render_html
from llm_council.audition.report_render import render_markdown
from llm_council.audition.report_stats import (
    mean_ci95,
    normalised_entropy,
    share,
    t975,
    wilson_ci95,
)
from llm_council.audition.store import AuditionStore
from llm_council.council.result import (
    CallRecord,
    ChairmanResult,
    DuplicateFlag,
    RankingEntry,
    SeatResult,
    SessionResult,
)
from llm_council.gateway.router_metadata import RouterAttempt, RouterCandidate, RouterMetadata
from llm_council.registry import load_registry
from tests.pg import postgres_server, postgres_url  # noqa: F401  (fixtures)

REGISTRY = load_registry()
PARETO = "openrouter/pareto-code"
MINI, SONNET, KIMI = "openai/gpt-5.4-mini", "anthropic/claude-sonnet-4.6", "moonshotai/kimi-k2.6"
SONNET45 = "anthropic/claude-sonnet-4.5"  # not in the registry; family anthropic/claude-sonnet
GROK, OPUS = "x-ai/grok-4.3", "anthropic/claude-opus-4.7"
FLASH, HAIKU = "google/gemini-3-flash-preview", "anthropic/claude-haiku-4.5"

# A: exact duplicate, chairman call. B: a review billed above band. C: family dup + drift.
# D: quick tier, no Pareto seat. E: Pareto seat timed out. F: plain.
# Router metadata (Pareto seat calls): A answer lists Mini (selected), Kimi, Grok; B answer
# lists Mini from two providers and Kimi (selected) after Mini failed with 503; B's review
# carries none; C answer lists Sonnet 4.5 (selected) and Kimi after an unnamed 502; C review
# lists Grok (selected) and Mini; F answer lists Kimi (selected), Mini, Grok after Mini
# failed twice. A named call (A s1) and the chairman carry metadata too: never counted.
ENTROPY_2_OF_3 = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3)) / math.log(3)  # 0.579380


def seat(sid, requested, resolved, borda, flags=(), status="ok"):
    return SeatResult(
        seat_id=sid, requested_model=requested, resolved_model=resolved, status=status,
        borda=borda, votes=2 if borda is not None else 0,
        min_coding_score=0.5 if requested == PARETO else None, flags=list(flags),
        duplicate_kind=next((f.kind for f in flags if f.kind != "drift"), None),
        duplicate_of=[f.with_seat for f in flags if f.with_seat],
    )  # fmt: skip


def call(stage, sid, requested, resolved, cost, status="ok", router=None):
    return CallRecord(
        stage=stage, seat_id=sid, requested_model=requested, resolved_model=resolved,
        min_coding_score=0.5 if requested == PARETO else None, status=status,
        started_at=datetime(2026, 11, 20, tzinfo=UTC), latency_ms=10,
        prompt_tokens=1000, completion_tokens=1000, cost_usd=cost, router=router,
    )  # fmt: skip


def router(candidates, attempts=()):
    """OpenRouter's ``openrouter_metadata`` as the gateway parses it (docs: Router Metadata,
    https://openrouter.ai/docs/guides/features/router-metadata): ``endpoints.available`` are
    (model, provider, selected) endpoints, so one model can be listed by several providers;
    ``attempts`` carry an HTTP status each. ``candidates``: (model, provider, selected)."""
    return RouterMetadata(
        strategy="pareto",
        candidates=tuple(
            RouterCandidate(model=m, provider=p, selected=s) for m, p, s in candidates
        ),
        attempts=tuple(RouterAttempt(model=m, status=st) for m, st in attempts),
    )


def session(sid, when, tier, seats, calls):
    ranked = sorted((s for s in seats if s.borda is not None), key=lambda s: -s.borda)
    return SessionResult(
        session_id=sid, created_at=when, tier=tier, mode="coding", status="ok", gateway="sandbox",
        prompt="q", seats=seats,
        ranking=[RankingEntry(seat_id=s.seat_id, borda=s.borda, votes=2) for s in ranked],
        chairman=ChairmanResult(requested_model=OPUS, resolved_model=OPUS, status="ok"),
        calls=calls,
    )  # fmt: skip


def at(day, hour):
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def fixed_sessions() -> list[SessionResult]:
    exact_a = DuplicateFlag(kind="exact", with_seat="s3", model=MINI)
    exact_b = DuplicateFlag(kind="exact", with_seat="s1", model=MINI)
    fam_2 = DuplicateFlag(kind="family", with_seat="s3", model=SONNET45)
    fam_3 = DuplicateFlag(kind="family", with_seat="s2", model=SONNET)
    drift = DuplicateFlag(kind="drift", stage2_model=GROK)
    return [
        session("aaaa", at(20, 10), "balanced",
            [seat("s1", MINI, MINI, 0.5, [exact_a]), seat("s2", SONNET, SONNET, 1.0),
             seat("s3", PARETO, MINI, 0.0, [exact_b])],
            [call("answer", "s1", MINI, MINI, 0.001, router=router([(MINI, "OpenAI", True)])),
             call("answer", "s2", SONNET, SONNET, 0.004),
             call("answer", "s3", PARETO, MINI, 0.001, router=router(
                 [(MINI, "OpenAI", True), (KIMI, "Moonshot", False), (GROK, "xAI", False)],
                 [(MINI, 200)])),
             call("chairman", "chairman", OPUS, OPUS, 0.01,  # not a seat call: excluded
                  router=router([(OPUS, "Anthropic", True)], [(OPUS, 500)]))]),
        session("bbbb", at(21, 9), "balanced",
            [seat("s1", MINI, MINI, 0.0), seat("s2", SONNET, SONNET, 0.5),
             seat("s3", PARETO, KIMI, 1.0)],
            [call("answer", "s3", PARETO, KIMI, 0.002, router=router(
                 [(MINI, "OpenAI", False), (MINI, "Azure", False), (KIMI, "Moonshot", True)],
                 [(MINI, 503), (KIMI, 200)])),
             # medium band ceiling for 1000 + 1000 tokens: (1000*3 + 1000*15)/1e6 = 0.018
             # (Sonnet's rates are the band's highest), *1.01 tolerance = 0.01818 < 0.05
             call("review", "s3", PARETO, KIMI, 0.05),
             call("answer", "s1", MINI, MINI, 0.001), call("answer", "s2", SONNET, SONNET, 0.003)]),
        session("cccc", at(21, 11), "balanced",
            [seat("s1", MINI, MINI, 1.0), seat("s2", SONNET, SONNET, 0.0, [fam_2]),
             seat("s3", PARETO, SONNET45, 0.5, [fam_3, drift])],
            [call("answer", "s3", PARETO, SONNET45, 0.002, router=router(
                 [(SONNET45, "Anthropic", True), (KIMI, "Moonshot", False)],
                 [(None, 502), (SONNET45, 200)])),
             call("review", "s3", PARETO, GROK, 0.003, router=router(
                 [(GROK, "xAI", True), (MINI, "OpenAI", False)])),
             call("answer", "s1", MINI, MINI, 0.001), call("answer", "s2", SONNET, SONNET, 0.002)]),
        session("dddd", at(21, 12), "quick",
            [seat("s1", FLASH, FLASH, 1.0), seat("s2", HAIKU, HAIKU, 0.0)],
            [call("answer", "s1", FLASH, FLASH, 0.0005), call("answer", "s2", HAIKU, HAIKU, 0.0005)]),
        session("eeee", at(22, 8), "balanced",
            [seat("s1", MINI, MINI, 1.0), seat("s2", SONNET, SONNET, 0.0),
             seat("s3", PARETO, None, None, status="timeout")],
            [call("answer", "s3", PARETO, None, None, status="timeout"),
             call("answer", "s1", MINI, MINI, 0.001), call("answer", "s2", SONNET, SONNET, 0.003)]),
        session("ffff", at(22, 9), "balanced",
            [seat("s1", MINI, MINI, 0.0), seat("s2", SONNET, SONNET, 0.5),
             seat("s3", PARETO, KIMI, 1.0)],
            [call("answer", "s3", PARETO, KIMI, 0.002, router=router(
                 [(KIMI, "Moonshot", True), (MINI, "OpenAI", False), (GROK, "xAI", False)],
                 [(MINI, 503), (MINI, 500), (KIMI, 200)])),
             call("answer", "s1", MINI, MINI, 0.001), call("answer", "s2", SONNET, SONNET, 0.003)]),
    ]  # fmt: skip


def make_store(path_or_url, sessions) -> AuditionStore:
    url = str(path_or_url)
    store = AuditionStore(url if "://" in url else f"sqlite:///{url}")
    for result in sessions:
        assert store.write_session(result, REGISTRY)
    return store


@pytest.fixture
def store(tmp_path):
    return make_store(tmp_path / "r.db", fixed_sessions())


# -- the statistics helpers ------------------------------------------------------------------


def test_stats_helpers_by_hand():
    assert t975(1) == 12.7062 and t975(9) == 2.2622 and t975(30) == 2.0423
    assert t975(60) == pytest.approx(2.0003, abs=1e-4) and t975(120) == pytest.approx(
        1.9799, abs=1e-4
    )
    # Borda 0, 1: mean .5, s = .7071, se = .5, t(1) * .5 = 6.35 -> clipped to [0, 1].
    assert mean_ci95(2, 1.0, 1.0) == (0.0, 1.0)
    # 0.4, 0.5, 0.6: mean .5, s = .1, se = .057735, t(2) = 4.3027 -> half .248417.
    assert mean_ci95(3, 1.5, 0.77) == (0.2516, 0.7484)
    assert mean_ci95(1, 0.5, 0.25) is None and mean_ci95(0, 0, 0) is None
    # Wilson 2 of 4: centre .5; half = 1.96 * sqrt(.0625 + 3.8415/64) / 1.9604 = .349962.
    assert wilson_ci95(2, 4) == (0.15, 0.85)
    # 0 of 10: lower bound exactly 0, upper z^2/n / (1 + z^2/n) = .38415/1.38415 = .2775.
    assert wilson_ci95(0, 10) == (0.0, 0.2775)
    assert wilson_ci95(0, 0) is None
    assert normalised_entropy([2, 1]) == pytest.approx(ENTROPY_2_OF_3, abs=1e-6)
    assert normalised_entropy([1, 1, 1]) == 1.0 and normalised_entropy([3]) == 0.0
    assert normalised_entropy([]) == 0.0 and normalised_entropy([1], slots=1) == 0.0
    assert share(1, 3) == 0.3333 and share(5, 0) == 0.0


# -- the report over the fixed store ----------------------------------------------------------


def test_balanced_tier_by_hand(store):
    t = build_report(store, REGISTRY).tiers["balanced"]
    # Sessions A B C E F, 3 seats each, one Pareto seat each; Pareto calls (chairman's not
    # counted): A 1, B 2, C 2, E 1, F 1 = 7.
    assert (t.sessions, t.seats, t.pareto_seats, t.pareto_calls) == (5, 15, 5, 7)
    # E's Pareto seat timed out unresolved, so 4 resolved: Kimi 2 (B F), Mini 1, Sonnet 4.5 1.
    assert [(m.model, m.count, m.share) for m in t.resolved_models] == [
        (KIMI, 2, 0.5),
        (SONNET45, 1, 0.25),
        (MINI, 1, 0.25),
    ]
    assert [(d.date, d.models) for d in t.by_day] == [
        ("2026-11-20", {MINI: 1}),
        ("2026-11-21", {SONNET45: 1, KIMI: 1}),
        ("2026-11-22", {KIMI: 1}),
    ]
    # Of 5 sessions with a Pareto seat: exact A, family C, drift C, any A and C.
    assert t.duplicate_rate.model_dump() == {"any": 0.4, "exact": 0.2, "family": 0.2, "drift": 0.2}
    # A's Pareto seat duplicated named Mini (exact), C's named Sonnet 4.6 (family): 1/5 each.
    assert [(d.model, d.sessions, d.share) for d in t.duplicated_seats] == [
        (SONNET, 1, 0.2),
        (MINI, 1, 0.2),
    ]
    # Distinct answered models A 2, B 3, C 3, E 2, F 3 -> 13/5. Provider entropy A and C
    # (openai, anthropic x2) 0.579380; B (3 providers) 1; E (2 answered, 2 providers) 1; F 1.
    assert t.diversity.distinct_models_per_session == 2.6
    assert t.diversity.provider_entropy == round((2 * ENTROPY_2_OF_3 + 3) / 5, 4) == 0.8318
    # Pareto Borda A 0, B 1, C .5, F 1 (E unranked): n 4, mean .625; sum sq 2.25,
    # s^2 = (2.25 - 4 * .625^2) / 3 = .229167, se = .239357, t(3) 3.1824 -> +-.7617 -> [0, 1].
    # First place B and F: 2/4; Wilson [.15, .85].
    p = t.peer_review.pareto
    assert (p.mean_borda, p.ci95, p.first_place_rate, p.n) == (0.625, [0.0, 1.0], 0.5, 4)
    assert p.first_place_ci95 == [0.15, 0.85]
    # Named Borda .5 1 | 0 .5 | 1 0 | 1 0 | 0 .5: n 10, mean .45, sum sq 3.75,
    # s^2 = (3.75 - 10 * .2025) / 9 = .191667, se = .138444, t(9) 2.2622 -> +-.313188.
    # First place A s2, C s1, E s1: 3/10.
    n = t.peer_review.named
    assert (n.mean_borda, n.ci95, n.first_place_rate, n.n) == (0.45, [0.1368, 0.7632], 0.3, 10)
    # Pareto calls with a cost: .001 + .002 + .05 + .002 + .003 + .002 = .06 over 6 (E's
    # timed-out call has none). Named: 5 sessions x (.001 + .003 or .004 or .002) = .02 / 10.
    assert t.cost.pareto.total_usd == pytest.approx(0.06)
    assert t.cost.pareto.mean_usd == pytest.approx(0.01)
    assert t.cost.named.total_usd == pytest.approx(0.02)
    assert t.cost.named.mean_usd == pytest.approx(0.002)
    assert t.cost.above_band_calls == 1  # B's 0.05 review; C's 0.003 Grok review is in band


def test_router_shortlist_and_fallbacks_by_hand(store):
    report = build_report(store, REGISTRY)
    t = report.tiers["balanced"]
    # Pareto seat calls with metadata: A answer, B answer, C answer, C review, F answer = 5
    # (B's review has none, E's timed-out answer none; A's named s1 call and the chairman's
    # call are not Pareto seat calls). Listed, once per call: Kimi A B C F = 4 (selected B F);
    # Mini A B(twice, two providers) C-review F = 4 (selected A); Grok A C-review F = 3
    # (selected C-review); Sonnet 4.5 C = 1 (selected). Ties by id: moonshotai < openai.
    assert [(m.model, m.seen, m.selected) for m in t.observed_shortlist] == [
        (KIMI, 4, 2),
        (MINI, 4, 1),
        (GROK, 3, 1),
        (SONNET45, 1, 1),
    ]
    # Failed attempts (status >= 400): B (Mini 503), C (unnamed 502), F (Mini 503 and 500):
    # 3 calls of 5 with metadata. Mini failed in 2 calls (F's two failures count once); the
    # unnamed attempt counts in calls only; A's 200 is no failure; the chairman's 500 is
    # not a Pareto call.
    f = t.fallbacks
    assert (f.calls, f.share, f.with_metadata) == (3, 0.6, 5)
    assert [(m.model, m.count) for m in f.failed_models] == [(MINI, 2)]
    # quick has no Pareto seat: an empty list and zeros, not nulls.
    q = report.tiers["quick"]
    assert q.observed_shortlist == [] and q.fallbacks.model_dump() == {
        "calls": 0,
        "share": 0.0,
        "failed_models": [],
    }
    # overall merges the tiers: only balanced has router data.
    assert report.overall.observed_shortlist == t.observed_shortlist
    assert report.overall.fallbacks == t.fallbacks
    # Windows apply: since the 21st (B C E F): 4 with metadata, 3 fallbacks -> .75; Mini is
    # listed on B, C-review, F = 3. The newest session alone (F): 1 of 1.
    since = build_report(store, REGISTRY, since=at(21, 0)).tiers["balanced"]
    assert (since.fallbacks.calls, since.fallbacks.share) == (3, 0.75)
    assert {m.model: m.seen for m in since.observed_shortlist} == {
        KIMI: 3,
        MINI: 3,
        GROK: 2,
        SONNET45: 1,
    }
    newest = build_report(store, REGISTRY, last=1).tiers["balanced"]
    assert (newest.fallbacks.calls, newest.fallbacks.share) == (1, 1.0)
    assert [(m.model, m.seen, m.selected) for m in newest.observed_shortlist] == [
        (KIMI, 1, 1),
        (MINI, 1, 0),  # ties by id: openai/ before x-ai/
        (GROK, 1, 0),
    ]


def test_overall_merges_tiers_and_a_tier_without_pareto_is_clean(store):
    report = build_report(store, REGISTRY)
    o, q = report.overall, report.tiers["quick"]
    assert list(report.tiers) == ["balanced", "quick"]
    assert (o.sessions, o.seats, o.pareto_seats, o.pareto_calls) == (6, 17, 5, 7)
    # Duplicate rates stay shares of the 5 sessions that had a Pareto seat.
    assert o.duplicate_rate.any == 0.4 and o.pareto_sessions == 5
    # Distinct (13 + 2) / 6; entropy (4.158760 + 1) / 6 = .859793.
    assert o.diversity.distinct_models_per_session == 2.5
    assert o.diversity.provider_entropy == 0.8598
    # Named Borda adds D's 1 and 0: n 12, sum 5.5, mean .458333, sum sq 4.75,
    # s^2 = (4.75 - 12 * .458333^2) / 11 = .202652, se = .129953, t(11) 2.2010 -> +-.286027.
    # First place: 3 + D's s1 = 4 of 12.
    named = o.peer_review.named
    assert (named.mean_borda, named.ci95, named.first_place_rate, named.n) == (
        0.4583,
        [0.1723, 0.7444],
        0.3333,
        12,
    )
    assert o.cost.named.total_usd == pytest.approx(0.021)
    assert o.cost.named.mean_usd == pytest.approx(0.021 / 12, abs=1e-8)
    assert o.cost.above_band_calls == 1
    assert [(d.date, sum(d.models.values())) for d in o.by_day] == [
        ("2026-11-20", 1),
        ("2026-11-21", 2),
        ("2026-11-22", 1),
    ]
    # quick: one session, no Pareto seat -> zeros and nulls, no division by zero.
    assert (q.sessions, q.seats, q.pareto_seats, q.pareto_calls) == (1, 2, 0, 0)
    assert q.resolved_models == [] and q.duplicated_seats == [] and q.by_day == []
    assert q.duplicate_rate.model_dump() == {"any": 0.0, "exact": 0.0, "family": 0.0, "drift": 0.0}
    assert q.peer_review.pareto.model_dump() == {
        "mean_borda": None,
        "ci95": None,
        "first_place_rate": None,
        "n": 0,
    }
    # Named quick Borda 1, 0: mean .5, se .5, t(1) 12.7 -> clipped to [0, 1].
    assert q.peer_review.named.ci95 == [0.0, 1.0] and q.peer_review.named.first_place_rate == 0.5
    assert q.cost.pareto.model_dump() == {"mean_usd": None, "total_usd": 0.0}
    assert q.diversity.model_dump() == {"distinct_models_per_session": 2.0, "provider_entropy": 1.0}
    assert report.window.sessions == 6
    assert report.window.since == at(20, 10) and report.window.until == at(22, 9)
    # Advice follows evidence, not counts: B's review billed above its band is a billed fact
    # (advised whatever the count); no rate or difference clears its 95% test on 5 sessions.
    assert report.recommendations == [
        "balanced: 1 of 7 Pareto calls were billed above the tier's expected price band; run "
        "`llm-council registry sync` and `llm-council check` to see whether prices or the "
        "shortlist moved"
    ]


def test_json_has_exactly_the_contract_keys(store):
    payload = build_report(store, REGISTRY).model_dump(mode="json")
    assert set(payload) == {"window", "tiers", "overall", "recommendations"}
    assert set(payload["window"]) == {"since", "until", "sessions"}
    tier_keys = {
        "sessions", "seats", "pareto_seats", "pareto_calls", "resolved_models", "duplicate_rate",
        "duplicated_seats", "diversity", "peer_review", "cost", "by_day", "observed_shortlist",
        "fallbacks", "agreement", "paired",
        "position_bias",  # the one addition to DESIGN's tier keys
    }  # fmt: skip
    for t in (*payload["tiers"].values(), payload["overall"]):
        assert set(t) == tier_keys
        assert set(t["duplicate_rate"]) == {"any", "exact", "family", "drift"}
        assert set(t["diversity"]) == {"distinct_models_per_session", "provider_entropy"}
        # DESIGN's pareto / named, plus Borda from the seats' own reviews.
        assert set(t["peer_review"]) == {"pareto", "named", "without_judges"}
        assert set(t["peer_review"]["without_judges"]) == {"pareto", "named", "judged_sessions"}
        for group in ("pareto", "named"):
            assert set(t["peer_review"][group]) == {"mean_borda", "ci95", "first_place_rate", "n"}
            assert set(t["peer_review"]["without_judges"][group]) == {"mean_borda", "ci95", "n"}
            assert set(t["cost"][group]) == {"mean_usd", "total_usd"}
        assert set(t["agreement"]) == {"kendall_w", "sessions"}
        assert set(t["paired"]) == {"sessions", "mean_diff", "ci95", "wins", "losses", "ties"}
        assert set(t["position_bias"]) == {"reviews", "first_choice_rate", "chance_rate"}
        assert set(t["cost"]) == {"pareto", "named", "above_band_calls"}
        assert set(t["fallbacks"]) == {"calls", "share", "failed_models"}
        for entry in t["observed_shortlist"]:
            assert set(entry) == {"model", "seen", "selected"}
        for entry in t["fallbacks"]["failed_models"]:
            assert set(entry) == {"model", "count"}
    assert payload["window"]["since"] == "2026-11-20T10:00:00Z"
    balanced = payload["tiers"]["balanced"]
    assert balanced["resolved_models"][0] == {"model": KIMI, "count": 2, "share": 0.5}
    assert balanced["by_day"][0] == {"date": "2026-11-20", "models": {MINI: 1}}
    assert balanced["duplicated_seats"][0] == {"model": SONNET, "sessions": 1, "share": 0.2}
    assert balanced["observed_shortlist"][0] == {"model": KIMI, "seen": 4, "selected": 2}
    assert balanced["fallbacks"] == {
        "calls": 3,
        "share": 0.6,
        "failed_models": [{"model": MINI, "count": 2}],
    }
    assert payload["tiers"]["quick"]["fallbacks"] == {"calls": 0, "share": 0.0, "failed_models": []}


def test_window_filters(store):
    newest = build_report(store, REGISTRY, last=1, tier="balanced")
    assert newest.window.sessions == 1 and list(newest.tiers) == ["balanced"]
    assert newest.tiers["balanced"].resolved_models[0].model == KIMI  # F
    assert newest.tiers["balanced"].pareto_calls == 1
    since = build_report(store, REGISTRY, since=at(21, 0))  # B C D E F
    assert since.overall.sessions == 5 and since.window.since == at(21, 0)
    b = since.tiers["balanced"]
    # B 2 + C 2 + E 1 + F 1 Pareto calls; named calls of B C E F: .004 + .003 + .004 + .004.
    assert b.pareto_calls == 6 and b.cost.named.total_usd == pytest.approx(0.015)
    assert b.duplicate_rate.exact == 0.0 and b.duplicate_rate.family == 0.25
    both = build_report(store, REGISTRY, since=at(21, 0), last=2)  # newest two: E, F
    assert both.overall.sessions == 2 and both.window.until == at(22, 9)
    assert build_report(store, REGISTRY, tier="frontier").overall.sessions == 0
    # a naive datetime is read as UTC
    assert build_report(store, REGISTRY, since=datetime(2026, 11, 22)).overall.sessions == 2


@pytest.mark.postgres
def test_postgres_gives_the_same_report(store, request):
    pg = make_store(request.getfixturevalue("postgres_url"), fixed_sessions())
    try:
        for window in ({}, {"since": at(21, 0)}, {"last": 2, "tier": "balanced"}):
            assert build_report(pg, REGISTRY, **window) == build_report(store, REGISTRY, **window)
    finally:
        pg.close()


def test_empty_store(tmp_path):
    report = build_report(AuditionStore(f"sqlite:///{tmp_path / 'empty.db'}"), REGISTRY)
    assert report.tiers == {} and report.recommendations == []
    assert report.window.model_dump() == {"since": None, "until": None, "sessions": 0}
    o = report.overall
    assert (o.sessions, o.seats, o.pareto_seats, o.pareto_calls) == (0, 0, 0, 0)
    assert o.diversity.distinct_models_per_session == 0.0 and o.cost.above_band_calls == 0
    assert o.peer_review.named.mean_borda is None and o.cost.named.mean_usd is None
    assert o.observed_shortlist == []
    assert o.fallbacks.model_dump() == {"calls": 0, "share": 0.0, "failed_models": []}
    json.dumps(report.model_dump(mode="json"))
    assert "0 sessions" in render_markdown(report) and "<svg" in render_html(report)


def test_one_session(tmp_path):
    store = make_store(tmp_path / "one.db", fixed_sessions()[:1])  # A
    t = build_report(store, REGISTRY).tiers["balanced"]
    assert (t.sessions, t.pareto_calls) == (1, 1) and t.duplicate_rate.exact == 1.0
    # One Pareto Borda (0.0): a mean, but no interval from a single value.
    assert (t.peer_review.pareto.mean_borda, t.peer_review.pareto.ci95) == (0.0, None)
    assert t.peer_review.pareto.first_place_rate == 0.0 and t.peer_review.pareto.n == 1
    # Named .5 and 1: mean .75, s .353553, se .25, t(1) -> clipped.
    assert t.peer_review.named.mean_borda == 0.75 and t.peer_review.named.ci95 == [0.0, 1.0]
    assert t.cost.named.total_usd == pytest.approx(0.005)  # not the chairman's 0.01
    # A's Pareto answer carried metadata with no failed attempt: 0 of 1, not "no data".
    assert t.fallbacks.model_dump() == {"calls": 0, "share": 0.0, "failed_models": []}
    assert t.fallbacks.with_metadata == 1 and len(t.observed_shortlist) == 3


def _copies(result: SessionResult, count: int) -> list[SessionResult]:
    return [result.model_copy(update={"session_id": f"{result.session_id}-{i:03d}"}) for i in range(count)]  # fmt: skip


def _advice(tmp_path, name, sessions, about):
    store = make_store(tmp_path / f"{name}.db", sessions)
    return [line for line in build_report(store, REGISTRY).recommendations if about in line]


def test_a_duplicate_is_advised_on_evidence_not_on_a_session_count(tmp_path):
    """The rule: Wilson 95% lower bound of a named model's duplicate rate above 25%,
    whatever the number of sessions. A duplicates named Mini exactly; F does not."""
    a, f = fixed_sessions()[0], fixed_sessions()[5]
    # 4 of 6: p .667, Wilson centre (.6667 + .3201) / 1.6403 = .6016, half
    # 1.96 * sqrt(.6667 * .3333 / 6 + 3.8415 / 144) / 1.6403 = .3016 -> [.3000, .9032] > .25.
    assert _advice(tmp_path, "four", _copies(a, 4) + _copies(f, 2), "duplicated") == [
        "balanced: the Pareto seat duplicated openai/gpt-5.4-mini in 4 of 6 sessions (67%, "
        "95% CI 30%–90%); drop that named seat or move the Pareto seat to another tier"
    ]
    # 1 of 6: Wilson [.0301, .5635]; 5 of 40: p .125, centre .1578, half .1032 -> lower .0546.
    assert _advice(tmp_path, "one", _copies(a, 1) + _copies(f, 5), "duplicated") == []
    assert _advice(tmp_path, "five", _copies(a, 5) + _copies(f, 35), "duplicated") == []
    assert wilson_ci95(4, 6) == (0.3, 0.9032) and wilson_ci95(1, 6)[0] == 0.0301
    assert wilson_ci95(5, 40)[0] == 0.0546


def test_drift_paired_and_price_advice_name_their_numbers(tmp_path):
    a, b, c = fixed_sessions()[:3]
    # drift 10 of 22: Wilson lower bound .2692 >= .10 (centre .4613, half .1921);
    # 12 above-band reviews among 10 * 2 + 12 * 2 = 44 Pareto calls.
    advice = build_report(
        make_store(tmp_path / "drift.db", _copies(c, 10) + _copies(b, 12)), REGISTRY
    ).recommendations
    assert any(
        "for its review than for its answer in 10 of 22 sessions (45%, 95% CI 27%–65%)" in line
        for line in advice
    )
    assert any(a.startswith("balanced: 12 of 44 Pareto calls were billed above") for a in advice)
    # Three sessions of A: the Pareto seat is ranked last each time (0 against the named .5
    # and 1, d = -.75 in every session), so every bootstrap resample's mean is -.75: the
    # interval [-.75, -.75] excludes zero after three sessions, where 20 were once required.
    paired = _advice(tmp_path, "paired", _copies(a, 3), "peers rank")
    assert paired == [
        "balanced: peers rank the Pareto seat below the named seats of the same sessions (mean "
        "Borda difference -0.75 (95% CI -0.75 to -0.75) over 3 sessions, 0 won, 3 lost, 0 "
        "tied); raise its min_coding_score or replace it with a named model"
    ]
    # B and F: the Pareto seat first (1 vs .0 and .5: d = +.75) in all 4 sessions.
    above = _advice(tmp_path, "above", _copies(b, 2) + _copies(fixed_sessions()[5], 2), "peers")
    assert len(above) == 1 and "above the named seats" in above[0]
    assert "+0.75 (95% CI +0.75 to +0.75) over 4 sessions, 4 won" in above[0]


def test_report_cli_formats(store, tmp_path, monkeypatch):
    from llm_council.cli import app

    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", store.url_for_humans)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # no user overlay
    runner = CliRunner()
    out = runner.invoke(app, ["report", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == build_report(store, REGISTRY).model_dump(mode="json")
    html_file = tmp_path / "r.html"
    written = runner.invoke(app, ["report", "--format", "html", "--output", str(html_file)])
    assert written.exit_code == 0 and html_file.read_text().startswith("<!DOCTYPE html>")
    assert "## balanced" in runner.invoke(app, ["report", "--format", "markdown"]).stdout
    table = runner.invoke(app, ["report", "--since", "3650d", "--tier", "balanced"])
    assert table.exit_code == 0 and "balanced" in table.stdout and "quick" not in table.stdout
    dated = runner.invoke(app, ["report", "--since", "2026-11-22", "--format", "json"])
    assert json.loads(dated.stdout)["window"]["sessions"] == 2
    text_file = tmp_path / "r.txt"
    assert runner.invoke(app, ["report", "--output", str(text_file)]).exit_code == 0
    assert "duplicate rate" in text_file.read_text()
    for bad in (["--since", "yesterday-ish"], ["--tier", "huge"], ["--last", "0"]):
        assert runner.invoke(app, ["report", *bad]).exit_code == 2, bad


def test_an_unwritable_output_is_bad_input(tmp_path, monkeypatch):
    """`report -o` into a directory that does not exist: one error line, exit 2."""
    from typer.testing import CliRunner

    from llm_council.cli import app

    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", f"sqlite:///{tmp_path / 'a.db'}")
    target = tmp_path / "missing" / "r.html"
    done = CliRunner().invoke(app, ["report", "--format", "html", "-o", str(target)])
    assert done.exit_code == 2
    assert done.stderr.count("\n") == 1 and "cannot write --output" in done.stderr
    assert not target.exists()
