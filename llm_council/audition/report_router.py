"""What the Pareto router itself reported (``openrouter_metadata``), aggregated in SQL.

Two views over the store's ``router_candidates`` / ``router_attempts`` tables (schema v2):

- per tier, for ``llm-council report``: the shortlist the router listed on Pareto calls
  and how often it had to fall back after a failed attempt;
- per Pareto band, for ``llm-council check`` and ``registry sync --from-store``: the same
  shortlist grouped by the band each call's ``min_coding_score`` asked for, to compare
  with the registry's shortlist snapshot.

Definitions (both views):

- A *Pareto call* is a call to ``openrouter/pareto-code[:variant]`` by a seat (answer,
  review, reroute or judge stage; never the chairman), like ``pareto_calls`` in the report;
  the router tables mark them ``is_pareto`` (``rows.is_pareto_seat_call``).
- ``seen``: Pareto calls whose ``endpoints.available`` listed the model, counted once per
  call even when several providers of the model were listed; ``selected``: of those, the
  calls in which one of its endpoints was marked selected.
- ``fallbacks.calls``: Pareto calls with at least one attempt of status >= 400;
  ``fallbacks.share``: that over the Pareto calls that carried router metadata at all
  (``calls.router_json`` not null), since only their attempts are known. OpenRouter sends
  the metadata on successful responses only (docs: Router Metadata), so a counted call is
  one the router rescued. ``failed_models`` counts calls per failed model; attempts that
  name no model count in ``calls`` but in no ``failed_models`` entry.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import SQLAlchemyError

from llm_council.audition import schema
from llm_council.audition.report_models import FailedModel, Fallbacks, ShortlistModel
from llm_council.audition.report_stats import share
from llm_council.audition.store import AuditionStore, AuditionStoreError
from llm_council.pareto import band_for_score
from llm_council.registry import BANDS, Band, Registry

FAILED_STATUS = 400


@dataclass
class RouterAcc:
    """Router statistics of one tier (or band); merging two gives those of both."""

    with_metadata: int = 0  # Pareto calls that carried router metadata
    listed_calls: int = 0  # Pareto calls whose metadata listed at least one candidate
    fallback_calls: int = 0
    seen: Counter[str] = field(default_factory=Counter)
    selected: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)

    def merge(self, other: RouterAcc) -> None:
        self.with_metadata += other.with_metadata
        self.listed_calls += other.listed_calls
        self.fallback_calls += other.fallback_calls
        self.seen.update(other.seen)
        self.selected.update(other.selected)
        self.failed.update(other.failed)

    def shortlist(self) -> list[ShortlistModel]:
        """Most often listed first (ties by id), as the report contract shows it."""
        return [
            ShortlistModel(model=m, seen=n, selected=self.selected[m])
            for m, n in sorted(self.seen.items(), key=lambda kv: (-kv[1], kv[0]))
        ]

    def fallbacks(self) -> Fallbacks:
        return Fallbacks(
            calls=self.fallback_calls,
            share=share(self.fallback_calls, self.with_metadata),
            failed_models=[
                FailedModel(model=m, count=n)
                for m, n in sorted(self.failed.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            with_metadata=self.with_metadata,
        )


def collect_by_tier(conn: Any, conds: list[Any]) -> dict[str, RouterAcc]:
    """Candidates, failed attempts and calls with router metadata of Pareto seat calls per
    tier, within the sessions that ``conds`` (conditions on ``schema.sessions``) select.

    ``router_candidates`` / ``router_attempts`` carry the call's tier and whether it was a
    Pareto seat call, and hold one candidate row per (call, model): the shortlist needs no
    join with ``calls`` and no DISTINCT, and reads one covering index (ADR-004).
    """
    s, ca = schema.sessions, schema.calls
    rc, ra = schema.router_candidates, schema.router_attempts
    accs: dict[str, RouterAcc] = {}

    def acc(tier: str) -> RouterAcc:
        return accs.setdefault(tier, RouterAcc())

    def within(table: Any) -> Any:
        return table.join(s, s.c.session_id == table.c.session_id) if conds else table

    for tier, model, seen, selected in conn.execute(
        select(rc.c.tier, rc.c.model, func.count(), func.sum(case((rc.c.selected, 1), else_=0)))
        .select_from(within(rc))
        .where(*conds, rc.c.is_pareto)
        .group_by(rc.c.tier, rc.c.model)
    ):
        acc(tier).seen[model] += int(seen)
        acc(tier).selected[model] += int(selected or 0)
    # A call fails over at most a few times: the DISTINCT runs over failed attempts only.
    failed = (
        select(ra.c.tier, ra.c.model, ra.c.session_id, ra.c.call_seq)
        .select_from(within(ra))
        .where(*conds, ra.c.is_pareto, ra.c.status >= FAILED_STATUS)
        .distinct()
        .subquery("failed")
    )
    calls = select(failed.c.tier, failed.c.session_id, failed.c.call_seq).distinct().subquery()
    for tier, n in conn.execute(select(calls.c.tier, func.count()).group_by(calls.c.tier)):
        acc(tier).fallback_calls += int(n)
    for tier, model, n in conn.execute(
        select(failed.c.tier, failed.c.model, func.count())
        .where(failed.c.model.is_not(None))
        .group_by(failed.c.tier, failed.c.model)
    ):
        acc(tier).failed[model] += int(n)
    # The denominator of fallbacks.share, from the partial index ix_calls_router.
    for tier, n in conn.execute(
        select(ca.c.tier, func.count())
        .select_from(within(ca))
        .where(*conds, ca.c.router_json.is_not(None), ca.c.is_pareto, ca.c.stage != "chairman")
        .group_by(ca.c.tier)
    ):
        acc(tier).with_metadata += int(n)
    return accs


# -- per band: the observed shortlist that check and registry sync compare -------------------


class ObservedModel(BaseModel):
    model: str
    seen: int
    selected: int


class BandObservation(BaseModel):
    """The shortlist the router listed on Pareto calls that asked for one band."""

    band: Band
    calls: int  # Pareto calls whose router metadata listed at least one candidate
    models: list[ObservedModel]  # most often listed first

    def seen(self, model: str) -> int:
        return next((m.seen for m in self.models if m.model == model), 0)


class ObservedShortlist(BaseModel):
    """The router's shortlist as the audition store saw it, per band (bands without data omitted)."""

    store: str  # the store's URL, password hidden
    since: datetime | None
    bands: list[BandObservation]

    @property
    def calls(self) -> int:
        return sum(b.calls for b in self.bands)

    def band(self, band: str) -> BandObservation | None:
        return next((b for b in self.bands if b.band == band), None)


def observe_shortlist(
    store: AuditionStore, registry: Registry, since: datetime | None = None
) -> ObservedShortlist:
    """Per band, how many Pareto calls (started at or after ``since``) listed each model.

    The band is the one the call's ``min_coding_score`` asks for (``pareto.band_for_score``;
    no score means the high band), so it is comparable with ``registry.pareto.shortlist``.
    Raises AuditionStoreError when the store cannot be read.
    """
    ca, rc = schema.calls, schema.router_candidates
    conds = [rc.c.is_pareto]
    if since is not None:
        conds.append(ca.c.started_at >= since)
    on = and_(ca.c.session_id == rc.c.session_id, ca.c.seq == rc.c.call_seq)
    by_band: dict[Band, RouterAcc] = {}
    if not store.has_table("router_candidates"):  # a read-only store behind version 2
        return ObservedShortlist(store=store.url_for_humans, since=since, bands=[])
    try:
        with store.engine().connect() as conn:
            # Grouped by score, so the band comes from band_for_score, not a copy in SQL.
            for score, calls in conn.execute(
                select(ca.c.min_coding_score, func.count(func.distinct(ca.c.id)))
                .select_from(rc.join(ca, on))
                .where(*conds)
                .group_by(ca.c.min_coding_score)
            ):
                band = band_for_score(registry, score)
                by_band.setdefault(band, RouterAcc()).listed_calls += int(calls)
            for score, model, seen, selected in conn.execute(
                select(
                    ca.c.min_coding_score,
                    rc.c.model,
                    func.count(),  # one row per (call, model)
                    func.sum(case((rc.c.selected, 1), else_=0)),
                )
                .select_from(rc.join(ca, on))
                .where(*conds)
                .group_by(ca.c.min_coding_score, rc.c.model)
            ):
                acc = by_band.setdefault(band_for_score(registry, score), RouterAcc())
                acc.seen[model] += int(seen)
                acc.selected[model] += int(selected or 0)
    except SQLAlchemyError as exc:
        raise AuditionStoreError(f"cannot read {store.url_for_humans}: {exc}") from None
    return ObservedShortlist(
        store=store.url_for_humans,
        since=since,
        bands=[
            BandObservation(
                band=band,
                calls=acc.listed_calls,
                models=[
                    ObservedModel(model=m.model, seen=m.seen, selected=m.selected)
                    for m in acc.shortlist()
                ],
            )
            for band in BANDS
            if (acc := by_band.get(band)) is not None and acc.listed_calls
        ],
    )
