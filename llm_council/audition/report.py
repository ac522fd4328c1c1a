"""Duplicate, diversity, peer-review and cost reports over the audition store.

Everything is aggregated in SQL per tier into sufficient statistics (counts, sums, sums of
squares); the overall figures merge those, so no query runs twice and no Python loop walks
the calls.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.exc import SQLAlchemyError

from llm_council.audition import schema
from llm_council.audition.report_models import (
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
)
from llm_council.audition.report_stats import mean_ci95, share
from llm_council.audition.store import AuditionStore, AuditionStoreError
from llm_council.registry import BANDS, Registry

MIN_SESSIONS_FOR_ADVICE = 20
_ABOVE_BAND_TOLERANCE = 1.01


@dataclass
class _Group:
    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0
    firsts: int = 0
    calls: int = 0
    costed: int = 0
    cost: float = 0.0


@dataclass
class _Acc:
    """Sufficient statistics of one tier; adding two gives the statistics of both."""

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
    groups: dict[bool, _Group] = field(default_factory=lambda: {True: _Group(), False: _Group()})
    above_band: int = 0
    first: datetime | None = None
    last: datetime | None = None

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
        for key, g in other.groups.items():
            mine = self.groups[key]
            for name in ("n", "total", "total_sq", "firsts", "calls", "costed", "cost"):
                setattr(mine, name, getattr(mine, name) + getattr(g, name))
        stamps = [t for t in (self.first, other.first) if t]
        self.first = min(stamps) if stamps else None
        stamps = [t for t in (self.last, other.last) if t]
        self.last = max(stamps) if stamps else None


def build_report(
    store: AuditionStore,
    registry: Registry,
    *,
    since: datetime | None = None,
    last: int | None = None,
    tier: str | None = None,
) -> Report:
    """Aggregate the sessions in the window (``since``, newest ``last``, one ``tier``)."""
    try:
        with store.engine().connect() as conn:
            accs = _collect(conn, registry, since, last, tier)
    except SQLAlchemyError as exc:
        raise AuditionStoreError(f"cannot read {store.url_for_humans}: {exc}") from None
    overall = _Acc()
    for acc in accs.values():
        overall.merge(acc)
    tiers = {name: _finish(acc) for name, acc in sorted(accs.items())}
    return Report(
        window=Window(
            since=since or _utc(overall.first),
            until=_utc(overall.last),
            sessions=overall.sessions,
        ),
        tiers=tiers,
        overall=_finish(overall),
        recommendations=recommendations(tiers),
    )


def _collect(
    conn: Any, registry: Registry, since: datetime | None, last: int | None, tier: str | None
) -> dict[str, _Acc]:
    s, st, fl, ca = schema.sessions, schema.seats, schema.flags, schema.calls
    conds = []
    if since is not None:
        conds.append(s.c.created_at >= since)
    if tier is not None:
        conds.append(s.c.tier == tier)
    picked = None
    if last is not None:
        picked = (
            select(s.c.session_id).where(*conds).order_by(s.c.created_at.desc()).limit(last)
        ).subquery()
        conds = [s.c.session_id.in_(select(picked.c.session_id))]
    accs: dict[str, _Acc] = {}

    def acc(name: str) -> _Acc:
        return accs.setdefault(name, _Acc())

    flagged_any = or_(s.c.pareto_exact, s.c.pareto_family, s.c.pareto_drift)
    rows = conn.execute(
        select(
            s.c.tier,
            func.count(),
            func.sum(case((s.c.pareto_seats > 0, 1), else_=0)),
            func.sum(s.c.distinct_models),
            func.sum(s.c.provider_entropy),
            func.sum(case((s.c.pareto_exact, 1), else_=0)),
            func.sum(case((s.c.pareto_family, 1), else_=0)),
            func.sum(case((s.c.pareto_drift, 1), else_=0)),
            func.sum(case((flagged_any, 1), else_=0)),
            func.min(s.c.created_at),
            func.max(s.c.created_at),
        )
        .where(*conds)
        .group_by(s.c.tier)
    ).all()
    for t, n, pn, dist, ent, exact, family, drift, any_, first, latest in rows:
        a = acc(t)
        a.sessions, a.pareto_sessions = int(n), int(pn or 0)
        a.sum_distinct, a.sum_entropy = float(dist or 0), float(ent or 0)
        a.flagged.update(
            {
                "exact": int(exact or 0),
                "family": int(family or 0),
                "drift": int(drift or 0),
                "any": int(any_ or 0),
            }
        )
        a.first, a.last = _utc(first), _utc(latest)

    joined = st.join(s, st.c.session_id == s.c.session_id)
    for t, is_pareto, n, voted, total, total_sq, firsts in conn.execute(
        select(
            s.c.tier,
            st.c.is_pareto,
            func.count(),
            func.count(st.c.borda),
            func.sum(st.c.borda),
            func.sum(st.c.borda * st.c.borda),
            func.sum(case((and_(st.c.is_first, st.c.borda.is_not(None)), 1), else_=0)),
        )
        .select_from(joined)
        .where(*conds)
        .group_by(s.c.tier, st.c.is_pareto)
    ).all():
        a = acc(t)
        a.seats += int(n)
        if is_pareto:
            a.pareto_seats += int(n)
        g = a.groups[bool(is_pareto)]
        g.n, g.total, g.total_sq, g.firsts = (
            int(voted),
            float(total or 0),
            float(total_sq or 0),
            int(firsts or 0),
        )

    for t, day, model, n in conn.execute(
        _pareto_models(
            select(s.c.tier, s.c.day, st.c.resolved_model, func.count()), joined, conds
        ).group_by(s.c.tier, s.c.day, st.c.resolved_model)
    ).all():
        a = acc(t)
        a.models[model] += int(n)
        a.days.setdefault(day, Counter())[model] += int(n)

    other = st.alias("other")
    dup_join = fl.join(
        st, and_(st.c.session_id == fl.c.session_id, st.c.seat_id == fl.c.seat_id)
    ).join(other, and_(other.c.session_id == fl.c.session_id, other.c.seat_id == fl.c.with_seat))
    dup_join = dup_join.join(s, s.c.session_id == fl.c.session_id)
    for t, model, n in conn.execute(
        select(s.c.tier, other.c.requested_model, func.count(func.distinct(fl.c.session_id)))
        .select_from(dup_join)
        .where(*conds, st.c.is_pareto, ~other.c.is_pareto, fl.c.kind.in_(("exact", "family")))
        .group_by(s.c.tier, other.c.requested_model)
    ).all():
        acc(t).dup_models[model] += int(n)

    calls_from: Any = ca
    call_conds: list[Any] = []
    if picked is not None or since is not None or tier is not None:
        calls_from = ca.join(s, s.c.session_id == ca.c.session_id)
        call_conds = conds
    ceiling = _band_ceiling(registry)
    for t, is_pareto, n, costed, total, above in conn.execute(
        select(
            ca.c.tier,
            ca.c.is_pareto,
            func.count(),
            func.count(ca.c.cost_usd),
            func.sum(ca.c.cost_usd),
            func.sum(
                case(
                    (and_(ca.c.is_pareto, ca.c.cost_usd > ceiling * _ABOVE_BAND_TOLERANCE), 1),
                    else_=0,
                )
            ),
        )
        .select_from(calls_from)
        .where(*call_conds)
        .group_by(ca.c.tier, ca.c.is_pareto)
    ).all():
        a = acc(t)
        g = a.groups[bool(is_pareto)]
        g.calls, g.costed, g.cost = int(n), int(costed), float(total or 0)
        a.above_band += int(above or 0)
    return accs


def _pareto_models(query: Select[Any], joined: Any, conds: list[Any]) -> Select[Any]:
    st = schema.seats
    return query.select_from(joined).where(*conds, st.c.is_pareto, st.c.resolved_model.is_not(None))


def _band_ceiling(registry: Registry) -> Any:
    """SQL for the most a Pareto call could cost inside its band (priciest member's rates)."""
    ca = schema.calls
    rates = {}
    for band in BANDS:
        members = registry.band_members(band)
        rates[band] = (
            max((m.prompt_per_mtok for m in members), default=0.0),
            max((m.completion_per_mtok for m in members), default=0.0),
        )
    th = registry.pareto.thresholds
    score = ca.c.min_coding_score

    def price(band: str) -> Any:
        p, c = rates[band]
        return (ca.c.prompt_tokens * p + ca.c.completion_tokens * c) / 1_000_000.0

    return case(
        (or_(score.is_(None), score >= th.high), price("high")),
        (score >= th.medium, price("medium")),
        else_=price("low"),
    )


def _finish(a: _Acc) -> TierReport:
    models_total = sum(a.models.values())
    pareto, named = a.groups[True], a.groups[False]
    return TierReport(
        sessions=a.sessions,
        seats=a.seats,
        pareto_seats=a.pareto_seats,
        pareto_calls=pareto.calls,
        resolved_models=[
            ModelCount(model=m, count=n, share=share(n, models_total))
            for m, n in sorted(a.models.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        duplicate_rate=DuplicateRate(
            **{
                k: share(a.flagged[k], a.pareto_sessions)
                for k in ("any", "exact", "family", "drift")
            }
        ),
        duplicated_seats=[
            DuplicatedSeat(model=m, sessions=n, share=share(n, a.pareto_sessions))
            for m, n in sorted(a.dup_models.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        diversity=Diversity(
            distinct_models_per_session=share(a.sum_distinct, a.sessions),
            provider_entropy=share(a.sum_entropy, a.sessions),
        ),
        peer_review=PeerReview(pareto=_peer(pareto), named=_peer(named)),
        cost=Cost(pareto=_cost(pareto), named=_cost(named), above_band_calls=a.above_band),
        by_day=[
            DayModels(date=d, models=dict(sorted(c.items()))) for d, c in sorted(a.days.items())
        ],
    )


def _peer(g: _Group) -> PeerGroup:
    ci = mean_ci95(g.n, g.total, g.total_sq)
    return PeerGroup(
        mean_borda=round(g.total / g.n, 4) if g.n else None,
        ci95=list(ci) if ci else None,
        first_place_rate=share(g.firsts, g.n) if g.n else None,
        n=g.n,
    )


def _cost(g: _Group) -> CostGroup:
    return CostGroup(
        mean_usd=round(g.cost / g.costed, 8) if g.costed else None, total_usd=round(g.cost, 8)
    )


def recommendations(tiers: dict[str, TierReport]) -> list[str]:
    """Plain-language advice, only where a tier has enough sessions to support it."""
    out: list[str] = []
    for name, t in tiers.items():
        if t.pareto_seats == 0 or t.sessions < MIN_SESSIONS_FOR_ADVICE:
            continue
        if t.duplicated_seats and t.duplicated_seats[0].share >= 0.25:
            top = t.duplicated_seats[0]
            out.append(
                f"{name}: the Pareto seat duplicated {top.model} in {top.share:.0%} of "
                f"{t.sessions} sessions; drop that named seat or move the Pareto seat to another tier"
            )
        if t.duplicate_rate.drift >= 0.2:
            out.append(
                f"{name}: the Pareto seat changed model between stages in "
                f"{t.duplicate_rate.drift:.0%} of sessions; its reviews are not from the model "
                "that answered"
            )
        p, n = t.peer_review.pareto, t.peer_review.named
        if p.ci95 and n.ci95 and p.mean_borda is not None and n.mean_borda is not None:
            if p.ci95[1] < n.ci95[0]:
                out.append(
                    f"{name}: peers rank the Pareto seat below the named seats (Borda "
                    f"{p.mean_borda:.2f} vs {n.mean_borda:.2f}, n={p.n}); raise its "
                    "min_coding_score or replace it"
                )
            elif p.ci95[0] > n.ci95[1]:
                out.append(
                    f"{name}: peers rank the Pareto seat above the named seats (Borda "
                    f"{p.mean_borda:.2f} vs {n.mean_borda:.2f}, n={p.n}); it earns its seat"
                )
        if t.cost.above_band_calls:
            out.append(
                f"{name}: {t.cost.above_band_calls} Pareto calls were billed above the tier's "
                "expected price band; run `llm-council registry sync` and check the shortlist"
            )
    return out


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
