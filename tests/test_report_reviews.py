"""Stage 2 figures of the report against values computed by hand on a small fixed store:
the paired Pareto-vs-named comparison, reviewer agreement (Kendall's W), position bias, and
Borda with and without judges; their statistics; how every format shows them.

The store is written through the real store API, so the per-session columns the report
aggregates (``sessions.kendall_w``, ``kendall_w_chance``, ``paired_diff``) and the
``reviews`` rows are the store's own. Every expected number is worked out next to it.
"""

from __future__ import annotations

import io
import itertools
import math
import random
import re
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from sqlalchemy import inspect, select

from llm_council.audition import schema
from llm_council.audition.report import build_report
from llm_council.audition.report_html import render_html
from llm_council.audition.report_render import render_markdown, render_table
from llm_council.audition.report_stats import (
    bootstrap_mean_ci95,
    paired_diff,
    session_agreement,
    wilson_ci95,
)
from llm_council.audition.rows import session_rows
from llm_council.audition.store import AuditionStore
from llm_council.council.result import (
    CallRecord,
    ChairmanResult,
    RankingEntry,
    ReviewResult,
    SeatResult,
    SessionResult,
)
from llm_council.gateway.router_metadata import RouterCandidate, RouterMetadata
from llm_council.textsafe import terminal_text
from tests.audition_data import make_session, write_v1_store
from tests.pg import postgres_server, postgres_url  # noqa: F401  (fixtures)
from tests.test_report import REGISTRY, make_store
from tests.test_report_hostile import EVIL_TIER, RAW_CONTROLS
from tests.test_report_html import parse

PARETO = "openrouter/pareto-code"
MINI, SONNET, KIMI = "openai/gpt-5.4-mini", "anthropic/claude-sonnet-4.6", "moonshotai/kimi-k2.6"
FLASH, HAIKU, GROK = "google/gemini-3-flash-preview", "anthropic/claude-haiku-4.5", "x-ai/grok-4.3"
OPUS = "anthropic/claude-opus-4.7"
BALANCED = (MINI, SONNET, PARETO)  # s3 is the Pareto seat; it resolves to Kimi


def review(reviewer, order, ranking, judge=False):
    return ReviewResult(
        reviewer_seat=reviewer, resolved_model=OPUS if judge else None, ranking=ranking,
        abstained=not ranking, parse="json" if ranking else "none", order=order, judge=judge,
        requested_model=OPUS if judge else None,
    )  # fmt: skip


def stage2(sid, tier, models, borda, peers, ranking, reviews, minute=0):
    """A session of three seats (s1..s3) whose Borda, Borda without judges, final order and
    reviews are given: they are consistent with each other, as worked out per session."""
    seats = [
        SeatResult(
            seat_id=f"s{n}", requested_model=m, resolved_model=KIMI if m == PARETO else m,
            status="ok", borda=borda[n - 1], borda_peers=peers[n - 1], votes=2,
            min_coding_score=0.5 if m == PARETO else None,
        )
        for n, m in enumerate(models, start=1)
    ]  # fmt: skip
    return SessionResult(
        session_id=sid, created_at=datetime(2026, 11, 24, 12, minute, tzinfo=UTC), tier=tier,
        mode="coding", status="ok", gateway="sandbox", prompt="q", seats=seats,
        ranking=[RankingEntry(seat_id=s, borda=borda[int(s[1]) - 1], votes=2) for s in ranking],
        reviews=reviews,
        chairman=ChairmanResult(requested_model=OPUS, resolved_model=OPUS, status="ok"),
    )  # fmt: skip


def fixed_stage2() -> list[SessionResult]:
    """P1 agree: everyone ranks s3 > s1 > s2. Ballots of 2 score 1 and 0: Borda s3 (1, 1) = 1,
    s1 (0 from s2, 1 from s3) = .5, s2 (0, 0) = 0. P2 a cycle: s1 prefers s2 > s3, s2 prefers
    s3 > s1, s3 prefers s1 > s2: every Borda .5, the tie broken by label (s1, s2, s3).
    P3 judges only (the seats were not asked): three judges rank all three, s1 s2 s3 / s1 s3
    s2 / s2 s1 s3; ballots of 3 score 1, .5, 0: Borda s1 2.5/3, s2 1.5/3, s3 .5/3; no Borda
    from seats. P4 (quick, no Pareto seat) agrees on s1 > s2 > s3: Borda 1, .5, 0.
    Shown order per review: the top choice was the answer shown first in P1 for s1 only, in
    P2 for all three, in P3 for judge1 only, in P4 for s1 and s3."""
    third = 1 / 3
    return [
        stage2("p1", "balanced", BALANCED, (0.5, 0.0, 1.0), (0.5, 0.0, 1.0), ["s3", "s1", "s2"], [
            review("s1", ["s3", "s2"], ["s3", "s2"]),
            review("s2", ["s1", "s3"], ["s3", "s1"]),
            review("s3", ["s2", "s1"], ["s1", "s2"]),
        ], minute=1),
        stage2("p2", "balanced", BALANCED, (0.5,) * 3, (0.5,) * 3, ["s1", "s2", "s3"], [
            review("s1", ["s2", "s3"], ["s2", "s3"]),
            review("s2", ["s3", "s1"], ["s3", "s1"]),
            review("s3", ["s1", "s2"], ["s1", "s2"]),
        ], minute=2),
        stage2("p3", "balanced", BALANCED,
               (round(2.5 * third, 6), round(1.5 * third, 6), round(0.5 * third, 6)),
               (None,) * 3, ["s1", "s2", "s3"], [
            review("s1", [], []), review("s2", [], []), review("s3", [], []),
            review("judge1", ["s1", "s2", "s3"], ["s1", "s2", "s3"], judge=True),
            review("judge2", ["s2", "s3", "s1"], ["s1", "s3", "s2"], judge=True),
            review("judge3", ["s3", "s1", "s2"], ["s2", "s1", "s3"], judge=True),
        ], minute=3),
        stage2("p4", "quick", (FLASH, HAIKU, GROK), (1.0, 0.5, 0.0), (1.0, 0.5, 0.0),
               ["s1", "s2", "s3"], [
            review("s1", ["s2", "s3"], ["s2", "s3"]),
            review("s2", ["s3", "s1"], ["s1", "s3"]),
            review("s3", ["s1", "s2"], ["s1", "s2"]),
        ], minute=4),
    ]  # fmt: skip


@pytest.fixture
def store(tmp_path):
    return make_store(tmp_path / "stage2.db", fixed_stage2())


# -- per-session figures, as stored ---------------------------------------------------------


def test_each_session_stores_its_agreement_and_paired_difference(store):
    s = schema.sessions
    with store.engine().connect() as conn:
        rows = {
            r[0]: tuple(r[1:])
            for r in conn.execute(
                select(s.c.session_id, s.c.kendall_w, s.c.kendall_w_chance, s.c.paired_diff)
            )
        }
    # P1: centred scores (ballots of 2: +1, -1) sum to s3 +2, s1 0, s2 -2 -> spread 8; every
    # reviewer already ranked in the final order, so the ceiling is 8 too: W = 1. Random
    # ballots: 3 ballots x (1 + 1) = 6 expected -> chance 6/8 = .75. d = 1 - (.5 + 0)/2.
    # P2: every seat +1 once and -1 once -> spread 0, W = 0; in the final order s1 s2 s3 the
    # ballots would give s1 +2, s2 0, s3 -2 -> ceiling 8, chance .75. d = .5 - .5 = 0.
    # P3 (complete ballots of 3: +1, 0, -1): s1 2, s2 0, s3 -2 -> 8; ceiling 3^2 + 0 + 3^2 =
    # 18: W = 8/18, which is Kendall's 12 S / (m^2 (n^3 - n)) with rank sums 4, 6, 8 (S = 8):
    # 96/216. Chance 6/18 = 1/m. d = .166667 - (.833333 + .5)/2 = -.5.
    # P4: W 1, chance .75; no Pareto seat, no d.
    assert rows == {
        "p1": (1.0, 0.75, 0.75),
        "p2": (0.0, 0.75, 0.0),
        "p3": (0.444444, 0.333333, -0.5),
        "p4": (1.0, 0.75, None),
    }


def test_session_agreement_by_hand():
    # Four seats, each ranking the other three in one shared order: W 1. Ballots of 3 score
    # +1, 0, -1: the consensus gives the 1st seat +1 x 3, the 2nd +1 (from the 1st) + 0 x 2,
    # the 3rd 0 + -1... -> 3, 1, -1, -3: ceiling 20; random ballots 4 x 2 = 8 -> .4.
    order = ["a", "b", "c", "d"]
    ballots = [[x for x in order if x != me] for me in order]
    assert session_agreement(ballots, order) == (1.0, 0.4)
    # Nothing to agree on: one ballot; ballots sharing no seat; ballots of one seat.
    assert session_agreement([["a", "b"]], ["a", "b"]) is None
    assert session_agreement([["a", "b"], ["c", "d"]], ["a", "b", "c", "d"]) is None
    assert session_agreement([["a"], ["a"]], ["a"]) is None
    # A seat named twice counts its first place: ["a", "b", "a"] is the ballot a > b.
    assert session_agreement([["a", "b", "a"], ["a", "b"]], ["a", "b"]) == (1.0, 0.5)
    # Opposite ballots cancel: W 0.
    assert session_agreement([["a", "b"], ["b", "a"]], ["a", "b"]) == (0.0, 0.5)


def _classic_w(ballots: list[list[str]]) -> float:
    m, n = len(ballots), len(ballots[0])
    sums = Counter(seat for b in ballots for pos, seat in enumerate(b) for _ in range(pos + 1))
    mean = m * (n + 1) / 2
    return 12 * sum((sums[s] - mean) ** 2 for s in ballots[0]) / (m**2 * (n**3 - n))


@settings(max_examples=200, deadline=None)
@given(
    m=st.integers(2, 6),
    n=st.integers(2, 6),
    seed=st.integers(0, 2**32),
)
def test_complete_ballots_give_kendalls_w_exactly(m, n, seed):
    """When every reviewer ranks every answer, W is Kendall's W (no ties), whatever order
    the council settled on, and chance is 1/m (Kendall's W's own expectation)."""
    rng = random.Random(seed)
    seats = [f"s{i}" for i in range(n)]
    ballots = [rng.sample(seats, n) for _ in range(m)]
    w, chance = session_agreement(ballots, rng.sample(seats, n))
    assert w == pytest.approx(_classic_w(ballots), abs=1e-6)
    assert chance == pytest.approx(1 / m, abs=1e-6)


def test_paired_difference_by_hand():
    assert paired_diff([0.75], [0.5, 1.0]) == 0.0
    assert paired_diff([1.0], [0.0, None, 0.5]) == 0.75  # a seat without Borda left out
    assert paired_diff([None], [0.5]) is None and paired_diff([0.5], []) is None
    assert math.copysign(1, paired_diff([0.5], [0.5])) == 1  # never -0.0


# -- the bootstrap ---------------------------------------------------------------------------


def test_bootstrap_interval_by_hand():
    assert bootstrap_mean_ci95({0.25: 7}) == (0.25, 0.25)  # no spread, no width
    assert bootstrap_mean_ci95({0.5: 1}) is None and bootstrap_mean_ci95({}) is None
    # Two values: each extreme resample (both draws the same value) has probability 1/4,
    # well above 2.5%, so the interval is [min, max].
    assert bootstrap_mean_ci95({-0.75: 1, 0.75: 1}) == (-0.75, 0.75)
    # Seeded and order-free: the same values give the same interval however they arrive.
    a = bootstrap_mean_ci95(Counter({0.1: 3, -0.2: 5, 0.7: 2}))
    assert a == bootstrap_mean_ci95(dict(reversed(list({0.1: 3, -0.2: 5, 0.7: 2}.items()))))


def test_bootstrap_switches_to_its_normal_limit_without_a_visible_step():
    """At the switch-over size, on a skewed sample (10% ones), the percentile bootstrap and
    mean +- z * sd / sqrt(n) agree to well under the 0.01 a report shows."""
    counts = {0.0: 180, 1.0: 20}
    exact = bootstrap_mean_ci95(counts)  # 200 values: still the bootstrap
    limit = bootstrap_mean_ci95(counts, max_n=0)
    # Limit: mean .1, sd .3, se .3 / sqrt(200) = .021213 -> .1 -+ .041577.
    assert limit == (0.0584, 0.1416)
    assert exact is not None and exact != limit
    assert all(abs(e - x) < 0.01 for e, x in zip(exact, limit, strict=True))
    # One more value and the limit takes over: mean 20/201 = .099502, sd .299336, se .021114,
    # half .041382 -> (.058121, .140885).
    assert bootstrap_mean_ci95({0.0: 181, 1.0: 20}) == (0.0581, 0.1409)


# -- the report over the fixed store -----------------------------------------------------------


def test_balanced_stage2_figures_by_hand(store):
    t = build_report(store, REGISTRY).tiers["balanced"]
    # d: P1 +.75, P2 0, P3 -.5 -> mean .083333; one each of win, tie and loss. Bootstrap of
    # 3 values: a resample of three -.5s (or three .75s) has probability 1/27 = .037 > .025,
    # so the 2.5% and 97.5% points are the extremes.
    assert t.paired.model_dump() == {
        "sessions": 3, "mean_diff": 0.0833, "ci95": [-0.5, 0.75],
        "wins": 1, "losses": 1, "ties": 1,
    }  # fmt: skip
    # W 1, 0, .444444 -> mean .481481; chance (.75 + .75 + .333333) / 3 = .611111. Beyond
    # chance: (1 - .75)/.25 = 1, (0 - .75)/.25 = -3, (.444444 - .333333)/.666667 = .166667
    # -> mean -.611111. W's t interval: sd .501028, se .289268, t(2) 4.3027 -> [0, 1].
    a = t.agreement
    assert (a.kendall_w, a.sessions, a.chance_w, a.ci95) == (0.4815, 3, 0.6111, [0.0, 1.0])
    assert (a.beyond_chance, a.beyond_chance_sessions) == (-0.6111, 3)
    # beyond: sum sq 1 + 9 + .027778, var (10.027778 - 3 * .373457) / 2 = 4.453704,
    # se 1.218429, half 4.3027 * se = 5.242539 -> [-5.85365, 1 (capped)]; from the stored
    # 6-place W and chance (P3's .1666664) the lower end rounds to -5.8536.
    assert a.beyond_chance_ci95 == [-5.8536, 1.0]
    # Position bias: 9 reviews shown two answers or more (P3's three not-asked seats have no
    # top choice); first shown on top: P1 1, P2 3, P3 1 = 5. Chance (6 x 1/2 + 3 x 1/3) / 9.
    b = t.position_bias
    assert (b.reviews, b.first_choices, b.first_choice_rate, b.chance_rate) == (
        9,
        5,
        0.5556,
        0.4444,
    )
    assert b.ci95 == list(wilson_ci95(5, 9))
    # With judges (seats.borda): Pareto 1, .5, .166667 -> .555556 (n 3); named of P1-P3.
    assert (t.peer_review.pareto.mean_borda, t.peer_review.pareto.n) == (0.5556, 3)
    # Without them (borda_peers; P3 had only judges): Pareto 1, .5 -> .75; named .5 0 .5 .5
    # -> .375, sd .25, se .125, t(3) 3.1824 -> [-.0228 -> 0, .7728]. One judged session.
    w = t.peer_review.without_judges
    assert w.model_dump() == {
        "pareto": {"mean_borda": 0.75, "ci95": [0.0, 1.0], "n": 2},
        "named": {"mean_borda": 0.375, "ci95": [0.0, 0.7728], "n": 4},
        "judged_sessions": 1,
    }


def test_quick_and_overall_stage2_figures_by_hand(store):
    report = build_report(store, REGISTRY)
    q, o = report.tiers["quick"], report.overall
    # quick: no Pareto seat -> no paired session: zeros and nulls, not an error.
    assert q.paired.model_dump() == {
        "sessions": 0, "mean_diff": None, "ci95": None, "wins": 0, "losses": 0, "ties": 0,
    }  # fmt: skip
    assert q.agreement.model_dump() == {"kendall_w": 1.0, "sessions": 1}
    assert q.agreement.ci95 is None  # one session: no interval
    assert q.position_bias.model_dump() == {
        "reviews": 3, "first_choice_rate": 0.6667, "chance_rate": 0.5,
    }  # fmt: skip
    # overall: W (1 + 0 + .444444 + 1) / 4 = .611111, chance (3 x .75 + .333333) / 4
    # = .645833; position 7 of 12 (.5833), chance (9 x 1/2 + 3 x 1/3) / 12 = .458333.
    assert (o.agreement.kendall_w, o.agreement.sessions, o.agreement.chance_w) == (
        0.6111,
        4,
        0.6458,
    )
    assert o.paired == report.tiers["balanced"].paired
    assert (o.position_bias.reviews, o.position_bias.first_choice_rate) == (12, 0.5833)
    assert o.position_bias.chance_rate == 0.4583
    assert o.peer_review.without_judges.judged_sessions == 1
    # Windows apply to every stage 2 figure: P3 and P4 only.
    late = build_report(store, REGISTRY, since=datetime(2026, 11, 24, 12, 3, tzinfo=UTC))
    assert late.overall.agreement.sessions == 2 and late.overall.paired.sessions == 1
    assert late.overall.position_bias.reviews == 6
    assert late.overall.peer_review.without_judges.judged_sessions == 1


@pytest.mark.postgres
def test_postgres_gives_the_same_stage2_figures(store, request):
    pg = make_store(request.getfixturevalue("postgres_url"), fixed_stage2())
    try:
        for window in ({}, {"tier": "balanced"}, {"last": 2}):
            assert build_report(pg, REGISTRY, **window) == build_report(store, REGISTRY, **window)
    finally:
        pg.close()


# -- advice from the stage 2 evidence ---------------------------------------------------------


def _copies(result: SessionResult, count: int) -> list[SessionResult]:
    return [
        result.model_copy(update={"session_id": f"{result.session_id}-{i:03d}"})
        for i in range(count)
    ]


def test_low_agreement_and_position_bias_are_advised_with_their_numbers(tmp_path):
    p1, p2 = fixed_stage2()[:2]
    # 10 cycles and 2 agreeing sessions: beyond chance (2 x 1 + 10 x -3) / 12 = -2.3333,
    # sd 1.5570, se .4495, t(11) 2.2010 -> upper -1.3440 < .2: reviewers barely agree.
    # Position bias: P2's reviews always pick the first shown: 30 + 2 of 36, chance 50%;
    # Wilson [.7467, .9637] lies above .5.
    advice = build_report(
        make_store(tmp_path / "low.db", _copies(p2, 10) + _copies(p1, 2)), REGISTRY
    ).recommendations
    assert (
        "balanced: reviewers barely agree: Kendall's W 0.17 against 0.75 from random ballots, "
        "agreement beyond chance -2.33 (95% CI -3.32 to -1.34) over 12 sessions; their Borda "
        "carries little signal, so add a judge or more seats before acting on it"
    ) in advice
    assert (
        "balanced: reviewers put the answer shown first on top in 32 of 36 reviews (89%, 95% CI "
        "75%–96%) against 50% by chance; the council rotates the order per reviewer, so this "
        "cancels out of Borda, but such reviews say less about the answers: consider a "
        "stronger reviewing model"
    ) in advice
    # The fixed store: agreement's upper bound is 1, 5 of 9 firsts are within chance.
    quiet = build_report(make_store(tmp_path / "q.db", fixed_stage2()), REGISTRY)
    assert not [a for a in quiet.recommendations if "agree" in a or "shown first" in a]


# -- every format shows them --------------------------------------------------------------------


def test_table_and_markdown_show_the_stage2_figures(store):
    report = build_report(store, REGISTRY)
    out = io.StringIO()
    render_table(Console(file=out, width=300, force_terminal=False), report)
    markdown = render_markdown(report)
    for text in (out.getvalue(), markdown):
        assert "+0.08 [-0.50, +0.75] over 3 sessions · won 1 · lost 1 · tied 1" in text
        assert "Kendall's W 0.48 [0.00, 1.00] over 3 sessions · random ballots 0.61" in text
        assert "beyond chance -0.61 [-5.85, +1.00]" in text
        assert "shown-first answer on top in 56%" in text and "of 9 reviews · chance 44%" in text
        assert "0.75 [0.00, 1.00] n=2 vs 0.38 [0.00, 0.77] n=4 (judges reviewed 1 sessions)" in text
        assert "no data (no session with a Borda score on both sides)" in text  # quick
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert all(line.count(" | ") == 1 for line in rows)  # the new rows stay one cell each


def test_html_draws_the_stage2_charts_to_scale(store):
    page = parse(render_html(build_report(store, REGISTRY)))
    paired = page.charts["chart-paired"]
    zero = next(s for s in paired.shapes if s.tag == "line" and s.attrs["stroke"] == "#999")
    point = next(s for s in paired.shapes if s.tag == "rect" and s.title == "balanced: 0.0833")
    half_width = 180  # the value axis is 360 px for -1..1
    centre = point.num("x") + 4
    assert centre - zero.num("x1") == pytest.approx(0.0833 * half_width, abs=0.2)
    whisker = next(s for s in paired.shapes if s.tag == "path" and s.title.startswith("balanced"))
    assert "-0.50–0.75" in whisker.title
    assert {"balanced", "quick", "overall", "+0.08 n=3 (1/1/1)", "no data"} <= set(paired.texts)
    agreement = page.charts["chart-agreement"]
    chance = next(
        s for s in agreement.shapes if s.tag == "line" and s.title == "quick: chance 0.75"
    )
    q_point = next(s for s in agreement.shapes if s.tag == "rect" and s.title == "quick: 1.0000")
    o_point = next(s for s in agreement.shapes if s.tag == "rect" and s.title == "overall: 0.6111")
    axis_left = q_point.num("x") + 4 - 360  # W = 1 sits at the right end of a 360 px axis
    assert chance.num("x1") - axis_left == pytest.approx(0.75 * 360, abs=0.2)
    assert o_point.num("x") + 4 - axis_left == pytest.approx(0.6111 * 360, abs=0.2)
    assert "W 0.48 n=3 (chance 0.61)" in agreement.texts
    position = page.charts["chart-position"]
    assert "56% of 9 (chance 44%)" in position.texts and "67% of 3 (chance 50%)" in position.texts


def test_stage2_charts_keep_a_hostile_tier_name_whole_and_inert(tmp_path):
    evil = [s.model_copy(update={"tier": EVIL_TIER}) for s in fixed_stage2()[:2]]
    text = render_html(build_report(make_store(tmp_path / "evil.db", evil), REGISTRY))
    page = parse(text)
    assert not RAW_CONTROLS.search(text) and "[/x]" in text
    shown = terminal_text(EVIL_TIER)
    for chart_id in ("chart-paired", "chart-agreement", "chart-position"):
        chart = page.charts[chart_id]
        assert shown in chart.texts, chart_id  # drawn whole, escapes visible
        # The label column is as wide as the longest label at 7 px a character.
        svg = text[text.index(f'<svg id="{chart_id}"') :]
        svg = svg[: svg.index("</svg>")]
        label_x = re.findall(r'<text x="([\d.]+)" y="[\d.]+" font-size="11" text-anchor="end"', svg)
        assert label_x and min(float(x) for x in label_x) >= 7 * len(shown), chart_id


# -- the rows the report reads ------------------------------------------------------------------


def test_router_candidates_are_one_row_per_call_and_model():
    """OpenRouter lists endpoints (model, provider, selected) in ``openrouter_metadata``
    (docs: Router Metadata, https://openrouter.ai/docs/guides/features/router-metadata), so a
    model served by two providers appears twice: the store keeps it once per call, selected
    if either endpoint was, under the selected endpoint's provider. A chairman call naming
    the Pareto router is not a Pareto seat call."""
    result = make_session(1, routed=True)
    meta = RouterMetadata(
        strategy="pareto",
        candidates=(
            RouterCandidate(model=MINI, provider="Azure", selected=False),
            RouterCandidate(model=KIMI, provider="Moonshot", selected=False),
            RouterCandidate(model=MINI, provider="OpenAI", selected=True),
        ),
    )
    answer = next(i for i, c in enumerate(result.calls) if c.requested_model == PARETO)
    result.calls[answer] = result.calls[answer].model_copy(update={"router": meta})
    chair = CallRecord(
        stage="chairman", seat_id="chairman", requested_model=PARETO, resolved_model=MINI,
        status="ok", started_at=result.created_at, latency_ms=1.0, router=meta,
    )  # fmt: skip
    result.calls.append(chair)
    rows = session_rows(result, REGISTRY)["router_candidates"]
    mine = [r for r in rows if r["call_seq"] == answer]
    assert [(r["model"], r["provider"], r["selected"], r["is_pareto"]) for r in mine] == [
        (MINI, "OpenAI", True, True),
        (KIMI, "Moonshot", False, True),
    ]
    chairman = [r for r in rows if r["call_seq"] == len(result.calls) - 1]
    assert len(chairman) == 2 and not any(r["is_pareto"] for r in chairman)
    attempts = session_rows(result, REGISTRY)["router_attempts"]
    assert attempts and all(r["is_pareto"] for r in attempts)


def test_candidate_ids_that_store_alike_are_one_candidate(tmp_path):
    """Unpaired surrogates become U+FFFD in plain columns (rows.session_rows): two listed ids
    differing only there are one stored model, so the session is stored, not refused by
    the one-row-per-(call, model) constraint."""
    result = make_session(3, routed=True)
    meta = RouterMetadata(
        strategy="pareto",
        candidates=(
            RouterCandidate(model="x/\ud800", provider="A"),
            RouterCandidate(model="x/\udfff", provider="B", selected=True),
        ),
    )
    answer = next(i for i, c in enumerate(result.calls) if c.requested_model == PARETO)
    result.calls[answer] = result.calls[answer].model_copy(update={"router": meta})
    store = AuditionStore(f"sqlite:///{tmp_path / 's.db'}")
    assert store.write_session(result, REGISTRY) is True
    shortlist = build_report(store, REGISTRY).overall.observed_shortlist
    assert ("x/\ufffd", 1, 1) in [(m.model, m.seen, m.selected) for m in shortlist]
    store.close()


def test_a_v1_store_is_upgraded_with_the_report_indexes(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    write_v1_store(url, [make_session(1)])
    store = AuditionStore(url)
    assert store.schema_version() == 4
    with store.engine().connect() as conn:
        found = inspect(conn)
        names = {i["name"] for t in ("sessions", "seats", "calls") for i in found.get_indexes(t)}
        assert {
            "ix_sessions_report", "ix_sessions_stage2", "ix_seats_report", "ix_seats_days",
            "ix_calls_report", "ix_calls_router",
        } <= names  # fmt: skip
        assert not {"ix_sessions_tier_created", "ix_calls_tier_pareto"} & names
        columns = {c["name"] for c in found.get_columns("sessions")}
        assert {"kendall_w", "kendall_w_chance", "paired_diff"} <= columns
        # The seats of the old session took its tier and day.
        st = schema.seats
        assert set(conn.execute(select(st.c.tier, st.c.day)).all()) == {("balanced", "2026-11-24")}
    # The old session has no stage 2 figures (not backfilled); a new one has.
    store.write_session(make_session(2, judges=1), REGISTRY)
    report = build_report(store, REGISTRY).overall
    assert report.sessions == 2 and report.paired.sessions == 1
    assert report.agreement.sessions == 1 and report.peer_review.without_judges.judged_sessions == 1
    store.close()


def test_a_read_only_v1_store_is_reported_for_what_it_has(tmp_path):
    """A store behind version 2 that cannot be upgraded (read-only) still gets its report:
    the version 1 figures, and empty stage 2 and router figures rather than an error."""
    path = tmp_path / "old.db"
    old = [make_session(1), make_session(2, pareto_model=KIMI)]
    write_v1_store(f"sqlite:///{path}", old)
    store = AuditionStore(f"sqlite:///file:{path}?mode=ro&uri=true")
    report = build_report(store, REGISTRY)
    t = report.tiers["balanced"]
    assert (t.sessions, t.seats, t.pareto_seats) == (2, 8, 2)
    assert t.peer_review.pareto.n == 2 and t.peer_review.without_judges.pareto.n == 0
    assert t.paired.sessions == 0 and t.agreement.sessions == 0 and t.position_bias.reviews == 0
    assert t.observed_shortlist == [] and t.fallbacks.with_metadata == 0
    assert store.schema_version() == 1  # read as it is, never upgraded
    store.close()


def test_sorted_ballots_never_change_the_figures():
    """The per-session figures depend on the ballots, not on the order reviews arrive in."""
    ballots = [["s1", "s2", "s3"], ["s1", "s3", "s2"], ["s2", "s1", "s3"]]
    first = session_agreement(ballots, ["s1", "s2", "s3"])
    for perm in itertools.permutations(ballots):
        assert session_agreement(perm, ["s1", "s2", "s3"]) == first
