"""Pre-flight check: predict each pool's Pareto resolution and warn about avoidable duplicates.

The prediction uses ``llm_council.pareto.route`` on the registry's shortlist snapshot, the
same rules the sandbox routes with, and the seats come from ``plan_session``, so the check
sees exactly the seats (ids, scores, variants) a coding session would run.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

from pydantic import BaseModel

from llm_council.audition.report_stats import normalised_entropy
from llm_council.config import TIERS, CouncilConfig
from llm_council.council.plan import plan_session
from llm_council.pareto import PARETO_MODEL_ID, rank_band, route
from llm_council.registry import Registry


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

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]


def run_check(config: CouncilConfig, registry: Registry) -> CheckResult:
    """Validate the pools against the registry and predict every Pareto seat's model.

    Warnings: a model id the registry does not know, a Pareto seat predicted to be a named
    seat's model (exact) or family, two Pareto seats predicted to the same model, a pool whose
    seats all come from one provider. Error: a Pareto seat with no candidate at all.
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
    return CheckResult(
        config=config.source,
        registry=registry.source,
        predictions=predictions,
        pools=pools,
        findings=findings,
    )


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
