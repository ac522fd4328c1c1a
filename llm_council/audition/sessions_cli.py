"""``llm-council sessions list|show|import-unsent``: browse what the audition store recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from llm_council.audition.store import (
    AuditionStore,
    AuditionStoreError,
    InvalidSessionIdError,
    SeatBrief,
    SessionNotFoundError,
    open_store,
)
from llm_council.cli_errors import fail
from llm_council.config import TIERS, ConfigError, load_config
from llm_council.council.result import SessionResult

sessions_app = typer.Typer(
    help="Browse recorded council sessions: which model each seat really was, and its flags.",
    no_args_is_help=True,
)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Config file.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only.")]


def _store(config_path: Path | None) -> AuditionStore:
    try:
        return open_store(load_config(config_path))
    except (ConfigError, AuditionStoreError) as exc:  # a bad config or an invalid store URL
        raise fail(str(exc), 2) from None


@sessions_app.command("list")
def list_sessions(
    last: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
    tier: Annotated[str | None, typer.Option(help="Only this tier.")] = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Recent sessions: seats requested → resolved, status, duplicate flags, cost."""
    if tier is not None and tier not in TIERS:
        raise fail(f"unknown tier {tier!r}; tiers are {', '.join(TIERS)}", 2)
    store = _store(config)
    try:
        rows = store.list_sessions(last=last, tier=tier)
    except AuditionStoreError as exc:
        raise fail(str(exc), 1) from None
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
        return
    console = Console()
    if not rows:
        console.print(f"no sessions recorded in {store.url_for_humans}", highlight=False)
        return
    # Narrow columns for the session, one line per seat: readable in an 80-column terminal.
    table = Table(title=f"sessions in {store.url_for_humans}", show_lines=True)
    table.add_column("session", no_wrap=True)
    table.add_column("prompt · seats (requested → resolved)", overflow="fold", ratio=1)
    table.add_column("flags", no_wrap=True)
    table.add_column("cost $", justify="right", no_wrap=True)
    for r in rows:
        status = r.status if r.status == "ok" else f"[yellow]{r.status}[/yellow]"
        table.add_row(
            f"{r.session_id[:8]}\n{r.created_at:%Y-%m-%d %H:%M}\n{r.tier}\n{status}",
            "\n".join([f"[dim]{escape(r.prompt)}[/dim]", *(_seat_line(seat) for seat in r.seats)]),
            "\n".join(f"{n} {kind}" for kind, n in r.flag_counts.items()),
            f"{r.cost_usd:.5f}",
        )
    console.print(table)


def _seat_line(seat: SeatBrief) -> str:
    if seat.status != "ok":
        return f"{seat.seat_id} {escape(seat.requested_model)} [red]{seat.status}[/red]"
    model = escape(seat.requested_model)
    if seat.resolved_model and seat.resolved_model != seat.requested_model:
        model += f" → {escape(seat.resolved_model)}"
    if seat.duplicate_kind:
        model += f" [magenta]{seat.duplicate_kind}: {', '.join(seat.duplicate_of)}[/magenta]"
    return f"{seat.seat_id} {model}"


@sessions_app.command("show")
def show_session(
    session_id: Annotated[str, typer.Argument(help="Session id or a unique prefix.")],
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """One session in full: seats, flags, ranking, chairman and synthesis."""
    store = _store(config)
    try:
        result = store.get_session(session_id)
    except InvalidSessionIdError as exc:
        raise fail(str(exc), 2) from None
    except (SessionNotFoundError, AuditionStoreError) as exc:
        raise fail(str(exc), 1) from None
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
        return
    console = Console()
    _print_header(console, result)
    from llm_council.render import render_result

    render_result(console, result)


def _print_header(console: Console, result: SessionResult) -> None:
    chairman = result.chairman
    outcome = chairman.status if chairman.status == "ok" else f"[red]{chairman.status}[/red]"
    if chairman.error:
        outcome += f" ({escape(chairman.error)})"
    console.print(
        f"[bold]recorded[/bold] {result.created_at:%Y-%m-%d %H:%M:%S} UTC · gateway "
        f"{result.gateway} · duplicate policy {result.duplicate_policy}",
        highlight=False,
    )
    console.print(f"[bold]prompt[/bold] {escape(result.prompt)}", highlight=False)
    console.print(
        f"[bold]chairman[/bold] {chairman.requested_model} → {chairman.resolved_model or '—'}"
        f" · {outcome}",
        highlight=False,
    )


@sessions_app.command("import-unsent")
def import_unsent(config: ConfigOpt = None) -> None:
    """Store the session records that were spilled to files while the store was unavailable."""
    from llm_council.audition.logger import import_spilled
    from llm_council.paths import default_overlay_path
    from llm_council.registry import RegistryError, load_registry

    store = _store(config)
    try:
        registry = load_registry(overlay=default_overlay_path())
    except RegistryError as exc:
        raise fail(str(exc), 2) from None
    try:
        imported, problems = import_spilled(store, registry)
    finally:
        store.close()
    for problem in problems:
        Console(stderr=True, soft_wrap=True).print(
            f"[yellow]kept:[/yellow] {problem}", highlight=False
        )
    typer.echo(f"imported {len(imported)} session(s) into {store.url_for_humans}")
    if problems:
        raise typer.Exit(1)
