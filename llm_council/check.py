"""Pre-flight check: predict each pool's Pareto resolution and warn about avoidable duplicates.

The prediction uses ``llm_council.pareto.route`` on the registry's shortlist snapshot, the
same rules the sandbox routes with, and the seats come from ``plan_session``, so the check
sees exactly the seats (ids, scores, variants) a coding session would run.

When the audition store holds router metadata (OpenRouter's ``openrouter_metadata``), the
snapshot is also compared with the shortlist the router really listed per band: a model the
router lists that the snapshot lacks, or a snapshot model the router has not listed in
MIN_CALLS_FOR_ABSENCE or more observed calls, is a warning. A missing, empty or unreadable
store is a note, never a failure: the check works before the first session.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy.engine import make_url

from llm_council.audition.report_router import ObservedShortlist, observe_shortlist
from llm_council.audition.report_stats import normalised_entropy
from llm_council.audition.store import AuditionStore, AuditionStoreError, default_store_url
from llm_council.choices import TIERS
from llm_council.config import CouncilConfig
from llm_council.council.plan import plan_session
from llm_council.pareto import PARETO_MODEL_ID, rank_band, route
from llm_council.registry import BANDS, Registry

# A snapshot model is called gone only after this many observed calls of its band without
# it: the router lists the endpoints available at that moment, so one outage is not a trend.
MIN_CALLS_FOR_ABSENCE = 5
SYNC_HINT = "run `llm-council registry sync --from-store` to update the overlay's shortlist"


class ParetoPrediction(BaseModel):
    tier: str
    seat_id: str
    requested_model: str
    min_coding_score: float | None  # None: the plugin is omitted (the router's strongest band)
    band: str
    primary: str | None  # cheapest (or fastest for :nitro) member: what the seat resolves to
    nitro: str | None  # what the :nitro variant would take in that band
    fallbacks: list[str]


class PoolSummary(BaseModel):
    tier: str
    seats: int
    predicted_models: list[str]  # each seat's model, Pareto seats as predicted
    providers: list[str]
    provider_entropy: float  # normalised: 0 one provider, 1 every seat a different one


class Finding(BaseModel):
    level: Literal["warning", "error"]
    tier: str | None
    message: str


class CheckResult(BaseModel):
    config: str
    registry: str
    predictions: list[ParetoPrediction]
    pools: list[PoolSummary]
    findings: list[Finding]
    # The router's shortlist as the audition store saw it; None when there was none to read.
    observed: ObservedShortlist | None = None
    notes: list[str] = Field(default_factory=list)  # what was not checked, and why

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]


def run_check(
    config: CouncilConfig,
    registry: Registry,
    observed: ObservedShortlist | None = None,
    notes: list[str] | None = None,
) -> CheckResult:
    """Validate the pools against the registry and predict every Pareto seat's model.

    Warnings: a model id the registry does not know, a Pareto seat predicted to be a named
    seat's model (exact) or family, two Pareto seats predicted to the same model, a pool whose
    seats all come from one provider, and (with ``observed``, see ``observe_store``) a band
    whose observed shortlist differs from the snapshot. Error: a Pareto seat with no
    candidate at all.
    """
    predictions: list[ParetoPrediction] = []
    pools: list[PoolSummary] = []
    findings: list[Finding] = []

    def warn(
        tier: str | None, message: str, level: Literal["warning", "error"] = "warning"
    ) -> None:
        findings.append(Finding(level=level, tier=tier, message=message))

    chairman = config.council.chairman
    if not registry.is_known(chairman):
        warn(None, f"chairman {chairman} is not in the registry (price and family unknown)")
    for tier in TIERS:
        seats = plan_session(config, tier, "coding").seats
        for model in dict.fromkeys(registry.unknown(s.requested_model for s in seats)):
            warn(tier, f"{tier}: {model} is not in the registry (price and family unknown)")
        for seat in seats:
            if not seat.is_pareto and seat.requested_model.startswith(f"{PARETO_MODEL_ID}:"):
                warn(
                    tier,
                    f"{tier}: {seat.seat_id} ({seat.requested_model}) is not a Pareto Router "
                    "variant the router knows (only :nitro); it will be sent as a plain model id",
                )
        named = {s.seat_id: s.requested_model for s in seats if not s.is_pareto}
        resolved = dict(named)
        predicted_by: dict[str, str] = {}
        for seat in seats:
            if not seat.is_pareto:
                continue
            chosen = route(registry, seat.min_coding_score, seat.variant)
            nitro = rank_band(registry, chosen.band, "nitro")
            predictions.append(
                ParetoPrediction(
                    tier=tier,
                    seat_id=seat.seat_id,
                    requested_model=seat.requested_model,
                    min_coding_score=seat.min_coding_score,
                    band=chosen.band,
                    primary=chosen.primary,
                    nitro=nitro[0].id if nitro else None,
                    fallbacks=list(chosen.fallbacks),
                )
            )
            label = f"{tier}: {seat.seat_id} ({seat.requested_model})"
            if chosen.primary is None:
                warn(tier, f"{label} has no model in any shortlist band to route to", "error")
                continue
            resolved[seat.seat_id] = chosen.primary
            for message in _duplicates(label, chosen.primary, named, registry):
                warn(tier, message)
            if chosen.primary in predicted_by:
                warn(
                    tier,
                    f"{label} is predicted to resolve to {chosen.primary}, like Pareto seat "
                    f"{predicted_by[chosen.primary]}: give one of them another min_coding_score",
                )
            predicted_by.setdefault(chosen.primary, seat.seat_id)
        providers = Counter(registry.provider_of(m) for m in resolved.values())
        pools.append(
            PoolSummary(
                tier=tier,
                seats=len(seats),
                predicted_models=[resolved[s.seat_id] for s in seats if s.seat_id in resolved],
                providers=sorted(providers),
                provider_entropy=normalised_entropy(providers.values()),
            )
        )
        if len(providers) == 1 and len(seats) > 1:
            warn(
                tier,
                f"{tier}: every seat is from {next(iter(providers))}; the council hears one "
                "provider's perspective",
            )
    if observed is not None:
        for message in shortlist_drift(registry, observed):
            warn(None, message)
    return CheckResult(
        config=config.source,
        registry=registry.source,
        predictions=predictions,
        pools=pools,
        findings=findings,
        observed=observed,
        notes=list(notes or []),
    )


def shortlist_drift(registry: Registry, observed: ObservedShortlist) -> list[str]:
    """Where the router's observed shortlist and the registry snapshot differ, band by band."""
    where = {m: b for b, members in registry.pareto.shortlist.items() for m in members}
    out: list[str] = []
    for band in BANDS:
        seen = observed.band(band)
        if seen is None:
            continue
        snapshot = registry.pareto.shortlist.get(band, ())
        for m in seen.models:
            if m.model in snapshot:
                continue
            elsewhere = (
                f"; the snapshot has it in the {where[m.model]} band"
                if m.model in where
                else ""
                if registry.is_known(m.model)
                else "; the registry does not know it"
            )
            out.append(
                f"shortlist {band} band: the router now lists {m.model} (on {m.seen} of "
                f"{seen.calls} observed calls), which the snapshot lacks{elsewhere}; {SYNC_HINT}"
            )
        if seen.calls < MIN_CALLS_FOR_ABSENCE:
            continue
        for model in snapshot:
            if not seen.seen(model):
                out.append(
                    f"shortlist {band} band: the snapshot lists {model}, which the router has "
                    f"not listed in {seen.calls} observed calls; {SYNC_HINT}"
                )
    return out


def observe_store(
    config: CouncilConfig, registry: Registry, since: datetime | None = None
) -> tuple[ObservedShortlist | None, list[str]]:
    """The router's shortlist per band from the audition store, and notes on what was seen.

    Never raises for the store: a store that does not exist yet (not created here), cannot
    be opened or read, or holds no router metadata gives ``None`` or no bands, and a note.
    """
    url = config.audition.url or default_store_url()
    try:
        parsed = make_url(url)
    except Exception:  # whatever make_url rejects; AuditionStore words the error
        parsed = None
    if parsed is not None and parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        on_disk = database not in ("", ":memory:") and not database.startswith("file:")
        if on_disk and not Path(database).expanduser().is_file():
            return None, [
                f"no audition store at {database} yet: the router's observed shortlist is "
                "compared with the snapshot once sessions with router metadata are recorded"
            ]
    try:
        store = AuditionStore(url)
        try:
            observed = observe_shortlist(store, registry, since)
        finally:
            store.close()
    except AuditionStoreError as exc:
        return None, [f"the observed shortlist was not compared: {exc}"]
    window = f" since {since:%Y-%m-%d %H:%M} UTC" if since else ""
    if not observed.bands:
        return observed, [
            f"the audition store {observed.store} holds no Pareto call with router metadata"
            f"{window}: nothing observed to compare with the shortlist snapshot"
        ]
    bands = ", ".join(f"{b.band} {b.calls}" for b in observed.bands)
    return observed, [
        f"compared the shortlist snapshot with {observed.calls} Pareto calls with router "
        f"metadata in {observed.store}{window} (per band: {bands})"
    ]


def _duplicates(label: str, predicted: str, named: dict[str, str], registry: Registry) -> list[str]:
    out = []
    for other, model in named.items():
        if model == predicted:
            out.append(
                f"{label} is predicted to resolve to {predicted}, already seat {other}: an "
                "exact duplicate you can avoid before paying for it"
            )
        elif registry.family_of(model) == registry.family_of(predicted):
            out.append(
                f"{label} is predicted to resolve to {predicted}, the same family as seat "
                f"{other} ({model})"
            )
    return out
