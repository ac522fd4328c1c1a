"""One council session: stage 1 answers, stage 2 anonymised peer review, stage 3 chairman.

Each stage runs its calls under an ``asyncio.TaskGroup``: a failure never orphans sibling
calls, and a cancellation (Ctrl-C, a client going away) reaches every call in flight. Every
call that finished is kept; an interrupted session is assembled from what exists and handed
to ``on_interrupted`` before the cancellation propagates, so the caller can store it.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from llm_council.choices import DuplicatePolicy
from llm_council.council import duplicates
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
    Verdict,
)
from llm_council.council.verdict import VerdictStreamFilter, parse_verdict
from llm_council.gateway.base import (
    CallCancelledError,
    CallStatus,
    CallTimeoutError,
    ChatMessage,
    CompletionRequest,
    CompletionResult,
    Gateway,
    GatewayError,
)
from llm_council.log import get_logger
from llm_council.pareto import is_pareto_model
from llm_council.registry import Registry

_MIN_CALL_BUDGET_S = 0.05
_log = get_logger("llm_council.council")

OnInterrupted = Callable[[SessionResult], Awaitable[None]]


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


class InternalCallError(GatewayError):
    """A call failed inside llm-council itself (a bug), not at the gateway; kept as a record."""


@dataclass(frozen=True, slots=True)
class RunContext:
    """What a session run needs from outside; fixed for the whole session."""

    gateway: Gateway
    registry: Registry
    exclude_self_votes: bool
    duplicate_policy: DuplicatePolicy
    progress: ProgressListener
    judges: tuple[str, ...]  # independent reviewers; empty = the chairman model
    context: str = ""  # data block after the question, to the seats and the chairman (ADR-015)


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
        judges: Sequence[str] = (),
        context: str = "",
    ) -> None:
        self._context = RunContext(
            gateway=gateway,
            registry=registry,
            exclude_self_votes=exclude_self_votes,
            duplicate_policy=duplicate_policy,
            progress=progress or _NoProgress(),
            judges=tuple(judges),
            context=context,
        )

    async def run(
        self,
        plan: SessionPlan,
        prompt: str,
        *,
        session_timeout_s: float,
        session_id: str | None = None,
        on_interrupted: OnInterrupted | None = None,
        on_synthesis_delta: Callable[[str], None] | None = None,
    ) -> SessionResult:
        """Run the three stages. When cancelled, the session so far (status ``interrupted``)
        goes to ``on_interrupted`` and then the cancellation propagates unchanged."""
        run = _Run(
            self._context,
            plan,
            prompt,
            session_timeout_s,
            session_id or str(uuid.uuid4()),
            on_synthesis_delta,
        )
        try:
            await run.stages()
        except asyncio.CancelledError:
            if on_interrupted is not None:
                await on_interrupted(run.assemble(interrupted=True))
            raise
        return run.assemble(interrupted=False)


class _Run:
    """The state of one session while it runs."""

    def __init__(
        self,
        ctx: RunContext,
        plan: SessionPlan,
        prompt: str,
        timeout_s: float,
        session_id: str,
        on_synthesis_delta: Callable[[str], None] | None,
    ) -> None:
        self.ctx = ctx
        self.plan = plan
        self.prompt = prompt
        self.session_id = session_id
        self.created_at = datetime.now(UTC)
        self.timeout_s = timeout_s
        self.per_call_s = timeout_s / 2
        self.deadline = time.monotonic() + timeout_s
        self.by_id: dict[str, Seat] = {s.seat_id: s for s in plan.seats}
        self.calls: list[CallRecord] = []
        self.notices: list[str] = list(plan.notices)
        self.stage: Stage = "answer"
        # Filled as calls finish, so an interruption can assemble what exists.
        self.answers: dict[str, Outcome] = {}
        self.seats: list[SeatResult] | None = None
        self.voices: list[SeatResult] = []
        self.reviews: dict[str, ReviewResult] = {}
        self.reviewers: list[str] = []  # seat ids, then judge ids, in the order asked
        self.ballot_size: dict[str, int] = {}  # how many answers each reviewer could rank
        self.ranking: list[RankingEntry] = []
        self.verdict: Verdict | None = None
        # Streams the chairman's synthesis as it is written (the verdict block held back).
        self.on_synthesis_delta = on_synthesis_delta
        self.chairman: ChairmanResult | None = None
        self.synthesis: str | None = None
        self.synthesis_is_fallback = False

    # -- plumbing -------------------------------------------------------------------------

    def _request(
        self, seat: Seat | None, model: str, messages: tuple[ChatMessage, ...]
    ) -> CompletionRequest:
        """A request for ``model``; the Pareto plugin and session stickiness only when
        ``model`` is the router (a rerouted seat names its concrete model directly)."""
        via_router = seat is not None and is_pareto_model(model)
        return CompletionRequest(
            model=model,
            messages=messages,
            tier=self.plan.tier,
            min_coding_score=seat.score_override if via_router and seat else None,
            # OpenRouter keeps a session on one concrete model; one id per Pareto seat.
            session_id=f"{self.session_id}:{seat.seat_id}" if via_router and seat else None,
            deadline_s=max(_MIN_CALL_BUDGET_S, min(self.per_call_s, self._remaining())),
        )

    def _remaining(self) -> float:
        return self.deadline - time.monotonic()

    async def _call(
        self,
        stage: Stage,
        seat_id: str,
        request: CompletionRequest,
        score: float | None,
        on_delta: Callable[[str], None] | None = None,
    ) -> Outcome:
        """One gateway call, always recorded: ok, failed, or cancelled while in flight."""
        started_at = datetime.now(UTC)
        t0 = time.perf_counter()
        result: CompletionResult | None = None
        error: GatewayError | None = None
        if self._remaining() <= _MIN_CALL_BUDGET_S:
            error = CallTimeoutError(f"session deadline of {self.timeout_s:g}s reached", attempts=0)
        else:
            try:
                result = await (
                    self.ctx.gateway.complete(request, on_delta=on_delta)
                    if on_delta is not None
                    else self.ctx.gateway.complete(request)
                )
            except GatewayError as exc:
                error = exc
            except asyncio.CancelledError:
                cancelled = CallCancelledError("cancelled: the session was interrupted")
                self._record(stage, seat_id, request, score, started_at, t0, None, cancelled)
                raise
            except Exception as exc:  # a bug of ours must not lose the session's other calls
                _log.exception("council.call_failed_internally", stage=stage, seat_id=seat_id)
                error = InternalCallError(f"internal error: {type(exc).__name__}: {exc}")
        record = self._record(stage, seat_id, request, score, started_at, t0, result, error)
        if result is not None and result.usage_problem is not None:
            self.notices.append(
                f"{seat_id} ({stage}): the answer is kept but its usage was unreadable "
                f"({result.usage_problem}); its tokens and cost are unknown, not zero"
            )
        self.ctx.progress.call_finished(
            stage, seat_id, record.status, record.resolved_model, record.latency_ms
        )
        return Outcome(result, error, record)

    def _record(
        self,
        stage: Stage,
        seat_id: str,
        request: CompletionRequest,
        score: float | None,
        started_at: datetime,
        t0: float,
        result: CompletionResult | None,
        error: GatewayError | None,
    ) -> CallRecord:
        latency_ms = (time.perf_counter() - t0) * 1000
        record = call_record(
            stage, seat_id, request, score, started_at, latency_ms, result, error, self.ctx.registry
        )
        self.calls.append(record)
        return record

    # -- the three stages ---------------------------------------------------------------

    async def stages(self) -> None:
        seats = await self._stage1()
        answered = [s for s in seats if s.status == "ok"]
        if not answered:
            self.chairman = ChairmanResult(
                requested_model=self.plan.chairman,
                status="error",
                error="not called: no seat answered",
            )
            return
        duplicates.apply_flags(seats, duplicates.stage1_flags(seats, self.ctx.registry))
        if self.ctx.duplicate_policy == "reroute":
            self.stage = "reroute"
            await self._reroute(seats)
        self.voices = self._voices(answered)
        self.stage = "review"
        await self._stage2(seats)
        self.stage = "chairman"
        await self._stage3(seats)

    async def _stage1(self) -> list[SeatResult]:
        self.ctx.progress.stage_started("answer", len(self.plan.seats))
        messages = answer_messages(self.prompt, self.plan.mode, self.ctx.context)

        async def answer(seat: Seat) -> None:
            request = self._request(seat, seat.requested_model, messages)
            self.answers[seat.seat_id] = await self._call(
                "answer", seat.seat_id, request, seat.min_coding_score
            )

        async with asyncio.TaskGroup() as group:
            for seat in self.plan.seats:
                group.create_task(answer(seat))
        self.seats = [seat_result(seat, self.answers[seat.seat_id]) for seat in self.plan.seats]
        return self.seats

    async def _reroute(self, seats: list[SeatResult]) -> None:
        """Policy ``reroute``: re-ask an exact-duplicate Pareto seat's question of an unseated
        model of its band, named directly. ``models`` cannot do this on OpenRouter: it is a
        fallback list tried only after ``model`` fails (docs: Model Fallbacks), not a pin."""
        messages = answer_messages(self.prompt, self.plan.mode, self.ctx.context)
        for seat in seats:
            # Re-check each time: an earlier reroute may already have ended this duplicate.
            if not seat.is_pareto or not _shares_model(seat, seats):
                continue
            plan_seat = self.by_id[seat.seat_id]
            seated = {s.resolved_model for s in seats if s.status == "ok" and s.resolved_model}
            target = duplicates.reroute_candidate(
                seat, seated, self.ctx.registry, plan_seat.min_coding_score
            )
            if target is None:
                self.notices.append(
                    f"{seat.seat_id}: duplicate of {', '.join(seat.duplicate_of)} but no unseated "
                    "model in its band to reroute to; kept as is"
                )
                continue
            request = self._request(plan_seat, target, messages)
            out = await self._call("reroute", seat.seat_id, request, None)
            if out.result is None:
                self.notices.append(
                    f"{seat.seat_id}: reroute to {target} failed ({out.error}); kept"
                )
                continue
            previous = seat.resolved_model
            seat.rerouted_from = previous
            seat.resolved_model = out.result.resolved_model or target
            seat.answered_via = "direct"
            seat.answer = out.result.content
            seat.generation_id = out.result.generation_id
            self.notices.append(
                f"{seat.seat_id}: rerouted from {previous} to {seat.resolved_model} "
                "(a direct call naming the model; the router had picked a seated model)"
            )
        # Flags describe the seats as they now stand; the reroute itself stays recorded.
        for seat in seats:
            seat.flags = [f for f in seat.flags if f.kind == "unnamed"]
            seat.duplicate_of, seat.duplicate_kind = [], None
        duplicates.apply_flags(seats, duplicates.stage1_flags(seats, self.ctx.registry))

    def _voices(self, answered: list[SeatResult]) -> list[SeatResult]:
        """Seats that review and are ranked; under ``collapse`` an exact group is one voice."""
        if self.ctx.duplicate_policy != "collapse":
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

    async def _stage2(self, seats: list[SeatResult]) -> None:
        """Every voice reviews the others; judges step in when that leaves an answer unranked.

        Labels are fixed per answer (one shuffle seeded by the session id); each reviewer
        sees the answers in its own rotation of that order, so across reviewers every
        answer takes every position once and position bias cancels out.
        """
        shuffled = list(self.voices)
        random.Random(self.session_id).shuffle(shuffled)
        for index, seat in enumerate(shuffled):
            seat.label = stage_label(index)
        judges = self._judges_needed()
        self.reviewers = [v.seat_id for v in self.voices] + [j for j, _ in judges]
        self.ctx.progress.stage_started("review", len(self.reviewers))

        async def review(reviewer: SeatResult, order: list[SeatResult]) -> None:
            self.reviews[reviewer.seat_id] = await self._review(reviewer, order)

        async def judge(judge_id: str, model: str, order: list[SeatResult]) -> None:
            self.reviews[judge_id] = await self._judge(judge_id, model, order)

        async with asyncio.TaskGroup() as group:
            for index, reviewer in enumerate(self.voices):
                group.create_task(review(reviewer, _rotated(shuffled, index)))
            for offset, (judge_id, model) in enumerate(judges, start=len(self.voices)):
                group.create_task(judge(judge_id, model, _rotated(shuffled, offset)))
        self._score(seats)

    def _judges_needed(self) -> list[tuple[str, str]]:
        """(judge id, model) pairs when peer review alone would leave an answer unranked:
        a reviewer left with fewer than two answers it may rank, or a voice nobody may rank."""
        if len(self.voices) < 2:
            return []
        rankable = [self._allowed(v, self.voices, None) for v in self.voices]
        asked = [allowed for allowed in rankable if len(allowed) >= 2]
        covered = {c.seat_id for allowed in asked for c in allowed}
        if len(asked) == len(self.voices) and covered == {v.seat_id for v in self.voices}:
            return []
        models = self.ctx.judges or (self.plan.chairman,)
        reason = "a duplicate left some answers without a reviewer"
        self.notices.append(
            f"judges added to stage 2 ({', '.join(models)}): {reason}; their reviews are "
            "marked judge: true"
        )
        return [(f"judge{n}", model) for n, model in enumerate(models, start=1)]

    def _score(self, seats: list[SeatResult]) -> None:
        """Borda over the reviews that exist (all of them, or those done before an interrupt),
        with judges and, separately, from the seats' own reviews only."""
        tie_order = [s.seat_id for s in sorted(self.voices, key=lambda s: s.label or "")]
        reviews = self._ordered_reviews()
        ballots = [(r.ranking, self.ballot_size.get(rid, 0)) for rid, r in reviews]
        scores = borda(ballots, tie_order=tie_order)
        peer_ballots = [b for b, (_rid, r) in zip(ballots, reviews, strict=True) if not r.judge]
        # Without judges the seats' own ballots are all the ballots: the same scores.
        same = len(peer_ballots) == len(ballots)
        peers = {
            s.seat_id: s.borda
            for s in (scores if same else borda(peer_ballots, tie_order=tie_order))
        }
        for score in scores:
            seat = _seat(seats, score.seat_id)
            seat.borda, seat.votes = round(score.borda, 6), score.votes
            peer = peers.get(score.seat_id)
            seat.borda_peers = round(peer, 6) if peer is not None else None
        self._share_collapsed(seats)
        self.ranking = [
            RankingEntry(seat_id=s.seat_id, borda=round(s.borda, 6), votes=s.votes) for s in scores
        ]

    def _ordered_reviews(self) -> list[tuple[str, ReviewResult]]:
        return [(rid, self.reviews[rid]) for rid in self.reviewers if rid in self.reviews]

    def _allowed(
        self, reviewer: SeatResult, candidates: Sequence[SeatResult], stage2_model: str | None
    ) -> list[SeatResult]:
        """Candidates a reviewer may rank: never its own answer, nor (by default) any answer
        written by the concrete model it is (at stage 1, or at stage 2 if it drifted)."""
        own_models = {m for m in (reviewer.resolved_model, stage2_model) if m}
        return [
            c
            for c in candidates
            if c.seat_id != reviewer.seat_id
            and not (self.ctx.exclude_self_votes and c.resolved_model in own_models)
        ]

    async def _review(self, reviewer: SeatResult, order: list[SeatResult]) -> ReviewResult:
        allowed = self._allowed(reviewer, order, None)
        if len(allowed) < 2:
            return abstention(
                reviewer.seat_id,
                "not asked: fewer than two answers it may rank (own model excluded)",
            )
        plan_seat = self.by_id[reviewer.seat_id]
        candidates = [Candidate(label=c.label or "", text=c.answer or "") for c in allowed]
        # A rerouted seat reviews as the model that wrote its answer, named directly.
        model = (
            reviewer.resolved_model
            if reviewer.answered_via == "direct" and reviewer.resolved_model
            else reviewer.requested_model
        )
        request = self._request(plan_seat, model, review_messages(self.prompt, candidates))
        score = plan_seat.min_coding_score if is_pareto_model(model) else None
        out = await self._call("review", reviewer.seat_id, request, score)
        if out.result is None:
            return abstention(reviewer.seat_id, out.record.error, out.record.status)
        resolved = out.result.resolved_model
        if is_pareto_model(model) and (flag := duplicates.drift_flag(reviewer, resolved)):
            duplicates.apply_flags([reviewer], {reviewer.seat_id: [flag]})
        # Drop votes for answers written by the model the reviewer turned out to be at stage 2.
        permitted = {c.label: c.seat_id for c in self._allowed(reviewer, allowed, resolved)}
        self.ballot_size[reviewer.seat_id] = len(permitted)
        parsed = parse_ranking(out.result.content, list(permitted))
        return ReviewResult(
            reviewer_seat=reviewer.seat_id,
            resolved_model=resolved,
            ranking=[permitted[label] for label in parsed.labels],
            abstained=parsed.abstained,
            parse=parsed.parse,
            order=[c.seat_id for c in allowed],
        )

    async def _judge(self, judge_id: str, model: str, order: list[SeatResult]) -> ReviewResult:
        """An independent reviewer ranks the answers anonymised, never one its model wrote."""

        def own(models: set[str]) -> list[SeatResult]:
            return [
                c for c in order if not (self.ctx.exclude_self_votes and c.resolved_model in models)
            ]

        def abstain(error: str | None, status: CallStatus = "ok") -> ReviewResult:
            return abstention(judge_id, error, status, judge_model=model)

        allowed = own({model})
        if len(allowed) < 2:
            return abstain(f"not asked: {model} wrote all but one of the answers")
        candidates = [Candidate(label=c.label or "", text=c.answer or "") for c in allowed]
        request = self._request(None, model, review_messages(self.prompt, candidates))
        out = await self._call("judge", judge_id, request, None)
        if out.result is None:
            return abstain(out.record.error, out.record.status)
        resolved = out.result.resolved_model
        permitted = {c.label: c.seat_id for c in own({m for m in (model, resolved) if m})}
        self.ballot_size[judge_id] = len(permitted)
        parsed = parse_ranking(out.result.content, list(permitted))
        return ReviewResult(
            reviewer_seat=judge_id,
            resolved_model=resolved,
            ranking=[permitted[label] for label in parsed.labels],
            abstained=parsed.abstained,
            parse=parsed.parse,
            judge=True,
            requested_model=model,
            order=[c.seat_id for c in allowed],
        )

    def _share_collapsed(self, seats: list[SeatResult]) -> None:
        """Under ``collapse`` the hidden members of a group carry their voice's label and score."""
        voice_ids = {v.seat_id for v in self.voices}
        for seat in seats:
            if seat.status != "ok" or seat.seat_id in voice_ids:
                continue
            twin = next((v for v in self.voices if v.resolved_model == seat.resolved_model), None)
            if twin is not None:
                seat.label, seat.borda, seat.votes = twin.label, twin.borda, twin.votes
                seat.borda_peers = twin.borda_peers

    async def _stage3(self, seats: list[SeatResult]) -> None:
        self.ctx.progress.stage_started("chairman", 1)
        ordered = sorted(self.voices, key=lambda s: s.label or "")
        candidates = [Candidate(label=s.label or "", text=s.answer or "") for s in ordered]
        label_of = {s.seat_id: s.label or "" for s in seats}
        ranked = [(label_of[e.seat_id], e.borda) for e in self.ranking]
        chairman = self.plan.chairman
        request = self._request(
            None,
            chairman,
            chairman_messages(self.prompt, self.plan.mode, candidates, ranked, self.ctx.context),
        )
        labels = {s.label: s.seat_id for s in ordered if s.label}
        stream = (
            VerdictStreamFilter(self.on_synthesis_delta, labels)
            if self.on_synthesis_delta is not None
            else None
        )
        out = await self._call(
            "chairman", "chairman", request, None, stream.feed if stream is not None else None
        )
        if stream is not None and out.result is not None:
            stream.finish()
        if out.result is not None:
            self.chairman = ChairmanResult(
                requested_model=chairman, resolved_model=out.result.resolved_model, status="ok"
            )
            parsed = parse_verdict(out.result.content, labels)
            self.synthesis, self.verdict = parsed.synthesis, parsed.verdict
            if parsed.problem:
                self.notices.append(f"no verdict: {parsed.problem}")
            return
        top = _seat(seats, self.ranking[0].seat_id) if self.ranking else ordered[0]
        self.chairman = ChairmanResult(
            requested_model=chairman, status=out.record.status, error=out.record.error
        )
        self.synthesis = (
            f"> **Fallback, not a synthesis.** The chairman ({chairman}) failed: "
            f"{out.record.status}: {out.record.error}. Below is the top-ranked answer, "
            f"{top.label} (seat {top.seat_id}, {top.resolved_model}), unedited.\n\n"
        ) + (top.answer or "")
        self.synthesis_is_fallback = True
        self.notices.append("no verdict: the chairman failed")

    # -- the result -----------------------------------------------------------------------

    def assemble(self, *, interrupted: bool) -> SessionResult:
        """The session as it stands. After an interruption: every finished call is kept,
        calls in flight are recorded as cancelled, stages never reached are said so."""
        seats = self.seats or [
            seat_result(seat, self.answers[seat.seat_id])
            if seat.seat_id in self.answers
            else _cancelled_seat(seat)
            for seat in self.plan.seats
        ]
        reviews = [review for _sid, review in self._ordered_reviews()]
        notices = list(self.notices)
        chairman = self.chairman
        if interrupted:
            missing = [v for v in self.voices if v.seat_id not in self.reviews]
            if self.stage == "review" and missing:
                reviews += [
                    abstention(v.seat_id, "cancelled: session interrupted", "cancelled")
                    for v in missing
                ]
            if self.stage == "review" and self.reviews:
                self._score(seats)  # the votes that were cast still count
            if chairman is None:
                chairman = ChairmanResult(
                    requested_model=self.plan.chairman,
                    status="cancelled",
                    error="not called: session interrupted"
                    if self.stage != "chairman"
                    else "cancelled: session interrupted",
                )
            cancelled = sum(1 for c in self.calls if c.status == "cancelled")
            done = len(self.calls) - cancelled
            notices.append(
                f"interrupted during the {self.stage} stage: {done} finished call(s) kept, "
                f"{cancelled} in-flight call(s) recorded as cancelled"
            )
        assert chairman is not None
        for seat in seats:
            seat.cost_usd = sum_cost(c for c in self.calls if c.seat_id == seat.seat_id)
        status = "interrupted" if interrupted else session_status(seats, reviews, chairman)
        if not interrupted and len(self.voices) >= 2 and not any(e.votes for e in self.ranking):
            # Peer review is part of the product: a session without it is not complete.
            status = "partial" if status == "ok" else status
            notices.append("stage 2 produced no ranking: no review could rank the answers")
        return SessionResult(
            session_id=self.session_id,
            created_at=self.created_at,
            tier=self.plan.tier,
            mode=self.plan.mode,
            status=status,
            gateway=self.ctx.gateway.kind,
            prompt=self.prompt,
            seats=seats,
            ranking=self.ranking,
            reviews=reviews,
            chairman=chairman,
            synthesis=self.synthesis,
            synthesis_is_fallback=self.synthesis_is_fallback,
            verdict=self.verdict,
            usage=UsageTotals(
                prompt_tokens=sum(c.prompt_tokens for c in self.calls),
                completion_tokens=sum(c.completion_tokens for c in self.calls),
                cost_usd=sum_cost(self.calls) or 0.0,
            ),
            duplicate_policy=self.ctx.duplicate_policy,
            notices=notices + failure_notices(seats, reviews, chairman),
            calls=list(self.calls),
        )


def _shares_model(seat: SeatResult, seats: Sequence[SeatResult]) -> bool:
    """Whether another answered seat resolved to exactly this seat's concrete model."""
    return seat.resolved_model is not None and any(
        other.seat_id != seat.seat_id
        and other.status == "ok"
        and other.resolved_model == seat.resolved_model
        for other in seats
    )


def _rotated(order: Sequence[SeatResult], shift: int) -> list[SeatResult]:
    """``order`` rotated left by ``shift``: row ``shift`` of a cyclic Latin square."""
    if not order:
        return []
    shift %= len(order)
    return [*order[shift:], *order[:shift]]


def _cancelled_seat(seat: Seat) -> SeatResult:
    return SeatResult(
        seat_id=seat.seat_id,
        requested_model=seat.requested_model,
        variant=seat.variant,
        min_coding_score=seat.min_coding_score,
        status="cancelled",
        error="cancelled: session interrupted before this seat answered",
    )


def _seat(seats: Sequence[SeatResult], seat_id: str) -> SeatResult:
    return next(s for s in seats if s.seat_id == seat_id)
