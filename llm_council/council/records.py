"""Turn gateway outcomes into call records, seat results, the session status and notices."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from llm_council.council.plan import Seat
from llm_council.council.result import (
    CallRecord,
    ChairmanResult,
    DuplicateFlag,
    ReviewResult,
    SeatResult,
    SessionStatus,
    Stage,
)
from llm_council.gateway.base import CallStatus, CompletionRequest, CompletionResult, GatewayError
from llm_council.registry import Registry


@dataclass(frozen=True, slots=True)
class Outcome:
    """A call's result or error, and the record kept of it."""

    result: CompletionResult | None
    error: GatewayError | None
    record: CallRecord


def call_record(
    stage: Stage,
    seat_id: str,
    request: CompletionRequest,
    score: float | None,
    started_at: datetime,
    latency_ms: float,
    result: CompletionResult | None,
    error: GatewayError | None,
    registry: Registry,
) -> CallRecord:
    """What the audition store keeps of one call; a missing cost is estimated and marked."""
    variant = request.model.partition(":")[2] or None
    if result is None:
        assert error is not None
        return CallRecord(
            stage=stage,
            seat_id=seat_id,
            requested_model=request.model,
            resolved_model=None,
            min_coding_score=score,
            variant=variant,
            status=error.status,
            error=str(error),
            started_at=started_at,
            latency_ms=latency_ms,
            attempts=error.attempts,
        )
    cost, estimated = result.usage.cost_usd, False
    # Unreadable usage: the tokens are unknown, so no estimate from them either.
    if cost is None and result.resolved_model and result.usage_problem is None:
        cost = registry.estimate_cost(
            result.resolved_model, result.usage.prompt_tokens, result.usage.completion_tokens
        )
        estimated = cost is not None
    return CallRecord(
        stage=stage,
        seat_id=seat_id,
        requested_model=request.model,
        resolved_model=result.resolved_model,
        min_coding_score=score,
        variant=variant,
        generation_id=result.generation_id,
        status="ok",
        started_at=started_at,
        latency_ms=result.latency_ms,
        prompt_tokens=result.usage.prompt_tokens,
        completion_tokens=result.usage.completion_tokens,
        cost_usd=cost,
        cost_estimated=estimated,
        attempts=result.attempts,
        provider=result.provider,
        router=result.router,
    )


def abstention(
    reviewer_id: str,
    error: str | None,
    status: CallStatus = "ok",
    *,
    judge_model: str | None = None,
) -> ReviewResult:
    """A review that produced no ranking (not asked, failed, cancelled); judges say so."""
    return ReviewResult(
        reviewer_seat=reviewer_id,
        resolved_model=None,
        ranking=[],
        abstained=True,
        parse="none",
        status=status,
        error=error,
        judge=judge_model is not None,
        requested_model=judge_model,
    )


def seat_result(seat: Seat, out: Outcome) -> SeatResult:
    record = out.record
    answered = out.result is not None
    return SeatResult(
        seat_id=seat.seat_id,
        requested_model=seat.requested_model,
        variant=seat.variant,
        min_coding_score=seat.min_coding_score,
        resolved_model=record.resolved_model,
        status=record.status,
        error=record.error,
        latency_ms=round(record.latency_ms, 3),
        answer=out.result.content if out.result else None,
        generation_id=record.generation_id,
        attempts=record.attempts,
        answered_via="router" if answered and seat.is_pareto else None,
        flags=[DuplicateFlag(kind="unnamed")] if answered and not record.resolved_model else [],
    )


def sum_cost(calls: Iterable[CallRecord]) -> float | None:
    costs = [c.cost_usd for c in calls if c.cost_usd is not None]
    return round(sum(costs), 8) if costs else None


def session_status(
    seats: Sequence[SeatResult], reviews: Sequence[ReviewResult], chairman: ChairmanResult
) -> SessionStatus:
    if not any(s.status == "ok" for s in seats):
        return "failed"
    if (
        all(s.status == "ok" for s in seats)
        and chairman.status == "ok"
        and all(r.status == "ok" for r in reviews)
    ):
        return "ok"
    return "partial"


def failure_notices(
    seats: Sequence[SeatResult], reviews: Sequence[ReviewResult], chairman: ChairmanResult
) -> list[str]:
    notes = [
        f"{s.seat_id} ({s.requested_model}) failed: {s.status}: {s.error}"
        for s in seats
        if s.status not in ("ok", "cancelled")
    ]
    notes += [
        f"review by {r.reviewer_seat} failed: {r.status}: {r.error}"
        for r in reviews
        if r.status not in ("ok", "cancelled")
    ]
    # Cancelled calls are summed up once by the interruption notice, not listed one by one.
    if chairman.status not in ("ok", "cancelled"):
        notes.append(
            f"chairman ({chairman.requested_model}) failed: {chairman.status}: {chairman.error}"
        )
    return notes
