"""Duplicate, diversity, peer-review and cost reports over the audition store (ADR-043 phase 2).

Grouped queries return per-tier sufficient statistics (counts, sums, sums of squares, the
paired differences with their counts); the overall column merges them in Python, so no
query runs twice and nothing loops over calls. Each reads a covering index where the table
is large (ADR-004). Definitions:

- duplicate_rate.<kind>: share of the sessions *that had a Pareto seat* in which at least one
  Pareto seat carried a flag of that kind (a tier without Pareto seats reports 0.0).
- duplicated_seats: the named seats' models a Pareto seat was an exact or family duplicate of,
  counted once per session, as a share of the same sessions.
- peer review: mean Borda with a Student t 95% interval (from the sums; none when n < 2) and
  the first-place rate of Pareto vs named seats that received a Borda score; the same means
  from the seats' own reviews alone (``without_judges``, ``seats.borda_peers``).
- cost: Pareto vs named *seat* calls (the chairman's call is neither); above_band_calls are
  Pareto calls billed above their band's ceiling, the priciest band member's rates for the
  call's own tokens (band from the call's min_coding_score via ``pareto.band_for_score``).
- observed_shortlist / fallbacks: what the router itself reported on Pareto calls; see
  ``report_router`` for the exact definitions (``fallbacks.share`` is over the Pareto calls
  that carried router metadata; an empty window gives ``[]`` and zeros, never null).
- paired, agreement, position_bias: stage 2 figures, defined in ``report_reviews``.
- recommendations: ``report_advice`` (each appears when its statistic clears its 95% test).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, null, or_, select
from sqlalchemy.exc import SQLAlchemyError

from llm_council.audition import schema
from llm_council.audition.report_advice import recommendations
from llm_council.audition.report_models import (
    BordaGroup,
    Cost,
    CostGroup,
    DayModels,
    Diversity,
    DuplicatedSeat,
    DuplicateRate,
    ModelCount,
    PeerGroup,
    PeerReview,
    Report,
    TierReport,
    Window,
    WithoutJudges,
)
from llm_council.audition.report_reviews import ReviewAcc, collect_reviews_by_tier
from llm_council.audition.report_router import RouterAcc, collect_by_tier
from llm_council.audition.report_stats import mean_ci95, ratio, share, wilson_ci95
from llm_council.audition.store import AuditionStore, AuditionStoreError
from llm_council.pareto import band_for_score
from llm_council.registry import BANDS, Band, Registry
from llm_council.timeutil import as_utc

ABOVE_BAND_TOLERANCE = 1.01  # 1%: rounding in billed costs is not a band breach
FLAG_KINDS = ("any", "exact", "family", "drift")


@dataclass
class _Group:
    """Pareto or named seats of one tier."""

    n: int = 0  # seats with a Borda score
    total: float = 0.0
    total_sq: float = 0.0
    firsts: int = 0
    calls: int = 0
    costed: int = 0  # calls with a known cost
    cost: float = 0.0
    peers_n: int = 0  # seats with a Borda score from seat reviewers (judges left out)
    peers_total: float = 0.0
    peers_total_sq: float = 0.0

    def add(self, other: _Group) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass
class _Acc:
    """Sufficient statistics of one tier; merging two gives the statistics of both."""

    sessions: int = 0
    pareto_sessions: int = 0
    seats: int = 0
    pareto_seats: int = 0
    sum_distinct: float = 0.0
    sum_entropy: float = 0.0
    flagged: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    dup_models: Counter[str] = field(default_factory=Counter)
    days: dict[str, Counter[str]] = field(default_factory=dict)
    pareto: _Group = field(default_factory=_Group)
    named: _Group = field(default_factory=_Group)
    above_band: int = 0
    router: RouterAcc = field(default_factory=RouterAcc)
    reviews: ReviewAcc = field(default_factory=ReviewAcc)
    first: datetime | None = None
    last: datetime | None = None

    def group(self, is_pareto: Any) -> _Group:
        return self.pareto if is_pareto else self.named

    def merge(self, other: _Acc) -> None:
        for name in ("sessions", "pareto_sessions", "seats", "pareto_seats", "above_band"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.sum_distinct += other.sum_distinct
        self.sum_entropy += other.sum_entropy
        self.flagged.update(other.flagged)
        self.models.update(other.models)
        self.dup_models.update(other.dup_models)
        for day, counts in other.days.items():
            self.days.setdefault(day, Counter()).update(counts)
        self.pareto.add(other.pareto)
        self.named.add(other.named)
        self.router.merge(other.router)
        self.reviews.merge(other.reviews)
        self.first = min((t for t in (self.first, other.first) if t), default=None)
        self.last = max((t for t in (self.last, other.last) if t), default=None)


def build_report(
    store: AuditionStore,
    registry: Registry,
    *,
    since: datetime | None = None,
    last: int | None = None,
    tier: str | None = None,
) -> Report:
    """Aggregate the sessions created at or after ``since``, the newest ``last`` of them,
    of one ``tier`` (each filter optional). An empty window is a report of zeros and nulls.

    Raises AuditionStoreError when the store cannot be read.
    """
    since = _utc(since)
    try:
        have = _Present.of(store)
        with store.engine().connect() as conn:
            accs = _collect(conn, registry, since, last, tier, have)
    except SQLAlchemyError as exc:
        raise AuditionStoreError(f"cannot read {store.url_for_humans}: {exc}") from None
    overall = _Acc()
    for acc in accs.values():
        overall.merge(acc)
    tiers = {name: _finish(acc) for name, acc in sorted(accs.items())}
    return Report(
        window=Window(since=since or overall.first, until=overall.last, sessions=overall.sessions),
        tiers=tiers,
        overall=_finish(overall),
        recommendations=recommendations(tiers),
    )


@dataclass(frozen=True)
class _Present:
    """What a store behind this llm-council's schema lacks (a read-only one stays behind):
    the figures built on it are then empty rather than the report failing."""

    router: bool  # router_candidates / router_attempts, calls.router_json
    reviews: bool  # the reviews table
    borda_peers: bool
    seats_tier: bool  # seats.tier and seats.day
    per_session: bool  # sessions.kendall_w, kendall_w_chance, paired_diff

    @classmethod
    def of(cls, store: AuditionStore) -> _Present:
        return cls(
            router=store.has_table("router_candidates"),
            reviews=store.has_table("reviews"),
            borda_peers=store.has_column("seats", "borda_peers"),
            seats_tier=store.has_column("seats", "tier"),
            per_session=store.has_column("sessions", "paired_diff"),
        )


def _collect(
    conn: Any,
    registry: Registry,
    since: datetime | None,
    last: int | None,
    tier: str | None,
    have: _Present,
) -> dict[str, _Acc]:
    s, st, fl, ca = schema.sessions, schema.seats, schema.flags, schema.calls
    conds: list[Any] = []
    if since is not None:
        conds.append(s.c.created_at >= since)
    if tier is not None:
        conds.append(s.c.tier == tier)
    if last is not None:
        newest = select(s.c.session_id).where(*conds).order_by(s.c.created_at.desc()).limit(last)
        conds = [s.c.session_id.in_(newest.scalar_subquery())]
    accs: dict[str, _Acc] = {}

    def acc(name: str) -> _Acc:
        return accs.setdefault(name, _Acc())

    def count_if(cond: Any) -> Any:
        return func.sum(case((cond, 1), else_=0))

    # 1. Sessions: per-session metrics were computed at write time.
    for row in conn.execute(
        select(
            s.c.tier,
            func.count(),
            count_if(s.c.pareto_seats > 0),
            func.sum(s.c.distinct_models),
            func.sum(s.c.provider_entropy),
            count_if(or_(s.c.pareto_exact, s.c.pareto_family, s.c.pareto_drift)),
            count_if(s.c.pareto_exact),
            count_if(s.c.pareto_family),
            count_if(s.c.pareto_drift),
            func.min(s.c.created_at),
            func.max(s.c.created_at),
        )
        .where(*conds)
        .group_by(s.c.tier)
    ):
        a = acc(row[0])
        a.sessions, a.pareto_sessions = int(row[1]), int(row[2] or 0)
        a.sum_distinct, a.sum_entropy = float(row[3] or 0), float(row[4] or 0)
        a.flagged.update({k: int(v or 0) for k, v in zip(FLAG_KINDS, row[5:9], strict=True)})
        a.first, a.last = _utc(row[9]), _utc(row[10])

    # 2. Seats: counts and Borda sums of Pareto vs named seats, with and without judges.
    # Seats carry their session's tier and day (v2); a store behind takes them from sessions.
    seats_from: Any = st
    tier, day = (st.c.tier, st.c.day) if have.seats_tier else (s.c.tier, s.c.day)
    if conds or not have.seats_tier:
        seats_from = st.join(s, st.c.session_id == s.c.session_id)
    peers: Any = st.c.borda_peers if have.borda_peers else null()
    for t, is_pareto, n, voted, total, total_sq, firsts, p_n, p_total, p_sq in conn.execute(
        select(
            tier,
            st.c.is_pareto,
            func.count(),
            func.count(st.c.borda),
            func.sum(st.c.borda),
            func.sum(st.c.borda * st.c.borda),
            count_if(and_(st.c.is_first, st.c.borda.is_not(None))),
            func.count(peers),
            func.sum(peers),
            func.sum(peers * peers),
        )
        .select_from(seats_from)
        .where(*conds)
        .group_by(tier, st.c.is_pareto)
    ):
        a = acc(t)
        a.seats += int(n)
        a.pareto_seats += int(n) if is_pareto else 0
        g = a.group(is_pareto)
        g.n, g.total, g.total_sq, g.firsts = int(voted), float(total or 0), float(total_sq or 0), int(firsts or 0)  # fmt: skip
        g.peers_n, g.peers_total, g.peers_total_sq = int(p_n), float(p_total or 0), float(p_sq or 0)  # fmt: skip

    # 3. What the Pareto seats resolved to, per day.
    for t, d, model, n in conn.execute(
        select(tier, day, st.c.resolved_model, func.count())
        .select_from(seats_from)
        .where(*conds, st.c.is_pareto, st.c.resolved_model.is_not(None))
        .group_by(tier, day, st.c.resolved_model)
    ):
        a = acc(t)
        a.models[model] += int(n)
        a.days.setdefault(d, Counter())[model] += int(n)

    # 4. Which named seats the Pareto seats duplicated (once per session and named model).
    other = st.alias("other")
    dup_join = fl.join(
        st, and_(st.c.session_id == fl.c.session_id, st.c.seat_id == fl.c.seat_id)
    ).join(other, and_(other.c.session_id == fl.c.session_id, other.c.seat_id == fl.c.with_seat))
    if conds or not have.seats_tier:
        dup_join = dup_join.join(s, s.c.session_id == fl.c.session_id)
    for t, model, n in conn.execute(
        select(tier, other.c.requested_model, func.count(func.distinct(fl.c.session_id)))
        .select_from(dup_join)
        .where(*conds, st.c.is_pareto, ~other.c.is_pareto, fl.c.kind.in_(("exact", "family")))
        .group_by(tier, other.c.requested_model)
    ):
        acc(t).dup_models[model] += int(n)

    # 5. Calls: cost of Pareto vs named seat calls, and Pareto calls above each band's ceiling
    # (grouped by score, so the band comes from pareto.band_for_score, not a copy in SQL;
    # every column is in ix_calls_report, so SQLite never reads the call rows themselves).
    seat_calls = ca.c.stage != "chairman"
    calls_from: Any = ca
    if conds:  # the window lives on sessions; unfiltered reports skip the join
        calls_from = ca.join(s, s.c.session_id == ca.c.session_id)
    over = [
        count_if(and_(ca.c.is_pareto, ca.c.cost_usd > _ceiling(registry, band))) for band in BANDS
    ]
    for t, is_pareto, score, n, costed, total, *above in conn.execute(
        select(
            ca.c.tier,
            ca.c.is_pareto,
            ca.c.min_coding_score,
            func.count(),
            func.count(ca.c.cost_usd),
            func.sum(ca.c.cost_usd),
            *over,
        )
        .select_from(calls_from)
        .where(*conds, seat_calls)
        .group_by(ca.c.tier, ca.c.is_pareto, ca.c.min_coding_score)
    ):
        a = acc(t)
        g = a.group(is_pareto)
        g.calls += int(n)
        g.costed += int(costed)
        g.cost += float(total or 0)
        if is_pareto:
            a.above_band += int(above[BANDS.index(band_for_score(registry, score))] or 0)

    # 6. What the router itself reported on Pareto calls: its shortlist, failed attempts.
    if have.router:
        for t, router in collect_by_tier(conn, conds).items():
            acc(t).router.merge(router)
    # 7. Stage 2: paired comparison, agreement, position bias, judged sessions.
    for t, reviews in collect_reviews_by_tier(
        conn, conds, per_session=have.per_session, reviews=have.reviews
    ).items():
        acc(t).reviews.merge(reviews)
    return accs


def _ceiling(registry: Registry, band: Band) -> Any:
    """SQL: the most a call's tokens can cost at the priciest rates of ``band``, plus tolerance."""
    ca = schema.calls
    members = registry.band_members(band)
    prompt = max((m.prompt_per_mtok for m in members), default=0.0)
    completion = max((m.completion_per_mtok for m in members), default=0.0)
    scale = ABOVE_BAND_TOLERANCE / 1_000_000
    return ca.c.prompt_tokens * (prompt * scale) + ca.c.completion_tokens * (completion * scale)


def _finish(a: _Acc) -> TierReport:
    resolved = sum(a.models.values())
    return TierReport(
        sessions=a.sessions,
        pareto_sessions=a.pareto_sessions,
        flagged_sessions=dict(a.flagged),
        seats=a.seats,
        pareto_seats=a.pareto_seats,
        pareto_calls=a.pareto.calls,
        resolved_models=[
            ModelCount(model=m, count=n, share=share(n, resolved)) for m, n in _by_count(a.models)
        ],
        duplicate_rate=DuplicateRate(
            **{k: share(a.flagged[k], a.pareto_sessions) for k in FLAG_KINDS}
        ),
        duplicated_seats=[
            DuplicatedSeat(model=m, sessions=n, share=share(n, a.pareto_sessions))
            for m, n in _by_count(a.dup_models)
        ],
        diversity=Diversity(
            distinct_models_per_session=share(a.sum_distinct, a.sessions),
            provider_entropy=share(a.sum_entropy, a.sessions),
        ),
        peer_review=PeerReview(
            pareto=_peer(a.pareto),
            named=_peer(a.named),
            without_judges=WithoutJudges(
                pareto=_borda(a.pareto.peers_n, a.pareto.peers_total, a.pareto.peers_total_sq),
                named=_borda(a.named.peers_n, a.named.peers_total, a.named.peers_total_sq),
                judged_sessions=a.reviews.judged_sessions,
            ),
        ),
        cost=Cost(pareto=_cost(a.pareto), named=_cost(a.named), above_band_calls=a.above_band),
        by_day=[
            DayModels(date=d, models=dict(sorted(c.items()))) for d, c in sorted(a.days.items())
        ],
        observed_shortlist=a.router.shortlist(),
        fallbacks=a.router.fallbacks(),
        agreement=a.reviews.agreement(),
        paired=a.reviews.paired(),
        position_bias=a.reviews.position_bias(),
    )


def _by_count(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _peer(g: _Group) -> PeerGroup:
    ci = mean_ci95(g.n, g.total, g.total_sq)
    first_ci = wilson_ci95(g.firsts, g.n)
    return PeerGroup(
        mean_borda=ratio(g.total, g.n),
        ci95=list(ci) if ci else None,
        first_place_rate=ratio(g.firsts, g.n),
        n=g.n,
        firsts=g.firsts,
        first_place_ci95=list(first_ci) if first_ci and g.n >= 2 else None,
    )


def _borda(n: int, total: float, total_sq: float) -> BordaGroup:
    ci = mean_ci95(n, total, total_sq)
    return BordaGroup(mean_borda=ratio(total, n), ci95=list(ci) if ci else None, n=n)


def _cost(g: _Group) -> CostGroup:
    return CostGroup(mean_usd=ratio(g.cost, g.costed, 8), total_usd=round(g.cost, 8))


def _utc(value: datetime | str | None) -> datetime | None:
    """Aware UTC (SQLite hands back naive datetimes, or strings from aggregate functions)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return as_utc(value)
