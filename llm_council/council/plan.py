"""Turn a tier's pool into seats: the seat, not the model id, is the unit of identity."""

from __future__ import annotations

from dataclasses import dataclass

from llm_council.choices import Mode
from llm_council.config import CouncilConfig
from llm_council.pareto import pareto_score, parse_pareto_model


@dataclass(frozen=True, slots=True)
class Seat:
    seat_id: str
    requested_model: str
    min_coding_score: float | None  # what the Pareto plugin will carry; None = omitted
    score_override: float | None  # the pool entry's own score, if it set one
    variant: str | None
    is_pareto: bool


@dataclass(frozen=True, slots=True)
class SessionPlan:
    tier: str
    mode: Mode
    seats: tuple[Seat, ...]
    chairman: str
    notices: tuple[str, ...]


def plan_session(
    config: CouncilConfig, tier: str, mode: Mode, chairman: str | None = None
) -> SessionPlan:
    """Seats ``s1..sN`` from the tier's pool, in pool order; listing a model twice gives two seats.

    Pareto seats are coding-only: in general mode they are left out, with a notice.
    """
    scores = {t.value: s for t, s in config.pareto.tier_scores.items()}
    seats: list[Seat] = []
    notices: list[str] = []
    for index, entry in enumerate(config.pool(tier).models, start=1):
        seat_id = f"s{index}"
        ref = parse_pareto_model(entry.model)
        if ref is not None and mode == "general":
            notices.append(
                f"{seat_id} ({entry.model}) left out: the Pareto Router is coding-only "
                "and this session runs in general mode"
            )
            continue
        seats.append(
            Seat(
                seat_id=seat_id,
                requested_model=entry.model,
                min_coding_score=pareto_score(entry.model, tier, entry.min_coding_score, scores),
                score_override=entry.min_coding_score,
                variant=ref.variant if ref else None,
                is_pareto=ref is not None,
            )
        )
    return SessionPlan(
        tier=tier,
        mode=mode,
        seats=tuple(seats),
        chairman=chairman or config.council.chairman,
        notices=tuple(notices),
    )
