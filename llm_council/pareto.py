"""Pareto Router rules: recognising the meta-model and choosing a band and its candidates.

One implementation serves both the offline sandbox (which routes requests with it) and
``llm-council check`` (which predicts what a pool's Pareto seat will resolve to), so the
prediction and the simulated router cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from llm_council.registry import Band, ModelEntry, Registry

PARETO_MODEL_ID = "openrouter/pareto-code"
PARETO_PLUGIN_ID = "pareto-router"
PARETO_VARIANTS = frozenset({"nitro"})
MAX_FALLBACKS = 2
# min_coding_score a Pareto seat sends per council tier (ADR-043); None omits the plugin so
# the router uses its strongest default. The one definition: config defaults come from here.
PARETO_TIER_SCORES: dict[str, float | None] = {
    "quick": 0.2,
    "balanced": 0.5,
    "high": 0.8,
    "reasoning": 0.9,
    "frontier": None,
}

# When a whole band is unavailable the router steps to the next-closest band; on a tie
# we prefer the stronger neighbour so quality does not silently drop.
_NEIGHBOURS: dict[Band, tuple[Band, ...]] = {
    "high": ("medium", "low"),
    "medium": ("high", "low"),
    "low": ("medium", "high"),
}


@dataclass(frozen=True, slots=True)
class ParetoModelRef:
    """A parsed ``openrouter/pareto-code[:variant]`` id."""

    variant: str | None


def parse_pareto_model(model_id: str) -> ParetoModelRef | None:
    """Return the Pareto reference for a Pareto Router id, or None for any other model."""
    base, _, variant = model_id.strip().partition(":")
    if base != PARETO_MODEL_ID:
        return None
    if variant and variant not in PARETO_VARIANTS:
        return None
    return ParetoModelRef(variant=variant or None)


def is_pareto_model(model_id: str) -> bool:
    return parse_pareto_model(model_id) is not None


def pareto_score(
    model: str,
    tier: str | None,
    override: float | None,
    tier_scores: Mapping[str, float | None] = PARETO_TIER_SCORES,
) -> float | None:
    """The min_coding_score a call sends: the seat's override, else the tier's score.

    None for a non-Pareto model, and for a Pareto seat whose tier omits the score (frontier).
    """
    if parse_pareto_model(model) is None:
        return None
    if override is not None:
        return override
    return tier_scores.get(tier) if tier else None


def band_for_score(registry: Registry, score: float | None) -> Band:
    """Map a min_coding_score to its band; an omitted score means the high band."""
    if score is None:
        return "high"
    thresholds = registry.pareto.thresholds
    if score >= thresholds.high:
        return "high"
    if score >= thresholds.medium:
        return "medium"
    return "low"


def rank_band(registry: Registry, band: Band, variant: str | None) -> list[ModelEntry]:
    """Band members in the router's order: cheapest first, or fastest first for ``:nitro``."""
    members = list(registry.band_members(band))
    if variant == "nitro":
        return sorted(members, key=lambda m: (-(m.throughput_tps or 0.0), m.blended_per_mtok, m.id))
    return sorted(members, key=lambda m: (m.blended_per_mtok, m.id))


@dataclass(frozen=True, slots=True)
class ParetoRoute:
    """What the router will try, in order: the primary first, then same-band fallbacks."""

    requested_band: Band
    band: Band
    candidates: tuple[str, ...]

    @property
    def primary(self) -> str | None:
        return self.candidates[0] if self.candidates else None

    @property
    def fallbacks(self) -> tuple[str, ...]:
        return self.candidates[1:]

    @property
    def crossed_band(self) -> bool:
        return self.band != self.requested_band


def route(
    registry: Registry,
    score: float | None,
    variant: str | None = None,
    available: Callable[[str], bool] = lambda _model: True,
) -> ParetoRoute:
    """Choose the band and up to 1 + MAX_FALLBACKS available candidates in it.

    A neighbouring band is used only when no member of the requested band is available.
    """
    requested = band_for_score(registry, score)
    for band in (requested, *_NEIGHBOURS[requested]):
        ready = [m.id for m in rank_band(registry, band, variant) if available(m.id)]
        if ready:
            return ParetoRoute(requested, band, tuple(ready[: 1 + MAX_FALLBACKS]))
    return ParetoRoute(requested, requested, ())
