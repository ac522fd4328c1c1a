"""Grade one council session on one task: every seat's answer and the chairman's synthesis.

Synchronous (each grade is an isolated subprocess); callers run sessions concurrently, for
example with ``asyncio.to_thread`` and a semaphore.
"""

from __future__ import annotations

from pydantic import BaseModel

from llm_council.council.records import sum_cost
from llm_council.council.result import SessionResult
from llm_council.evaluation.extract import extract_code
from llm_council.evaluation.isolate import DEFAULT_LIMITS, Limits, Outcome, RunResult, run_tests
from llm_council.evaluation.tasks import Task
from llm_council.pareto import is_pareto_model

COUNCIL = "council"  # the ``who`` of the synthesis


class Grade(BaseModel):
    """Whether one answer (a seat's, or the council's synthesis) passed the task's tests."""

    task_id: str
    session_id: str
    who: str  # a seat id, or "council"
    passed: bool
    outcome: Outcome
    reason: str | None = None  # None exactly when passed
    requested_model: str | None = None  # the chairman's for "council"
    resolved_model: str | None = None
    borda: float | None = None  # seats only
    cost_usd: float | None = None  # the seat's answer calls; for "council" the whole session
    duration_ms: float = 0.0  # the isolated run, 0 when nothing ran

    @property
    def is_pareto(self) -> bool:
        return self.who != COUNCIL and is_pareto_model(self.requested_model or "")


def grade_answer(task: Task, answer: str | None, *, limits: Limits = DEFAULT_LIMITS) -> RunResult:
    """Extract the code from ``answer`` and run the task's tests on it in isolation."""
    extraction = extract_code(answer, task.entry_point)
    if extraction.code is None:
        return RunResult("no_code", f"no code: {extraction.reason}", 0.0)
    return run_tests(extraction.code, task.tests, entry_point=task.entry_point, limits=limits)


def grade_session(
    task: Task, result: SessionResult, *, limits: Limits = DEFAULT_LIMITS
) -> list[Grade]:
    """One grade per seat (``who`` = seat id, in seat order), then the synthesis ("council").

    A seat that did not answer, or a session without a synthesis, is graded ``no_answer``
    (not passed) with the seat's or chairman's status in the reason; nothing is skipped.
    """
    grades = []
    for seat in result.seats:
        base = {
            "task_id": task.id,
            "session_id": result.session_id,
            "who": seat.seat_id,
            "requested_model": seat.requested_model,
            "resolved_model": seat.resolved_model,
            "borda": seat.borda,
            "cost_usd": answer_cost(result, seat.seat_id),
        }
        if seat.status != "ok" or not (seat.answer or "").strip():
            why = f"seat status {seat.status}" + (f" ({seat.error})" if seat.error else "")
            grades.append(
                Grade(**base, passed=False, outcome="no_answer", reason=f"no answer: {why}")
            )
            continue
        grades.append(_graded(base, grade_answer(task, seat.answer, limits=limits)))
    council = {
        "task_id": task.id,
        "session_id": result.session_id,
        "who": COUNCIL,
        "requested_model": result.chairman.requested_model,
        "resolved_model": result.chairman.resolved_model,
        "cost_usd": result.usage.cost_usd,
    }
    if not (result.synthesis or "").strip():
        why = f"chairman status {result.chairman.status}" + (
            f" ({result.chairman.error})" if result.chairman.error else ""
        )
        grades.append(
            Grade(**council, passed=False, outcome="no_answer", reason=f"no synthesis: {why}")
        )
    else:
        grades.append(_graded(council, grade_answer(task, result.synthesis, limits=limits)))
    return grades


def answer_cost(result: SessionResult, seat_id: str) -> float | None:
    """What the seat's answer cost: its answer (and reroute) calls, not its review.

    That is the price of using the seat alone; its review belongs to the council's price.
    A result read back from JSON has no calls: then the seat's whole cost, an overestimate.
    """
    if not result.calls:
        return result.seat(seat_id).cost_usd
    return sum_cost(
        c for c in result.calls if c.seat_id == seat_id and c.stage in ("answer", "reroute")
    )


def ranking_cost(result: SessionResult) -> float:
    """What stages 1 and 2 cost (everything but the chairman): the price of "pick the Borda
    winner". Without calls (a result read from JSON), the whole session's cost."""
    if not result.calls:
        return result.usage.cost_usd
    return sum_cost(c for c in result.calls if c.stage != "chairman") or 0.0


def _graded(base: dict[str, object], run: RunResult) -> Grade:
    return Grade.model_validate(
        {
            **base,
            "passed": run.passed,
            "outcome": run.outcome,
            "reason": run.reason,
            "duration_ms": run.duration_ms,
        }
    )
