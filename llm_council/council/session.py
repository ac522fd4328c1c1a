"""One council session: stage 1 answers, stage 2 anonymised peer review, stage 3 chairman."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from llm_council.audition import duplicates
from llm_council.config import DuplicatePolicy
from llm_council.council.plan import Seat, SessionPlan
from llm_council.council.prompts import (
    Candidate,
    answer_messages,
    chairman_messages,
    review_messages,
    stage_label,
)
from llm_council.council.ranking import borda, parse_ranking
from llm_council.council.records import (
    Outcome,
    abstention,
    call_record,
    failure_notices,
    seat_result,
    session_status,
    sum_cost,
)
from llm_council.council.result import (
    CallRecord,
    ChairmanResult,
    RankingEntry,
    ReviewResult,
    SeatResult,
    SessionResult,
    Stage,
    UsageTotals,
)
from llm_council.gateway.base import (
    CallTimeoutError,
    ChatMessage,
    CompletionRequest,
    CompletionResult,
    Gateway,
    GatewayError,
)
from llm_council.registry import Registry

_MIN_CALL_BUDGET_S = 0.05


class ProgressListener(Protocol):
    """Receives live progress; the CLI renders it, the Python API ignores it by default."""

    def stage_started(self, stage: Stage, calls: int) -> None: ...

    def call_finished(
        self, stage: Stage, seat_id: str, status: str, resolved_model: str | None, latency_ms: float
    ) -> None: ...


class _NoProgress:
    def stage_started(self, stage: Stage, calls: int) -> None:
        pass

    def call_finished(
        self, stage: Stage, seat_id: str, status: str, resolved_model: str | None, latency_ms: float
    ) -> None:
        pass


class SessionRunner:
    """Runs one session through a gateway. Stateless between sessions apart from its inputs."""

    def __init__(
        self,
        gateway: Gateway,
        registry: Registry,
        *,
        exclude_self_votes: bool = True,
        duplicate_policy: DuplicatePolicy = "flag",
        progress: ProgressListener | None = None,
    ) -> None:
        self._gateway = gateway
        self._registry = registry
        self._exclude_self = exclude_self_votes
        self._policy = duplicate_policy
        self._progress = progress or _NoProgress()

    async def run(
        self,
        plan: SessionPlan,
        prompt: str,
        *,
        session_timeout_s: float,
        session_id: str | None = None,
    ) -> SessionResult:
        run = _Run(self, plan, prompt, session_timeout_s, session_id or str(uuid.uuid4()))
        return await run.execute()


class _Run:
    """The state of one session while it runs."""

    def __init__(
        self,
        runner: SessionRunner,
        plan: SessionPlan,
        prompt: str,
        timeout_s: float,
        session_id: str,
    ) -> None:
        self.r = runner
        self.plan = plan
        self.prompt = prompt
        self.session_id = session_id
        self.created_at = datetime.now(UTC)
        self.timeout_s = timeout_s
        self.per_call_s = timeout_s / 2
        self.deadline = time.monotonic() + timeout_s
        self.calls: list[CallRecord] = []
        self.notices: list[str] = list(plan.notices)
        self.by_id: dict[str, Seat] = {s.seat_id: s for s in plan.seats}

    # -- plumbing -------------------------------------------------------------------------

    def _request(
        self, seat: Seat | None, model: str, messages: tuple[ChatMessage, ...], **extra: object
    ) -> CompletionRequest:
        pareto = seat is not None and seat.is_pareto
        return CompletionRequest(
            model=model,
            messages=messages,
            tier=self.plan.tier,
            min_coding_score=seat.score_override if seat else None,
            # OpenRouter keeps a session on one concrete model; one id per Pareto seat.
            session_id=f"{self.session_id}:{seat.seat_id}" if pareto and seat else None,
            deadline_s=max(_MIN_CALL_BUDGET_S, min(self.per_call_s, self._remaining())),
            **extra,  # type: ignore[arg-type]
        )

    def _remaining(self) -> float:
        return self.deadline - time.monotonic()

    async def _call(
        self, stage: Stage, seat_id: str, request: CompletionRequest, score: float | None
    ) -> Outcome:
        started_at = datetime.now(UTC)
        t0 = time.perf_counter()
        result: CompletionResult | None = None
        error: GatewayError | None = None
        if self._remaining() <= _MIN_CALL_BUDGET_S:
            error = CallTimeoutError(f"session deadline of {self.timeout_s:g}s reached", attempts=0)
        else:
            try:
                result = await self.r._gateway.complete(request)
            except GatewayError as exc:
                error = exc
        latency_ms = (time.perf_counter() - t0) * 1000
        record = call_record(
            stage, seat_id, request, score, started_at, latency_ms, result, error, self.r._registry
        )
        self.calls.append(record)
        self.r._progress.call_finished(
            stage, seat_id, record.status, record.resolved_model, record.latency_ms
        )
        return Outcome(result, error, record)

    # -- the three stages ---------------------------------------------------------------

    async def execute(self) -> SessionResult:
        seats = await self._stage1()
        answered = [s for s in seats if s.status == "ok"]
        reviews: list[ReviewResult] = []
        ranking: list[RankingEntry] = []
        if not answered:
            chairman = ChairmanResult(
                requested_model=self.plan.chairman,
                status="error",
                error="not called: no seat answered",
            )
            synthesis, fallback = None, False
        else:
            duplicates.apply_flags(seats, duplicates.stage1_flags(seats, self.r._registry))
            if self.r._policy == "reroute":
                await self._reroute(seats)
            voices = self._voices(answered)
            reviews, ranking = await self._stage2(seats, voices)
            chairman, synthesis, fallback = await self._stage3(seats, voices, ranking)
        for seat in seats:
            seat.cost_usd = sum_cost(c for c in self.calls if c.seat_id == seat.seat_id)
        status = session_status(seats, reviews, chairman)
        return SessionResult(
            session_id=self.session_id,
            created_at=self.created_at,
            tier=self.plan.tier,
            mode=self.plan.mode,
            status=status,
            gateway=self.r._gateway.kind,
            prompt=self.prompt,
            seats=seats,
            ranking=ranking,
            reviews=reviews,
            chairman=chairman,
            synthesis=synthesis,
            synthesis_is_fallback=fallback,
            usage=UsageTotals(
                prompt_tokens=sum(c.prompt_tokens for c in self.calls),
                completion_tokens=sum(c.completion_tokens for c in self.calls),
                cost_usd=sum_cost(self.calls) or 0.0,
            ),
            duplicate_policy=self.r._policy,
            notices=self.notices + failure_notices(seats, reviews, chairman),
            calls=self.calls,
        )

    async def _stage1(self) -> list[SeatResult]:
        self.r._progress.stage_started("answer", len(self.plan.seats))
        messages = answer_messages(self.prompt, self.plan.mode)
        outcomes = await asyncio.gather(
            *(
                self._call(
                    "answer",
                    s.seat_id,
                    self._request(s, s.requested_model, messages),
                    s.min_coding_score,
                )
                for s in self.plan.seats
            )
        )
        return [seat_result(seat, out) for seat, out in zip(self.plan.seats, outcomes, strict=True)]

    async def _reroute(self, seats: list[SeatResult]) -> None:
        """Policy ``reroute``: re-ask an exact-duplicate Pareto seat pinned to an unseated model."""
        seated = {s.resolved_model for s in seats if s.resolved_model}
        messages = answer_messages(self.prompt, self.plan.mode)
        for seat in seats:
            if not seat.is_pareto or seat.duplicate_kind != "exact":
                continue
            plan_seat = self.by_id[seat.seat_id]
            target = duplicates.reroute_candidate(
                seat, seated, self.r._registry, plan_seat.min_coding_score
            )
            if target is None:
                self.notices.append(
                    f"{seat.seat_id}: duplicate of {', '.join(seat.duplicate_of)} but no unseated "
                    "model in its band to reroute to; kept as is"
                )
                continue
            request = self._request(plan_seat, seat.requested_model, messages, models=(target,))
            out = await self._call("reroute", seat.seat_id, request, plan_seat.min_coding_score)
            if out.result is None:
                self.notices.append(
                    f"{seat.seat_id}: reroute to {target} failed ({out.error}); kept"
                )
                continue
            previous = seat.resolved_model
            seat.rerouted_from = previous
            seat.resolved_model = out.result.resolved_model
            seat.answer = out.result.content
            seat.generation_id = out.result.generation_id
            seated = {s.resolved_model for s in seats if s.resolved_model}
            self.notices.append(
                f"{seat.seat_id}: rerouted from {previous} to {seat.resolved_model}"
            )
        # Flags describe the seats as they now stand; the reroute itself stays recorded.
        for seat in seats:
            seat.flags, seat.duplicate_of, seat.duplicate_kind = [], [], None
        duplicates.apply_flags(seats, duplicates.stage1_flags(seats, self.r._registry))

    def _voices(self, answered: list[SeatResult]) -> list[SeatResult]:
        """Seats that review and are ranked; under ``collapse`` an exact group is one voice."""
        if self.r._policy != "collapse":
            return answered
        order = {s.seat_id: i for i, s in enumerate(answered)}
        hidden: set[str] = set()
        for group in duplicates.collapse_groups(answered):
            members = sorted(group, key=lambda sid: order.get(sid, len(order)))
            hidden.update(members[1:])
            self.notices.append(
                f"collapse: {', '.join(members)} resolved to the same model and count as one "
                f"voice ({members[0]})"
            )
        return [s for s in answered if s.seat_id not in hidden]

    async def _stage2(
        self, seats: list[SeatResult], voices: list[SeatResult]
    ) -> tuple[list[ReviewResult], list[RankingEntry]]:
        shuffled = list(voices)
        random.Random(self.session_id).shuffle(shuffled)
        for index, seat in enumerate(shuffled):
            seat.label = stage_label(index)
        self.r._progress.stage_started("review", len(voices))
        reviews = await asyncio.gather(*(self._review(rv, shuffled) for rv in voices))
        ballots = []
        for review in reviews:
            allowed = self._allowed(
                self._seat(seats, review.reviewer_seat), shuffled, review.resolved_model
            )
            ballots.append((review.ranking, len(allowed)))
        scores = borda(ballots, tie_order=[s.seat_id for s in shuffled])
        for score in scores:
            seat = self._seat(seats, score.seat_id)
            seat.borda, seat.votes = round(score.borda, 6), score.votes
        self._share_collapsed(seats, voices)
        return list(reviews), [
            RankingEntry(seat_id=s.seat_id, borda=round(s.borda, 6), votes=s.votes) for s in scores
        ]

    def _allowed(
        self, reviewer: SeatResult, candidates: Sequence[SeatResult], stage2_model: str | None
    ) -> list[SeatResult]:
        """Candidates a reviewer may rank: never its own answer, nor (by default) any answer
        written by the concrete model it is (at stage 1, or at stage 2 if it drifted)."""
        own_models = {reviewer.resolved_model, stage2_model or reviewer.resolved_model}
        return [
            c
            for c in candidates
            if c.seat_id != reviewer.seat_id
            and not (self.r._exclude_self and c.resolved_model in own_models)
        ]

    async def _review(self, reviewer: SeatResult, shuffled: list[SeatResult]) -> ReviewResult:
        allowed = self._allowed(reviewer, shuffled, None)
        if len(allowed) < 2:
            return abstention(
                reviewer, "not asked: fewer than two answers it may rank (own model excluded)"
            )
        plan_seat = self.by_id[reviewer.seat_id]
        candidates = [Candidate(label=c.label or "", text=c.answer or "") for c in allowed]
        request = self._request(
            plan_seat, reviewer.requested_model, review_messages(self.prompt, candidates)
        )
        if reviewer.rerouted_from and reviewer.resolved_model:
            request = request.model_copy(update={"models": (reviewer.resolved_model,)})
        out = await self._call("review", reviewer.seat_id, request, plan_seat.min_coding_score)
        if out.result is None:
            return abstention(reviewer, out.record.error, out.record.status)
        resolved = out.result.resolved_model
        if plan_seat.is_pareto and (flag := duplicates.drift_flag(reviewer, resolved)):
            duplicates.apply_flags([reviewer], {reviewer.seat_id: [flag]})
        # Drop votes for answers written by the model the reviewer turned out to be at stage 2.
        permitted = {c.label: c.seat_id for c in self._allowed(reviewer, allowed, resolved)}
        parsed = parse_ranking(out.result.content, list(permitted))
        return ReviewResult(
            reviewer_seat=reviewer.seat_id,
            resolved_model=resolved,
            ranking=[permitted[label] for label in parsed.labels],
            abstained=parsed.abstained,
            parse=parsed.parse,
        )

    def _share_collapsed(self, seats: list[SeatResult], voices: list[SeatResult]) -> None:
        """Under ``collapse`` the hidden members of a group carry their voice's label and score."""
        voice_ids = {v.seat_id for v in voices}
        for seat in seats:
            if seat.status != "ok" or seat.seat_id in voice_ids:
                continue
            twin = next((v for v in voices if v.resolved_model == seat.resolved_model), None)
            if twin is not None:
                seat.label, seat.borda, seat.votes = twin.label, twin.borda, twin.votes

    async def _stage3(
        self, seats: list[SeatResult], voices: list[SeatResult], ranking: list[RankingEntry]
    ) -> tuple[ChairmanResult, str | None, bool]:
        self.r._progress.stage_started("chairman", 1)
        ordered = sorted(voices, key=lambda s: s.label or "")
        candidates = [Candidate(label=s.label or "", text=s.answer or "") for s in ordered]
        label_of = {s.seat_id: s.label or "" for s in seats}
        ranked = [(label_of[e.seat_id], e.borda) for e in ranking]
        chairman = self.plan.chairman
        request = self._request(
            None, chairman, chairman_messages(self.prompt, self.plan.mode, candidates, ranked)
        )
        out = await self._call("chairman", "chairman", request, None)
        if out.result is not None:
            return (
                ChairmanResult(
                    requested_model=chairman, resolved_model=out.result.resolved_model, status="ok"
                ),
                out.result.content,
                False,
            )
        top = self._seat(seats, ranking[0].seat_id) if ranking else ordered[0]
        note = (
            f"> **Fallback, not a synthesis.** The chairman ({chairman}) failed: "
            f"{out.record.status}: {out.record.error}. Below is the top-ranked answer, "
            f"{top.label} (seat {top.seat_id}, {top.resolved_model}), unedited.\n\n"
        )
        return (
            ChairmanResult(
                requested_model=chairman, status=out.record.status, error=out.record.error
            ),
            note + (top.answer or ""),
            True,
        )

    @staticmethod
    def _seat(seats: Sequence[SeatResult], seat_id: str) -> SeatResult:
        return next(s for s in seats if s.seat_id == seat_id)
