"""What the Pareto router itself reported (``openrouter_metadata``), aggregated in SQL.

Two views over the store's ``router_candidates`` / ``router_attempts`` tables (schema v2):

- per tier, for ``llm-council report``: the shortlist the router listed on Pareto calls
  and how often it had to fall back after a failed attempt;
- per Pareto band, for ``llm-council check`` and ``registry sync --from-store``: the same
  shortlist grouped by the band each call's ``min_coding_score`` asked for, to compare
  with the registry's shortlist snapshot.

Definitions (both views):

- A *Pareto call* is a call to ``openrouter/pareto-code[:variant]`` by a seat (answer,
  review, reroute or judge stage; never the chairman), like ``pareto_calls`` in the report.
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


def _pareto_seat_call(ca: Any) -> Any:
    return and_(ca.c.is_pareto, ca.c.stage != "chairman")


def collect_by_tier(conn: Any, conds: list[Any]) -> dict[str, RouterAcc]:
    """Candidates and failed attempts of Pareto calls per tier, within the sessions that
    ``conds`` (conditions on ``schema.sessions``) select. ``with_metadata`` is left to the
    caller's calls query, which already groups Pareto calls by tier."""
    ca, s = schema.calls, schema.sessions
    accs: dict[str, RouterAcc] = {}

    def joined(table: Any) -> Any:
        on = and_(ca.c.session_id == table.c.session_id, ca.c.seq == table.c.call_seq)
        base = table.join(ca, on)
        return base.join(s, s.c.session_id == ca.c.session_id) if conds else base

    rc, ra = schema.router_candidates, schema.router_attempts
    # count(DISTINCT calls.id): a model listed by two providers in one call counts once.
    for tier, model, seen, selected in conn.execute(
        select(
            ca.c.tier,
            rc.c.model,
            func.count(func.distinct(ca.c.id)),
            func.count(func.distinct(case((rc.c.selected, ca.c.id), else_=None))),
        )
        .select_from(joined(rc))
        .where(*conds, _pareto_seat_call(ca))
        .group_by(ca.c.tier, rc.c.model)
    ):
        acc = accs.setdefault(tier, RouterAcc())
        acc.seen[model] += int(seen)
        acc.selected[model] += int(selected or 0)
    # Grouped by the attempts table's own tier (the call's tier, copied at write time), so
    # SQLite scans the attempts and probes calls only for failed ones: 10x faster at 1M calls
    # than walking every Pareto call in tier order.
    failed = and_(*conds, _pareto_seat_call(ca), ra.c.status >= FAILED_STATUS)
    for tier, calls in conn.execute(
        select(ra.c.tier, func.count(func.distinct(ca.c.id)))
        .select_from(joined(ra))
        .where(failed)
        .group_by(ra.c.tier)
    ):
        accs.setdefault(tier, RouterAcc()).fallback_calls += int(calls)
    for tier, model, calls in conn.execute(
        select(ra.c.tier, ra.c.model, func.count(func.distinct(ca.c.id)))
        .select_from(joined(ra))
        .where(failed, ra.c.model.is_not(None))
        .group_by(ra.c.tier, ra.c.model)
    ):
        accs.setdefault(tier, RouterAcc()).failed[model] += int(calls)
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
    conds = [_pareto_seat_call(ca)]
    if since is not None:
        conds.append(ca.c.started_at >= since)
    on = and_(ca.c.session_id == rc.c.session_id, ca.c.seq == rc.c.call_seq)
    by_band: dict[Band, RouterAcc] = {}
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
                    func.count(func.distinct(ca.c.id)),
                    func.count(func.distinct(case((rc.c.selected, ca.c.id), else_=None))),
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
