"""Stage 2 in the store: ``reviews``, ``review_ranks`` and ``seats.borda_peers`` (schema v2).

They exist so reports can compute, in SQL over many sessions, position bias (did the
reviewer pick the answer it was shown first?), agreement between reviewers (Kendall's W from
per-seat rank sums), Borda with and without judges, and the Pareto-vs-named paired
comparison. These tests write sessions through the real store (SQLite and PostgreSQL), check
the rows against the ReviewResults they came from, and run those aggregates' SQL.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import case, func, select

from llm_council.audition import schema
from llm_council.audition.logger import AuditionLogger
from llm_council.audition.rows import session_rows
from llm_council.audition.store import AuditionStore
from llm_council.council.result import ReviewResult, SessionResult
from tests.audition_data import OPUS, PARETO, make_session, registry
from tests.pg import postgres_server, postgres_url  # noqa: F401  (fixtures)

REG = registry()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audition.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    opened = AuditionStore(url)
    yield opened
    opened.close()


def review(reviewer: str, order: list[str], ranking: list[str], **extra) -> ReviewResult:
    return ReviewResult(
        reviewer_seat=reviewer,
        resolved_model=extra.pop("resolved_model", None),
        ranking=ranking,
        abstained=not ranking,
        parse="json" if ranking else "none",
        order=order,
        **extra,
    )


def with_reviews(result: SessionResult, reviews: list[ReviewResult]) -> SessionResult:
    result.reviews = reviews
    return result


# -- rows ----------------------------------------------------------------------------------


def test_each_review_is_a_row_with_what_position_bias_needs(store):
    result = make_session(1, judges=1)
    assert store.write_session(result, REG) is True
    rv = schema.reviews
    with store.engine().connect() as conn:
        rows = conn.execute(select(rv).order_by(rv.c.seq)).mappings().all()
    assert [r["reviewer"] for r in rows] == ["s1", "s2", "s3", "s4", "judge1"]
    for row, source in zip(rows, result.reviews, strict=True):
        assert row["session_id"] == result.session_id and row["tier"] == "balanced"
        assert row["judge"] is source.judge and row["abstained"] is False
        assert row["status"] == "ok" and row["parse"] == "json"
        assert row["resolved_model"] == source.resolved_model
        assert row["shown_first"] == source.order[0] and row["top_choice"] == source.ranking[0]
        assert row["candidates"] == len(source.order)
        assert json.loads(row["order_json"]) == source.order
        assert json.loads(row["ranking_json"]) == source.ranking
    # Seats review with their own model; a judge with the one it was given.
    assert [r["requested_model"] for r in rows] == [s.requested_model for s in result.seats] + [
        OPUS
    ]
    assert rows[3]["requested_model"] == PARETO
    assert [r["candidates"] for r in rows] == [3, 3, 3, 3, 4]  # a judge sees every answer
    # The judge's ballot is its shown order reversed: never its first-shown answer on top.
    assert rows[4]["top_choice"] != rows[4]["shown_first"]


def test_rankings_are_flattened_best_first(store):
    result = make_session(2, judges=1)
    store.write_session(result, REG)
    rr = schema.review_ranks
    with store.engine().connect() as conn:
        rows = conn.execute(
            select(rr.c.reviewer, rr.c.position, rr.c.seat_id, rr.c.judge, rr.c.tier).order_by(
                rr.c.reviewer, rr.c.position
            )
        ).all()
    expected = sorted(
        (r.reviewer_seat, pos, seat, r.judge, "balanced")
        for r in result.reviews
        for pos, seat in enumerate(r.ranking)
    )
    assert sorted(rows) == expected and len(rows) == 4 * 3 + 4


def test_borda_with_and_without_judges_are_both_kept(store):
    result = make_session(3, judges=1)
    store.write_session(result, REG)
    st_ = schema.seats
    with store.engine().connect() as conn:
        rows = conn.execute(select(st_.c.seat_id, st_.c.borda, st_.c.borda_peers)).all()
    assert {r[0]: (r[1], r[2]) for r in rows} == {
        s.seat_id: (s.borda, s.borda_peers) for s in result.seats
    }
    # The judge's vote moved every score: with and without judges really differ here.
    assert all(s.borda != s.borda_peers for s in result.seats)


def test_abstentions_failures_and_repeated_votes(store):
    """A reviewer not asked (no order), a failed review call, and a hand-made ballot that
    names a seat twice: only the first mention counts, as ``parse_ranking`` would keep it."""
    result = with_reviews(
        make_session(4),
        [
            review("s1", [], []),
            review("s2", ["s3", "s4", "s1"], [], status="timeout", error="no answer"),
            review("s3", ["s4", "s1", "s2"], ["s2", "s4", "s2", "s1"], resolved_model="m"),
        ],
    )
    store.write_session(result, REG)
    rv, rr = schema.reviews, schema.review_ranks
    with store.engine().connect() as conn:
        rows = {
            r[0]: tuple(r[1:])
            for r in conn.execute(
                select(
                    rv.c.reviewer,
                    rv.c.status,
                    rv.c.abstained,
                    rv.c.shown_first,
                    rv.c.top_choice,
                    rv.c.candidates,
                    rv.c.ranking_json,
                )
            )
        }
        ranks = conn.execute(
            select(rr.c.position, rr.c.seat_id).where(rr.c.reviewer == "s3").order_by(rr.c.position)
        ).all()
    assert rows == {
        "s1": ("ok", True, None, None, 0, "[]"),
        "s2": ("timeout", True, "s3", None, 3, "[]"),
        "s3": ("ok", False, "s4", "s2", 3, '["s2", "s4", "s1"]'),
    }
    assert ranks == [(0, "s2"), (1, "s4"), (2, "s1")]


@settings(max_examples=60, deadline=None)
@given(
    order=st.lists(st.sampled_from(["s1", "s2", "s3", "s4", "judge1"]), max_size=6),
    ranking=st.lists(st.sampled_from(["s1", "s2", "s3", "s4"]), max_size=8),
    judge=st.booleans(),
)
def test_review_rows_hold_their_invariants_for_any_ballot(order, ranking, judge):
    """Whatever a ReviewResult holds, its row says what it was shown first, what it ranked
    first, how many it was shown, and its ranks are the ballot without repeats."""
    result = with_reviews(
        make_session(5),
        [review("judge1" if judge else "s2", order, ranking, judge=judge)],
    )
    tables = session_rows(result, REG)
    (row,) = tables["reviews"]
    unique = list(dict.fromkeys(ranking))
    assert row["shown_first"] == (order[0] if order else None)
    assert row["top_choice"] == (unique[0] if unique else None)
    assert row["candidates"] == len(order) and json.loads(row["order_json"]) == order
    assert [(r["position"], r["seat_id"]) for r in tables["review_ranks"]] == list(
        enumerate(unique)
    )
    assert all(r["judge"] is judge for r in tables["review_ranks"])


# -- the aggregates reports run --------------------------------------------------------------


def test_position_bias_in_sql(store):
    """Share of counted reviews whose top choice was shown first, next to chance (mean of
    1/candidates): 2 of 3 against (1/3 + 1/3 + 1/2) / 3; an abstention counts for neither."""
    sessions = [
        with_reviews(
            make_session(6),
            [
                review("s1", ["s2", "s3", "s4"], ["s2", "s3", "s4"]),  # first shown, on top
                review("s2", ["s3", "s4", "s1"], ["s4", "s3", "s1"]),
                review("s3", [], []),  # not asked
            ],
        ),
        with_reviews(
            make_session(7, seats=3, tier="high"),
            [review("s1", ["s3", "s2"], ["s3", "s2"])],  # first shown, on top
        ),
    ]
    for result in sessions:
        store.write_session(result, REG)
    rv = schema.reviews
    query = select(
        func.count(),
        func.sum(case((rv.c.top_choice == rv.c.shown_first, 1), else_=0)),
        func.avg(1.0 / rv.c.candidates),
    ).where(rv.c.top_choice.is_not(None))
    with store.engine().connect() as conn:
        n, first, chance = conn.execute(query).one()
    assert (n, first) == (3, 2)
    assert float(chance) == pytest.approx((1 / 3 + 1 / 3 + 1 / 2) / 3)
    by_choice = [
        r.chose_first_shown
        for r in store.get_reviews([sessions[0].session_id])[sessions[0].session_id]
    ]
    assert by_choice == [True, False, None]


def test_rank_sums_for_kendalls_w_in_sql(store):
    """Per-seat rank sums are one GROUP BY over review_ranks. Three judges ranking three
    answers identically agree completely (W = 1); a Latin square of rankings not at all
    (W = 0). W = 12 S / (m^2 (n^3 - n)), S the squared deviations of the rank sums."""
    agree, disagree = make_session(8, seats=3), make_session(9, seats=3)
    ballots = {
        agree.session_id: [["s1", "s2", "s3"]] * 3,
        disagree.session_id: [["s1", "s2", "s3"], ["s2", "s3", "s1"], ["s3", "s1", "s2"]],
    }
    for result in (agree, disagree):
        with_reviews(
            result,
            [
                review(f"judge{n}", ["s1", "s2", "s3"], ballot, judge=True)
                for n, ballot in enumerate(ballots[result.session_id], start=1)
            ],
        )
        store.write_session(result, REG)
    rr = schema.review_ranks
    query = (
        select(rr.c.session_id, rr.c.seat_id, func.sum(rr.c.position + 1), func.count())
        .where(rr.c.judge.is_(True))
        .group_by(rr.c.session_id, rr.c.seat_id)
    )
    sums: dict[str, list[int]] = {}
    with store.engine().connect() as conn:
        for session_id, _seat, rank_sum, m in conn.execute(query):
            assert m == 3
            sums.setdefault(session_id, []).append(int(rank_sum))

    def kendall_w(rank_sums: list[int], m: int) -> float:
        n = len(rank_sums)
        mean = m * (n + 1) / 2
        return 12 * sum((r - mean) ** 2 for r in rank_sums) / (m**2 * (n**3 - n))

    assert kendall_w(sums[agree.session_id], 3) == pytest.approx(1.0)
    assert kendall_w(sums[disagree.session_id], 3) == pytest.approx(0.0)
    # The per-session W the store keeps for reports (report_stats.session_agreement) is the
    # same Kendall's W when every reviewer ranks every answer; chance is 1/m.
    s = schema.sessions
    with store.engine().connect() as conn:
        kept = dict(conn.execute(select(s.c.session_id, s.c.kendall_w)).all())
        chance = set(conn.execute(select(s.c.kendall_w_chance)).scalars())
    assert kept == {agree.session_id: 1.0, disagree.session_id: 0.0}
    assert chance == {0.333333}


def test_paired_pareto_vs_named_in_sql(store):
    """Within each session: the Pareto seat's Borda minus the mean Borda of the named seats
    that have one (a failed seat has none), straight from ``seats``."""
    results = [make_session(10), make_session(11, failed_seat="s2"), make_session(12, judges=1)]
    for result in results:
        store.write_session(result, REG)
    s = schema.seats
    query = select(
        s.c.session_id,
        func.max(case((s.c.is_pareto, s.c.borda))),
        func.avg(case((s.c.is_pareto.is_(False), s.c.borda))),
        func.max(case((s.c.is_pareto, s.c.borda_peers))),
        func.avg(case((s.c.is_pareto.is_(False), s.c.borda_peers))),
    ).group_by(s.c.session_id)
    with store.engine().connect() as conn:
        got = {r[0]: tuple(float(v) for v in r[1:]) for r in conn.execute(query)}
    for result in results:
        named = [x for x in result.seats if not x.is_pareto and x.borda is not None]
        pareto = next(x for x in result.seats if x.is_pareto)
        expected = (
            pareto.borda,
            sum(x.borda for x in named) / len(named),
            pareto.borda_peers,
            sum(x.borda_peers for x in named) / len(named),
        )
        assert got[result.session_id] == pytest.approx(expected)


# -- a real session ------------------------------------------------------------------------


async def test_a_council_session_with_a_judge_is_stored_review_by_review(store, asgi_server):
    """A duplicate pool on the sandbox (over a socket): s1 and s3 resolve to one model, so
    neither may rank more than one answer and a judge steps in. Every review, the judge's
    and the two not-asked abstentions included, lands in ``reviews``; Borda without the
    judge lands in ``borda_peers``."""
    from llm_council.sandbox import SandboxOptions, create_app
    from tests.council_helpers import make_config, sandbox_council

    pool = ["openai/gpt-5.4-mini", "anthropic/claude-sonnet-4.6", PARETO]
    app = create_app(REG, SandboxOptions(seed=0, latency_ms=0))
    with asgi_server(app) as base_url:
        council, _ = sandbox_council(
            make_config({"balanced": pool}), app=app, base_url=f"{base_url}/api/v1"
        )
        council.audition = AuditionLogger(store, REG)
        result = await council.run(
            "Write a Python function that merges two sorted lists.", "balanced"
        )
        await council.aclose()
    assert not [n for n in result.notices if n.startswith("audition store unavailable")]
    stored = store.get_reviews([result.session_id])[result.session_id]
    assert [(r.reviewer, r.judge, r.order, r.ranking, r.abstained) for r in stored] == [
        (r.reviewer_seat, r.judge, r.order, r.ranking, r.abstained) for r in result.reviews
    ]
    judge = next(r for r in stored if r.judge)
    assert judge.reviewer == "judge1" and judge.requested_model == council.config.council.chairman
    assert judge.candidates == 3 and judge.shown_first == judge.order[0]
    assert judge.top_choice == judge.ranking[0]
    not_asked = [r for r in stored if r.reviewer in ("s1", "s3")]
    assert all(r.abstained and r.candidates == 0 and r.top_choice is None for r in not_asked)
    st_ = schema.seats
    with store.engine().connect() as conn:
        peers = dict(conn.execute(select(st_.c.seat_id, st_.c.borda_peers)).all())
    assert peers == {s.seat_id: s.borda_peers for s in result.seats}
    assert peers["s2"] is None  # only the judge could rank s2
    assert store.get_reviews(["no-such-session"]) == {}
