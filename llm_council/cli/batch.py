"""``llm-council batch``: many prompts through one council, and ``check --cost``'s table.

Mount on the main app with ``app.command("batch")(batch_command)``.

Exit codes: 0 every prompt has a finished session; 1 some failed, or the budget stopped the
batch before every prompt ran; 2 bad input; 130 interrupted (``--resume`` continues).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from llm_council.api import Council
from llm_council.audition.store_errors import StoreConfigError
from llm_council.batch import BatchResult, BatchState, ItemOutcome, run_batch
from llm_council.batch_input import BatchInputError, Journal, PromptItem, load_prompts
from llm_council.choices import TIERS, Tier
from llm_council.cli.common import ConfigOpt, GatewayOpt, cells
from llm_council.cli.errors import fail
from llm_council.cli.signals import cancel_on_sigint
from llm_council.config import ConfigError, CouncilConfig
from llm_council.council.estimate import (
    ESTIMATE_LABEL,
    REFERENCE_PROMPT_TOKENS,
    SessionEstimate,
    estimate_plan,
)
from llm_council.council.plan import plan_session
from llm_council.gateway.base import GatewayConfigError
from llm_council.gateway.openrouter import OpenRouterGateway
from llm_council.registry import Registry, RegistryError
from llm_council.textsafe import markup_text, one_line, terminal_text

__all__ = ["batch_command", "show_cost_estimates"]

JOURNAL_SUFFIX = ".journal.jsonl"


def batch_command(
    prompts: Annotated[
        Path, typer.Argument(help="A .txt file (one prompt per line) or .jsonl (id, prompt, tier).")
    ],
    tier: Annotated[
        Tier | None, typer.Option(help="Tier for prompts that name none (default from config).")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Sessions running at once.")] = 4,
    max_usd: Annotated[
        float | None,
        typer.Option(
            "--max-usd",
            min=0.0,
            help="Start no session once the projected spend (estimates) would pass this.",
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the journal: skip prompts that already finished.")
    ] = False,
    journal: Annotated[
        Path | None,
        typer.Option(help=f"Journal file (default: PROMPTS{JOURNAL_SUFFIX} next to the prompts)."),
    ] = None,
    config: ConfigOpt = None,
    gateway: GatewayOpt = "auto",
    seed: Annotated[int, typer.Option(help="Sandbox seed (sandbox gateway only).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON summary.")] = False,
) -> None:
    """Run many prompts through one council, with bounded concurrency and a budget.

    Each session is stored in the audition store as usual. Ctrl-C interrupts the running
    sessions (stored as interrupted); `--resume` later runs only the unfinished prompts.
    """
    try:
        items = load_prompts(prompts)
    except BatchInputError as exc:
        raise fail(str(exc), 2) from None
    book = Journal(journal or prompts.with_name(prompts.name + JOURNAL_SUFFIX))
    if book.exists() and not resume:
        raise fail(
            f"the journal {book.path} exists from an earlier run: pass --resume to continue "
            "it (finished prompts are skipped), or --journal NEW to start over",
            2,
        )
    err = Console(stderr=True)
    try:
        council = Council.from_config(config, gateway=gateway, sandbox_seed=seed)
        book.open()
    except (
        ConfigError,
        RegistryError,
        GatewayConfigError,
        StoreConfigError,
        BatchInputError,
        ValueError,
    ) as exc:
        raise fail(str(exc), 2) from None
    for notice in council.notices:
        err.print(f"[yellow]{markup_text(notice)}[/yellow]", highlight=False, emoji=False)
    try:
        result = asyncio.run(
            run_interactive(
                council, items, tier.value if tier else None, concurrency, max_usd, book, err
            )
        )
    except BatchInputError as exc:
        raise fail(str(exc), 2) from None
    except (KeyboardInterrupt, asyncio.CancelledError):
        raise fail("interrupted before any session started; nothing was recorded", 130) from None
    finally:
        book.close()
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        _print_summary(Console(), result)
    raise _exit_for(result)


def _exit_for(result: BatchResult) -> typer.Exit:
    if result.stopped == "interrupted":
        return fail(
            f"interrupted: {result.interrupted} running session(s) stored as interrupted, "
            f"{len(result.not_started)} prompt(s) not started; run again with --resume "
            f"(journal {result.journal})",
            130,
        )
    if result.failed:
        return fail(f"{result.failed} of {len(result.outcomes)} prompt(s) failed", 1)
    if result.stopped == "budget":
        return fail(
            f"{result.stop_reason}; {len(result.not_started)} prompt(s) not started "
            "(--resume with a higher --max-usd runs them)",
            1,
        )
    return typer.Exit(0)


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


# -- progress --------------------------------------------------------------------------


def _money(usd: float) -> str:
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
        f"spent {_money(state.spent_before_usd + state.spent_usd)} · {_eta(state)}"
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
            f"{_money(outcome.cost_usd)} in {outcome.duration_s:.1f}s · {_summary_line(state)}"
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
    return BarProgress(err) if err.is_terminal else PlainProgress(err)


def _print_summary(console: Console, result: BatchResult) -> None:
    table = Table(title="batch")
    for column in ("id", "status", "cost", "estimate", "session"):
        table.add_column(column, overflow="fold")
    for o in result.outcomes:
        estimate = (
            f"{_money(o.estimate_usd)} ({ESTIMATE_LABEL})" if o.estimate_usd is not None else "—"
        )
        table.add_row(*cells(o.id, o.status, _money(o.cost_usd), estimate, o.session_id or "—"))
    console.print(table)
    lines = [
        f"{result.done} done, {result.failed} failed, {result.interrupted} interrupted, "
        f"{len(result.skipped)} finished earlier (skipped), {len(result.not_started)} not started",
        f"spent {_money(result.spent_usd)} this run"
        + (f", {_money(result.spent_before_usd)} before" if result.spent_before_usd else "")
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


# -- check --cost ----------------------------------------------------------------------


def show_cost_estimates(config: CouncilConfig, registry: Registry, as_json: bool) -> None:
    """``check --cost``: the estimated cost of one session per tier, for a reference prompt."""
    estimates = {
        tier: estimate_plan(
            plan_session(config, tier, config.council.mode), registry, REFERENCE_PROMPT_TOKENS
        )
        for tier in TIERS
    }
    if as_json:
        payload = {
            "label": ESTIMATE_LABEL,
            "prompt_tokens": REFERENCE_PROMPT_TOKENS,
            "tiers": {t: e.model_dump(mode="json") for t, e in estimates.items()},
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    console = Console()
    table = Table(title=f"estimated cost of one session (a {REFERENCE_PROMPT_TOKENS}-token prompt)")
    for column in ("tier", "seats", "Pareto seat priced as", "answer", "review", "chairman"):
        table.add_column(column, overflow="fold")
    table.add_column(f"total ({ESTIMATE_LABEL})", overflow="fold")
    for tier, estimate in estimates.items():
        table.add_row(*cells(*_cost_row(tier, estimate)))
    console.print(table)
    first = next(iter(estimates.values()))
    console.print(Text(terminal_text(f"estimates: {first.assumptions}"), style="dim"))
    for tier, estimate in estimates.items():
        if estimate.unpriced:
            console.print(
                Text(
                    terminal_text(f"{tier}: no registry price for {', '.join(estimate.unpriced)}"),
                    style="yellow",
                )
            )


def _cost_row(tier: str, estimate: SessionEstimate) -> list[str]:
    def stage(name: str) -> str:
        costs = [c.cost_usd for c in estimate.calls if c.stage == name]
        if not costs:
            return "—"
        known = sum(c for c in costs if c is not None)
        return _money(known) + ("+?" if None in costs else "")

    pareto = sorted(
        {
            f"{c.seat_id} {c.priced_model or 'no band member'}"
            for c in estimate.calls
            if c.stage == "answer" and c.priced_model != c.requested_model
        }
    )
    seats = sum(1 for c in estimate.calls if c.stage == "answer")
    total = _money(estimate.cost_usd) + ("+?" if estimate.unpriced else "")
    return [
        tier,
        str(seats),
        ", ".join(pareto) or "—",
        stage("answer"),
        stage("review"),
        stage("chairman"),
        total,
    ]
