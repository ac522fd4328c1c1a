"""Pre-flight check: predict each pool's Pareto resolution and warn about avoidable duplicates."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from llm_council.config import TIERS, CouncilConfig
from llm_council.gateway.openrouter import pareto_score
from llm_council.pareto import parse_pareto_model, rank_band, route
from llm_council.registry import Registry


class ParetoPrediction(BaseModel):
    tier: str
    seat_id: str
    requested_model: str
    min_coding_score: float | None
    band: str
    primary: str | None  # cheapest (or fastest for :nitro) available member
    nitro: str | None  # what the :nitro variant would take
    fallbacks: list[str]


class Finding(BaseModel):
    level: Literal["warning", "error"]
    tier: str | None
    message: str


class CheckResult(BaseModel):
    config: str
    registry: str
    predictions: list[ParetoPrediction]
    findings: list[Finding]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]


def run_check(config: CouncilConfig, registry: Registry) -> CheckResult:
    """Validate the pools against the registry and predict every Pareto seat's model."""
    scores = {t.value: s for t, s in config.pareto.tier_scores.items()}
    predictions: list[ParetoPrediction] = []
    findings: list[Finding] = []
    for tier in TIERS:
        entries = config.pool(tier).models
        seats = {f"s{i}": e for i, e in enumerate(entries, start=1)}
        named = {sid: e.model for sid, e in seats.items() if parse_pareto_model(e.model) is None}
        for model in registry.unknown(e.model for e in entries):
            findings.append(
                Finding(
                    level="warning",
                    tier=tier,
                    message=f"{tier}: {model} is not in the registry (price and family unknown)",
                )
            )
        providers = {registry.provider_of(m) for m in named.values()}
        for sid, entry in seats.items():
            ref = parse_pareto_model(entry.model)
            if ref is None:
                continue
            score = pareto_score(entry.model, tier, entry.min_coding_score, scores)
            chosen = route(registry, score, ref.variant)
            nitro = rank_band(registry, chosen.band, "nitro")
            prediction = ParetoPrediction(
                tier=tier,
                seat_id=sid,
                requested_model=entry.model,
                min_coding_score=score,
                band=chosen.band,
                primary=chosen.primary,
                nitro=nitro[0].id if nitro else None,
                fallbacks=list(chosen.fallbacks),
            )
            predictions.append(prediction)
            if chosen.primary:
                providers.add(registry.provider_of(chosen.primary))
                findings += _duplicate_findings(
                    tier, sid, entry.model, chosen.primary, named, registry
                )
        if len(providers) == 1 and len(entries) > 1:
            findings.append(
                Finding(
                    level="warning",
                    tier=tier,
                    message=f"{tier}: every seat is from {providers.pop()}; the council hears one "
                    "provider's perspective",
                )
            )
    return CheckResult(
        config=config.source, registry=registry.source, predictions=predictions, findings=findings
    )


def _duplicate_findings(
    tier: str, sid: str, requested: str, predicted: str, named: dict[str, str], registry: Registry
) -> list[Finding]:
    out = []
    for other, model in named.items():
        if model == predicted:
            out.append(
                Finding(
                    level="warning",
                    tier=tier,
                    message=f"{tier}: {sid} ({requested}) is predicted to resolve to {predicted}, "
                    f"already seat {other}: an exact duplicate you can avoid before paying for it",
                )
            )
        elif registry.family_of(model) == registry.family_of(predicted):
            out.append(
                Finding(
                    level="warning",
                    tier=tier,
                    message=f"{tier}: {sid} ({requested}) is predicted to resolve to {predicted}, "
                    f"the same family as seat {other} ({model})",
                )
            )
    return out
