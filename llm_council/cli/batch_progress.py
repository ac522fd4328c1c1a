"""Running a batch on the terminal: a live bar (or plain lines when piped), Ctrl-C that
keeps the running sessions, and the summary table. Shared by ``batch`` and ``eval``."""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from llm_council.api import Council
from llm_council.batch import BatchResult, BatchState, ItemOutcome, run_batch
from llm_council.batch_input import Journal, PromptItem
from llm_council.cli.common import cells
from llm_council.cli.signals import cancel_on_sigint
from llm_council.council.estimate import ESTIMATE_LABEL
from llm_council.gateway.openrouter import OpenRouterGateway
from llm_council.textsafe import one_line, terminal_text


async def run_interactive(
    council: Council,
    items: list[PromptItem],
    tier: str | None,
    concurrency: int,
    max_usd: float | None,
    book: Journal | None,
    err: Console,
) -> BatchResult:
    """Run a batch with progress on ``err``; the first Ctrl-C interrupts the running sessions
    (the partial result is returned), a second exits. Shared by ``batch`` and ``eval``."""
    kept: list[BatchResult] = []
    gate = council.gateway.rate_gate if isinstance(council.gateway, OpenRouterGateway) else None
    restore = cancel_on_sigint(err, "storing the running sessions as interrupted")
    try:
        with progress_for(err) as progress:
            return await run_batch(
                council,
                items,
                tier=tier,
                concurrency=concurrency,
                max_usd=max_usd,
                journal=book,
                progress=progress,
                rate_gate=gate,
                on_interrupt=kept.append,
            )
    except asyncio.CancelledError:
        if kept:
            return kept[0]
        raise
    finally:
        restore()
        await council.aclose()


def money(usd: float) -> str:
    return f"${usd:.4f}"


def _eta(state: BatchState) -> str:
    eta = state.eta_s()
    if eta is None:
        return "ETA —"
    minutes, seconds = divmod(round(eta), 60)
    return f"ETA {minutes}:{seconds:02d}"


def _summary_line(state: BatchState) -> str:
    return (
        f"done {state.done} · failed {state.failed} · running {len(state.running)} · "
        f"spent {money(state.spent_before_usd + state.spent_usd)} · {_eta(state)}"
    )


class PlainProgress:
    """One line per event on stderr, for logs and pipes."""

    def __init__(self, console: Console) -> None:
        self._console = console

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *_exc: object) -> None:
        pass

    def _say(self, text: str) -> None:
        self._console.print(Text(terminal_text(text)), soft_wrap=True)

    def session_started(self, item: PromptItem, session_id: str, state: BatchState) -> None:
        self._say(f"batch: started {item.id} (session {session_id})")

    def session_finished(self, outcome: ItemOutcome, state: BatchState) -> None:
        why = f" ({one_line(outcome.error, 160)})" if outcome.error else ""
        self._say(
            f"batch: [{state.finished}/{state.total}] {outcome.id} {outcome.status}{why} "
            f"{money(outcome.cost_usd)} in {outcome.duration_s:.1f}s · {_summary_line(state)}"
        )

    def stopped(self, reason: str, state: BatchState) -> None:
        self._say(f"batch: {reason}")


class BarProgress:
    """A live bar on a terminal: done/failed/running, spend so far and ETA."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            console=console,
            transient=False,
        )
        self._task = self._progress.add_task("starting", total=None)

    def __enter__(self) -> BarProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(None, None, None)

    def _update(self, state: BatchState) -> None:
        self._progress.update(
            self._task,
            total=state.total,
            completed=state.finished,
            description=_summary_line(state),
        )

    def session_started(self, item: PromptItem, session_id: str, state: BatchState) -> None:
        self._update(state)

    def session_finished(self, outcome: ItemOutcome, state: BatchState) -> None:
        if outcome.status not in ("ok", "partial"):
            why = f": {one_line(outcome.error, 160)}" if outcome.error else ""
            self._progress.console.print(
                Text(terminal_text(f"{outcome.id} {outcome.status}{why}"), style="yellow")
            )
        self._update(state)

    def stopped(self, reason: str, state: BatchState) -> None:
        self._progress.console.print(Text(terminal_text(reason), style="yellow"))
        self._update(state)


def progress_for(err: Console) -> PlainProgress | BarProgress:
    """A live bar on a terminal, one line per event otherwise."""
    return BarProgress(err) if err.is_terminal else PlainProgress(err)


def print_summary(console: Console, result: BatchResult) -> None:
    """The per-prompt table and the totals of a finished (or stopped) batch."""
    table = Table(title="batch")
    for column in ("id", "status", "cost", "estimate", "session"):
        table.add_column(column, overflow="fold")
    for o in result.outcomes:
        estimate = (
            f"{money(o.estimate_usd)} ({ESTIMATE_LABEL})" if o.estimate_usd is not None else "—"
        )
        table.add_row(*cells(o.id, o.status, money(o.cost_usd), estimate, o.session_id or "—"))
    console.print(table)
    lines = [
        f"{result.done} done, {result.failed} failed, {result.interrupted} interrupted, "
        f"{len(result.skipped)} finished earlier (skipped), {len(result.not_started)} not started",
        f"spent {money(result.spent_usd)} this run"
        + (f", {money(result.spent_before_usd)} before" if result.spent_before_usd else "")
        + (f" (cap ${result.max_usd:g})" if result.max_usd is not None else ""),
    ]
    if result.rate_limit_holds:
        lines.append(f"rate limited {result.rate_limit_holds} time(s): the batch waited")
    if result.stop_reason:
        lines.append(result.stop_reason)
    lines += result.notices
    if result.journal:
        lines.append(f"journal: {result.journal}")
    for line in lines:
        console.print(Text(terminal_text(line)))
