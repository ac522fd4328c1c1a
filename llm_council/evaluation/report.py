"""The eval report: the ``llm-council eval --format json`` contract and how it is computed.

Strategies compared on the same sessions: the council's synthesis, "pick the Borda winner"
(the seat the peer review ranked first), each seat alone, the best seat in hindsight, and
the Pareto seat split by the concrete model it resolved to. Every pass rate has a Wilson
95% interval; every cost is what that strategy had to pay (see ``grade.answer_cost`` and
``grade.ranking_cost``). Fields beyond DESIGN.md's contract are additions, never renames.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from pydantic import BaseModel

from llm_council.council.result import SessionResult
from llm_council.evaluation.grade import COUNCIL, Grade, answer_cost, ranking_cost
from llm_council.evaluation.score import auc, cost_per_solved, pass_rate, wilson_ci95
from llm_council.evaluation.tasks import Task
from llm_council.pareto import is_pareto_model

UNRESOLVED = "(unresolved)"  # a Pareto seat that did not answer: no concrete model known


class CouncilScore(BaseModel):
    passed: int
    pass_rate: float | None
    ci95: list[float] | None
    cost_usd: float
    cost_per_solved_usd: float | None


class BordaWinnerScore(BaseModel):
    passed: int
    pass_rate: float | None
    ci95: list[float] | None
    cost_usd: float = 0.0  # stages 1 and 2: answers and reviews, no chairman
    cost_per_solved_usd: float | None = None
    fallbacks: int = 0  # sessions without a usable ranking: the first seat that answered


class BestSeatScore(BaseModel):
    seat_id: str | None  # None when no seat was graded
    passed: int
    pass_rate: float | None
    ci95: list[float] | None = None
    requested_model: str | None = None
    cost_usd: float = 0.0
    cost_per_solved_usd: float | None = None


class SeatScore(BaseModel):
    seat_id: str
    requested_model: str
    resolved_models: dict[str, int]  # concrete model -> sessions it answered in this seat
    passed: int
    pass_rate: float | None
    ci95: list[float] | None
    cost_usd: float
    cost_per_solved_usd: float | None
    n: int = 0  # sessions this seat was in


class ModelScore(BaseModel):
    """The Pareto seat's results on the sessions where it resolved to ``model``."""

    model: str
    n: int
    passed: int
    pass_rate: float | None
    ci95: list[float] | None
    cost_usd: float
    cost_per_solved_usd: float | None


class BordaPredictsPass(BaseModel):
    auc: float | None  # None without both a passing and a failing answer with a Borda score
    n: int


class ResultRow(BaseModel):
    task_id: str
    session_id: str
    who: str
    passed: bool
    reason: str | None


class EvalReport(BaseModel):
    tasks: int
    tier: str
    gateway: str
    sessions: int
    council: CouncilScore
    borda_winner: BordaWinnerScore
    best_single_seat: BestSeatScore
    seats: list[SeatScore]
    pareto_by_model: list[ModelScore]
    borda_predicts_pass: BordaPredictsPass
    synthesis_worse_than_best_answer: int  # sessions: synthesis failed, some seat passed
    outcomes: dict[str, int]  # every grade's outcome, counted
    results: list[ResultRow]


def build_eval_report(
    tasks: Sequence[Task],
    results: Sequence[SessionResult],
    grades: Sequence[Grade],
    *,
    tier: str,
    gateway: str,
) -> EvalReport:
    """The report over ``results`` and their ``grades`` (from ``grade_session``).

    A seat or synthesis without a grade is counted as failed with the reason "not graded",
    so a partial grading shows as such instead of inflating the rates.
    """
    index = {(g.session_id, g.who): g for g in grades}
    task_of = {g.session_id: g.task_id for g in grades}
    council_grades: list[Grade] = []
    seat_grades: list[Grade] = []
    winners: list[Grade] = []
    fallbacks = worse = 0
    ranking_usd = 0.0
    for result in results:
        sid = result.session_id
        council = index.get((sid, COUNCIL)) or _ungraded(
            task_of.get(sid, "?"), sid, COUNCIL, result.usage.cost_usd
        )
        council_grades.append(council)
        seats = [
            index.get((sid, s.seat_id))
            or _ungraded(
                task_of.get(sid, "?"),
                sid,
                s.seat_id,
                answer_cost(result, s.seat_id),
                s.requested_model,
            )
            for s in result.seats
        ]
        seat_grades += seats
        if not council.passed and any(g.passed for g in seats):
            worse += 1
        winner_id, fell_back = _borda_winner(result)
        fallbacks += fell_back
        winner = next((g for g in seats if g.who == winner_id), None)
        if winner is not None:
            winners.append(winner)
        ranking_usd += ranking_cost(result)
    n = len(results)
    council_passed = sum(g.passed for g in council_grades)
    council_usd = round(sum(r.usage.cost_usd for r in results), 8)
    winner_passed = sum(g.passed for g in winners)
    seat_scores = _seat_scores(seat_grades)
    scored = [g for g in seat_grades if g.borda is not None and g.outcome != "no_answer"]
    return EvalReport(
        tasks=len(tasks),
        tier=tier,
        gateway=gateway,
        sessions=n,
        council=CouncilScore(
            passed=council_passed,
            pass_rate=pass_rate(council_passed, n),
            ci95=_ci(council_passed, n),
            cost_usd=council_usd,
            cost_per_solved_usd=cost_per_solved(council_usd, council_passed),
        ),
        borda_winner=BordaWinnerScore(
            passed=winner_passed,
            pass_rate=pass_rate(winner_passed, n),
            ci95=_ci(winner_passed, n),
            cost_usd=round(ranking_usd, 8),
            cost_per_solved_usd=cost_per_solved(ranking_usd, winner_passed),
            fallbacks=fallbacks,
        ),
        best_single_seat=_best(seat_scores),
        seats=seat_scores,
        pareto_by_model=_pareto_by_model(seat_grades),
        borda_predicts_pass=BordaPredictsPass(
            auc=auc([g.borda or 0.0 for g in scored], [g.passed for g in scored]), n=len(scored)
        ),
        synthesis_worse_than_best_answer=worse,
        outcomes=dict(Counter(g.outcome for g in [*seat_grades, *council_grades]).most_common()),
        results=[
            ResultRow(
                task_id=g.task_id,
                session_id=g.session_id,
                who=g.who,
                passed=g.passed,
                reason=g.reason,
            )
            for g in _in_session_order(council_grades, seat_grades)
        ],
    )


def _ungraded(
    task_id: str, session_id: str, who: str, cost: float | None, requested: str | None = None
) -> Grade:
    return Grade(
        task_id=task_id,
        session_id=session_id,
        who=who,
        passed=False,
        outcome="error",
        reason="error: not graded",
        requested_model=requested,
        cost_usd=cost,
    )


def _borda_winner(result: SessionResult) -> tuple[str | None, bool]:
    """The seat the peer review ranked first, and whether that needed the fallback.

    Without a ranking that any vote counted in (no reviews, or all abstained), "pick the
    winner" can only pick blindly: the first seat that answered, counted as a fallback.
    """
    ranked = [e for e in result.ranking if e.votes > 0]
    if ranked:
        return ranked[0].seat_id, False
    answered = [s.seat_id for s in result.seats if s.status == "ok" and (s.answer or "").strip()]
    return (answered[0] if answered else None), True


def _ci(passed: int, n: int) -> list[float] | None:
    ci = wilson_ci95(passed, n)
    return list(ci) if ci else None


def _seat_scores(grades: Iterable[Grade]) -> list[SeatScore]:
    by_seat: dict[str, list[Grade]] = {}
    for g in grades:
        by_seat.setdefault(g.who, []).append(g)
    out = []
    for seat_id, gs in by_seat.items():  # first-seen order: s1, s2, ...
        passed = sum(g.passed for g in gs)
        cost = round(sum(g.cost_usd or 0.0 for g in gs), 8)
        requested = Counter(g.requested_model or "?" for g in gs).most_common(1)[0][0]
        resolved = Counter(g.resolved_model for g in gs if g.resolved_model)
        out.append(
            SeatScore(
                seat_id=seat_id,
                requested_model=requested,
                resolved_models=dict(resolved.most_common()),
                passed=passed,
                pass_rate=pass_rate(passed, len(gs)),
                ci95=_ci(passed, len(gs)),
                cost_usd=cost,
                cost_per_solved_usd=cost_per_solved(cost, passed),
                n=len(gs),
            )
        )
    return out


def _best(seats: Sequence[SeatScore]) -> BestSeatScore:
    """The seat with the highest pass rate in hindsight; ties go to the cheaper, then earlier."""
    graded = [s for s in seats if s.n]
    if not graded:
        return BestSeatScore(seat_id=None, passed=0, pass_rate=None)
    best = min(
        enumerate(graded), key=lambda item: (-(item[1].pass_rate or 0.0), item[1].cost_usd, item[0])
    )[1]
    return BestSeatScore(
        seat_id=best.seat_id,
        passed=best.passed,
        pass_rate=best.pass_rate,
        ci95=best.ci95,
        requested_model=best.requested_model,
        cost_usd=best.cost_usd,
        cost_per_solved_usd=best.cost_per_solved_usd,
    )


def _pareto_by_model(grades: Iterable[Grade]) -> list[ModelScore]:
    by_model: dict[str, list[Grade]] = {}
    for g in grades:
        if is_pareto_model(g.requested_model or ""):
            by_model.setdefault(g.resolved_model or UNRESOLVED, []).append(g)
    out = []
    for model, gs in sorted(by_model.items(), key=lambda item: (-len(item[1]), item[0])):
        passed = sum(g.passed for g in gs)
        cost = round(sum(g.cost_usd or 0.0 for g in gs), 8)
        out.append(
            ModelScore(
                model=model,
                n=len(gs),
                passed=passed,
                pass_rate=pass_rate(passed, len(gs)),
                ci95=_ci(passed, len(gs)),
                cost_usd=cost,
                cost_per_solved_usd=cost_per_solved(cost, passed),
            )
        )
    return out


def _in_session_order(council: list[Grade], seats: list[Grade]) -> list[Grade]:
    """Each session's seats, then its synthesis, sessions in the order they were given."""
    by_session: dict[str, list[Grade]] = {}
    for g in seats:
        by_session.setdefault(g.session_id, []).append(g)
    out: list[Grade] = []
    for g in council:
        out += by_session.pop(g.session_id, [])
        out.append(g)
    return out
