"""Run many prompts through one council: bounded concurrency, a budget, resumable.

Every session goes through ``Council.run``, so each lands in the audition store as usual
and is interrupted the usual way; this module only decides which prompt starts when.

* Concurrency: at most ``concurrency`` sessions at once.
* Rate limits: the gateway's ``RateGate`` holds back every call after a 429 with
  ``Retry-After``; the runner also starts no new session while the gate is closed.
* Budget: before a session starts, ``spent + estimates of the running sessions + this
  session's estimate`` must stay within ``max_usd`` (spent includes what earlier runs of
  the same journal recorded). When it would not, the runner waits for running sessions to
  finish (their real cost replaces their estimate) and stops starting new ones once
  nothing is running and it still would not fit. Running sessions always finish.
* Resume: with a journal, prompts whose last entry is a finished session are skipped.
* Cancellation (Ctrl-C): running sessions are interrupted and stored as ``interrupted``
  by ``Council.run``, the journal says so, ``on_interrupt`` gets the partial
  ``BatchResult``, and the cancellation propagates.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llm_council.batch_input import (
    FINISHED,
    BatchInputError,
    Journal,
    JournalEntry,
    JournalStatus,
    PromptItem,
    latest,
    sessions,
)
from llm_council.batch_result import (
    DONE_STATUSES,
    BatchProgress,
    BatchResult,
    BatchState,
    ItemOutcome,
    NoProgress,
)
from llm_council.council.estimate import SessionEstimate, estimate_session
from llm_council.council.preflight import PreflightError
from llm_council.gateway.rate_gate import RateGate
from llm_council.log import get_logger

if TYPE_CHECKING:
    from llm_council.api import Council
    from llm_council.council.result import SessionResult

__all__ = [
    "BatchInputError",
    "BatchProgress",
    "BatchResult",
    "BatchState",
    "ItemOutcome",
    "run_batch",
]

_log = get_logger("llm_council.batch")


async def run_batch(
    council: Council,
    items: Sequence[PromptItem],
    *,
    tier: str | None = None,
    concurrency: int = 4,
    max_usd: float | None = None,
    journal: Journal | None = None,
    progress: BatchProgress | None = None,
    rate_gate: RateGate | None = None,
    on_interrupt: Callable[[BatchResult], None] | None = None,
) -> BatchResult:
    """Run every prompt not finished in ``journal`` through ``council``; see the module doc.

    ``BatchInputError`` before anything runs when a prompt's tier is unknown, the journal
    holds another text under a prompt's id, or ``max_usd`` is set and a model of a plan has
    no registry price. The journal must be opened by the caller (``Journal.open``).
    """
    if concurrency < 1:
        raise BatchInputError(f"concurrency must be at least 1 (got {concurrency})")
    runner = _Runner(council, tier, concurrency, max_usd, journal, progress or NoProgress())
    runner.gate = rate_gate
    todo = await runner.prepare(items)
    try:
        await runner.run(todo)
    except asyncio.CancelledError:
        runner.result.stopped = "interrupted"
        runner.result.stop_reason = "interrupted: running sessions were stored as interrupted"
        runner.settle_unstarted()
        runner.finish(todo)
        if on_interrupt is not None:
            on_interrupt(runner.result)
        raise
    return runner.finish(todo)


@dataclass(frozen=True, slots=True)
class _Started:
    item: PromptItem
    session_id: str
    tier: str
    estimate: float
    t0: float


class _Runner:
    def __init__(
        self,
        council: Council,
        tier: str | None,
        concurrency: int,
        max_usd: float | None,
        journal: Journal | None,
        progress: BatchProgress,
    ) -> None:
        self.council = council
        self.tier = tier
        self.concurrency = concurrency
        self.max_usd = max_usd
        self.journal = journal
        self.progress = progress
        self.gate: RateGate | None = None
        self.result = BatchResult(
            prompts=0,
            tier=tier,
            concurrency=concurrency,
            max_usd=max_usd,
            journal=str(journal.path) if journal else None,
        )
        self.state = BatchState(total=0)
        self.estimates: dict[str, SessionEstimate] = {}
        self.started: dict[str, _Started] = {}
        self._changed = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)

    # -- before anything runs ----------------------------------------------------------

    async def prepare(self, items: Sequence[PromptItem]) -> list[PromptItem]:
        """Check every prompt's plan and price, read the journal; return what is left to run."""
        self.result.prompts = len(items)
        plans = {}
        for item in items:
            tier = item.tier or self.tier
            try:
                plan = plans.get(tier) or self.council.plan(tier)
            except ValueError as exc:
                raise BatchInputError(f"prompt {item.id!r}: {exc}") from None
            plans[tier] = plan
            estimate = estimate_session(plan, self.council.registry, item.prompt)
            if self.max_usd is not None and estimate.unpriced:
                raise BatchInputError(
                    f"cannot hold the batch to --max-usd {self.max_usd:g}: the registry has no "
                    f"price for {', '.join(estimate.unpriced)} (tier {plan.tier}); add it "
                    "(llm-council registry sync) or run without --max-usd"
                )
            self.estimates[item.id] = estimate
        finished = await self._read_journal(items)
        self.result.skipped = [i.id for i in items if i.id in finished]
        todo = [i for i in items if i.id not in finished]
        self.state = BatchState(total=len(todo), spent_before_usd=self.result.spent_before_usd)
        return todo

    async def _read_journal(self, items: Sequence[PromptItem]) -> set[str]:
        """Ids with a finished session; also the spend of earlier runs and stale ``running``
        lines (a process that died) settled against the audition store."""
        if self.journal is None:
            return set()
        entries = self.journal.read()
        if self.journal.skipped_lines:
            shown = ", ".join(map(str, self.journal.skipped_lines[:5]))
            self.result.notices.append(
                f"journal {self.journal.path}: unreadable line(s) {shown} skipped"
            )
        by_id = {i.id: i for i in items}
        for entry in latest(entries).values():
            item = by_id.get(entry.id)
            if item is not None and entry.prompt_sha256 != item.sha256:
                raise BatchInputError(
                    f"the journal {self.journal.path} has another prompt under id {entry.id!r} "
                    f"than the prompts file (line {item.line}); the file changed since that "
                    "run: restore it, or start afresh with another --journal"
                )
        spent = 0.0
        for entry in list(sessions(entries)):
            if entry.status == "running":
                entry = await self._settle(entry)
                entries.append(entry)
            spent += entry.cost_usd or 0.0
        self.result.spent_before_usd = round(spent, 8)
        return {e.id for e in latest(entries).values() if e.status in FINISHED and e.id in by_id}

    async def _settle(self, entry: JournalEntry) -> JournalEntry:
        """A session the journal saw start but never end: the store says how it ended; if it
        is not there, it is ``lost`` and counted at its estimate (it may have been paid)."""
        stored = await asyncio.to_thread(self._stored, entry.session_id or "")
        if stored is not None:
            settled = entry.model_copy(
                update={"status": stored.status, "cost_usd": stored.usage.cost_usd, "at": ""}
            )
        else:
            settled = entry.model_copy(
                update={"status": "lost", "cost_usd": entry.estimate_usd, "at": ""}
            )
        if self.journal is not None:
            self.journal.append(settled)
        return settled

    def _stored(self, session_id: str) -> SessionResult | None:
        audition = self.council.audition
        if audition is None or not session_id:
            return None
        try:
            return audition.store.get_session(session_id)
        except Exception:  # not stored, or the store is unreadable: treat as not stored
            return None

    # -- running -----------------------------------------------------------------------

    async def run(self, todo: list[PromptItem]) -> None:
        async with asyncio.TaskGroup() as group:
            for index, item in enumerate(todo):
                await self._slots.acquire()
                if self.gate is not None and self.gate.remaining() > 0:
                    await self.gate.wait()  # no new session into a known rate limit
                reason = await self._budget_allows(item)
                if reason is not None:
                    self._slots.release()
                    self.result.stopped = "budget"
                    self.result.stop_reason = reason
                    self.progress.stopped(reason, self.state)
                    _log.info("batch.budget_stop", not_started=len(todo) - index)
                    break
                # Counted as running before the task first runs, so the next budget check
                # (which may come before this task gets the loop) already includes it.
                group.create_task(self._one(self._begin(item)))

    async def _budget_allows(self, item: PromptItem) -> str | None:
        """None when ``item`` may start now; else why the batch stops starting sessions."""
        if self.max_usd is None:
            return None
        estimate = self.estimates[item.id].cost_usd
        while (projected := self.state.projected(estimate)) > self.max_usd:
            if not self.state.running:
                return (
                    f"stopped at the budget: starting {item.id!r} would bring the projected "
                    f"spend to ${projected:.4f} (spent ${self._spent():.4f} + its estimate "
                    f"${estimate:.4f}), above --max-usd {self.max_usd:g}"
                )
            # Running sessions' real costs replace their estimates as they finish.
            self._changed.clear()
            await self._changed.wait()
        return None

    def _spent(self) -> float:
        return self.state.spent_before_usd + self.state.spent_usd

    def _begin(self, item: PromptItem) -> _Started:
        tier = item.tier or self.tier or self.council.config.council.default_tier.value
        started = _Started(
            item, str(uuid.uuid4()), tier, self.estimates[item.id].cost_usd, time.monotonic()
        )
        self.started[item.id] = started
        self.state.running[item.id] = started.estimate
        self._journal(item, started.session_id, "running", tier, started.estimate, None, None)
        self.progress.session_started(item, started.session_id, self.state)
        return started

    async def _one(self, run: _Started) -> None:
        item, session_id, tier = run.item, run.session_id, run.tier
        kept: list[SessionResult] = []
        status: JournalStatus
        cost, error, stored = 0.0, None, True
        try:
            result = await self.council.run(
                item.prompt, tier, session_id=session_id, on_interrupt=kept.append
            )
            status, cost = result.status, result.usage.cost_usd
        except asyncio.CancelledError:
            cost = kept[0].usage.cost_usd if kept else 0.0
            self._end(run, "interrupted", cost, None)
            raise
        except PreflightError as exc:
            status, error, stored = "refused", str(exc), False
        except Exception as exc:  # a bug must not cost the other prompts their sessions
            _log.exception("batch.session_failed_internally", prompt_id=item.id)
            status, error = "error", f"internal error: {type(exc).__name__}: {exc}"
        self._end(run, status, cost, error, stored=stored)

    def settle_unstarted(self) -> None:
        """Sessions begun but cancelled before their task first ran: nothing was called."""
        for run in self.started.values():
            if run.item.id in self.state.running:
                self._end(run, "interrupted", 0.0, "cancelled before it started")

    def _end(
        self,
        run: _Started,
        status: JournalStatus,
        cost: float,
        error: str | None,
        *,
        stored: bool = True,
    ) -> None:
        item, tier, estimate = run.item, run.tier, run.estimate
        session_id = run.session_id if stored else None
        self.state.running.pop(item.id, None)
        self.state.spent_usd += cost
        if status in DONE_STATUSES:
            self.state.done += 1
        elif status == "interrupted":
            self.state.interrupted += 1
        else:
            self.state.failed += 1
        self._journal(item, session_id, status, tier, estimate, cost, error)
        outcome = ItemOutcome(
            id=item.id,
            session_id=session_id,
            status=status,
            tier=tier,
            estimate_usd=round(estimate, 8),
            cost_usd=round(cost, 8),
            error=error,
            duration_s=round(time.monotonic() - run.t0, 3),
        )
        self.result.outcomes.append(outcome)
        self.progress.session_finished(outcome, self.state)
        self._slots.release()
        self._changed.set()

    def _journal(
        self,
        item: PromptItem,
        session_id: str | None,
        status: JournalStatus,
        tier: str,
        estimate: float,
        cost: float | None,
        error: str | None,
    ) -> None:
        if self.journal is None:
            return
        self.journal.append(
            JournalEntry(
                id=item.id,
                prompt_sha256=item.sha256,
                session_id=session_id,
                status=status,
                tier=tier,
                estimate_usd=round(estimate, 8),
                cost_usd=None if cost is None else round(cost, 8),
                error=error,
            )
        )

    def finish(self, todo: list[PromptItem]) -> BatchResult:
        order = {item.id: n for n, item in enumerate(todo)}
        self.result.outcomes.sort(key=lambda o: order.get(o.id, len(order)))
        self.result.not_started = [i.id for i in todo if i.id not in self.started]
        self.result.spent_usd = round(self.state.spent_usd, 8)
        if self.gate is not None:
            self.result.rate_limit_holds = self.gate.holds
        return self.result
