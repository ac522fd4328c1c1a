"""What a session will probably cost, before it runs: registry prices x expected tokens.

An estimate, and labelled as one everywhere it is shown: completion sizes are assumptions
(``CompletionSizes``), prompt sizes are counted at ``BYTES_PER_TOKEN`` bytes a token (see
``preflight``), and a Pareto seat is priced as the model its band is predicted to resolve
to (``pareto.route``: the cheapest member, the fastest for ``:nitro``), the same prediction
``llm-council check`` shows. Conditional calls are left out: judges (only when duplicates
leave an answer unranked), reroutes (policy ``reroute`` on a duplicate) and retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from llm_council.council.plan import Seat, SessionPlan
from llm_council.council.preflight import BYTES_PER_TOKEN, PreflightError, estimated_tokens
from llm_council.council.prompts import (
    Candidate,
    answer_messages,
    chairman_messages,
    review_messages,
    stage_label,
)
from llm_council.gateway.base import ChatMessage
from llm_council.pareto import route
from llm_council.registry import Registry

ESTIMATE_LABEL = "estimate"
# A prompt of this many tokens stands for "a typical coding question" when there is no
# prompt yet (``check --cost``): a paragraph of text plus a short code excerpt.
REFERENCE_PROMPT_TOKENS = 500


@dataclass(frozen=True, slots=True)
class CompletionSizes:
    """Assumed completion tokens per call. Real coding answers run longer than chat replies:
    code in fenced blocks plus edge cases and tests; reviews critique every candidate."""

    answer: int = 800
    review: int = 400
    synthesis: int = 1200


DEFAULT_SIZES = CompletionSizes()


class CallEstimate(BaseModel):
    """One expected call: the model it is priced at and the tokens assumed."""

    stage: Literal["answer", "review", "chairman"]
    seat_id: str
    requested_model: str
    priced_model: str | None  # a Pareto seat: its predicted band model; None: no prediction
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None  # None: the registry has no price for priced_model


class SessionEstimate(BaseModel):
    """The expected cost of one session. ``cost_usd`` sums the priced calls only; when
    ``unpriced`` is not empty the true estimate is higher by an unknown amount."""

    label: Literal["estimate"] = ESTIMATE_LABEL
    tier: str
    mode: str
    prompt_tokens: int
    cost_usd: float
    unpriced: list[str]
    calls: list[CallEstimate]
    assumptions: str

    @property
    def complete(self) -> bool:
        return not self.unpriced

    def describe(self) -> str:
        """``$0.0412 (estimate)``, or with a note when some models have no price."""
        text = f"${self.cost_usd:.4f} ({ESTIMATE_LABEL})"
        if self.unpriced:
            text += f", not counting unpriced {', '.join(self.unpriced)}"
        return text


def estimate_session(
    plan: SessionPlan,
    registry: Registry,
    prompt: str,
    sizes: CompletionSizes = DEFAULT_SIZES,
) -> SessionEstimate:
    """The estimated cost of running ``plan`` on ``prompt``."""
    return estimate_plan(plan, registry, estimated_tokens(prompt), sizes)


def estimate_plan(
    plan: SessionPlan,
    registry: Registry,
    prompt_tokens: int,
    sizes: CompletionSizes = DEFAULT_SIZES,
) -> SessionEstimate:
    """The estimated cost of ``plan`` for a prompt of ``prompt_tokens`` tokens.

    Every seat answers, every seat reviews the others' answers, the chairman reads them all:
    the full session, as if nothing failed (failures only make a session cheaper).
    """
    seats = plan.seats
    overhead = _Overheads.of(plan.mode, len(seats))
    calls: list[CallEstimate] = []
    for seat in seats:
        calls.append(
            _priced(
                registry,
                "answer",
                seat,
                prompt_tokens + overhead.answer,
                sizes.answer,
            )
        )
    if len(seats) >= 2:
        review_in = prompt_tokens + overhead.review + (len(seats) - 1) * sizes.answer
        calls += [_priced(registry, "review", seat, review_in, sizes.review) for seat in seats]
    chairman_in = prompt_tokens + overhead.chairman + len(seats) * sizes.answer
    entry = registry.get(plan.chairman)
    calls.append(
        CallEstimate(
            stage="chairman",
            seat_id="chairman",
            requested_model=plan.chairman,
            priced_model=plan.chairman,
            prompt_tokens=chairman_in,
            completion_tokens=sizes.synthesis,
            cost_usd=entry.cost_usd(chairman_in, sizes.synthesis) if entry else None,
        )
    )
    unpriced = sorted({c.priced_model or c.requested_model for c in calls if c.cost_usd is None})
    return SessionEstimate(
        tier=plan.tier,
        mode=plan.mode,
        prompt_tokens=prompt_tokens,
        cost_usd=round(sum(c.cost_usd for c in calls if c.cost_usd is not None), 8),
        unpriced=unpriced,
        calls=calls,
        assumptions=(
            f"registry prices x expected tokens: prompts at {BYTES_PER_TOKEN} bytes a token, "
            f"completions of {sizes.answer} (answer), {sizes.review} (review) and "
            f"{sizes.synthesis} (synthesis) tokens; Pareto seats priced at their predicted "
            "band model; judges, reroutes and retries not included"
        ),
    )


def check_cap(estimate: SessionEstimate, max_usd: float) -> None:
    """``PreflightError`` when the estimate is above ``max_usd``, or cannot be priced."""
    if estimate.unpriced:
        raise PreflightError(
            f"cannot hold the session to the cap of ${max_usd:g}: the registry has no price "
            f"for {', '.join(estimate.unpriced)}; add it to the registry (llm-council "
            "registry sync) or run without a cost cap (nothing was called)"
        )
    if estimate.cost_usd > max_usd:
        pareto = sorted(
            {
                f"{c.seat_id} as {c.priced_model}"
                for c in estimate.calls
                if c.priced_model != c.requested_model
            }
        )
        priced = f"; Pareto seats priced {', '.join(pareto)}" if pareto else ""
        raise PreflightError(
            f"refused: this {estimate.tier} session would cost about {estimate.describe()} "
            f"(registry prices x expected tokens{priced}), above the cap of ${max_usd:g}; "
            "raise the cap, shorten the prompt or choose a cheaper tier (nothing was called)"
        )


def _priced(
    registry: Registry,
    stage: Literal["answer", "review"],
    seat: Seat,
    prompt_tokens: int,
    completion_tokens: int,
) -> CallEstimate:
    model: str | None = seat.requested_model
    if seat.is_pareto:
        model = route(registry, seat.min_coding_score, seat.variant).primary
    entry = registry.get(model) if model else None
    return CallEstimate(
        stage=stage,
        seat_id=seat.seat_id,
        requested_model=seat.requested_model,
        priced_model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=entry.cost_usd(prompt_tokens, completion_tokens) if entry else None,
    )


@dataclass(frozen=True, slots=True)
class _Overheads:
    """Tokens each stage adds around the prompt and the answers (system text, tags, format),
    measured on the real prompt templates so the estimate follows them when they change."""

    answer: int
    review: int
    chairman: int

    @classmethod
    def of(cls, mode: str, seats: int) -> _Overheads:
        def candidates(n: int) -> list[Candidate]:
            return [Candidate(label=stage_label(i), text="") for i in range(n)]

        ranking = [(stage_label(i), 0.5) for i in range(seats)]
        return cls(
            answer=_tokens(answer_messages("", mode)),
            review=_tokens(review_messages("", candidates(max(seats - 1, 0)))),
            chairman=_tokens(chairman_messages("", mode, candidates(seats), ranking)),
        )


def _tokens(messages: Sequence[ChatMessage]) -> int:
    return estimated_tokens("".join(m.content for m in messages))
