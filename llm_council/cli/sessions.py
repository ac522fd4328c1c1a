"""``llm-council sessions list|show|import-unsent``: browse what the audition store recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from llm_council.audition.store import (
    AuditionStore,
    AuditionStoreError,
    InvalidSessionIdError,
    SeatBrief,
    SessionNotFoundError,
    StoreConfigError,
    open_store,
)
from llm_council.choices import TIERS
from llm_council.cli.common import ConfigOpt, JsonOpt
from llm_council.cli.errors import fail
from llm_council.config import ConfigError, load_config
from llm_council.council.result import CallRecord, SeatResult, SessionResult
from llm_council.pareto import is_pareto_model
from llm_council.textsafe import markup_text, one_line, plain

DEFAULT_LAST = 20

sessions_app = typer.Typer(
    help="Browse recorded council sessions: which model each seat really was, and its flags.",
    no_args_is_help=True,
)


def _store(config_path: Path | None) -> AuditionStore:
    try:
        return open_store(load_config(config_path))
    except (ConfigError, StoreConfigError) as exc:  # a bad config or store URL, a missing driver
        raise fail(str(exc), 2) from None


def _say_notices(store: AuditionStore) -> None:
    err = Console(stderr=True, soft_wrap=True)
    for notice in store.notices:
        err.print(Text.assemble(("note:", "yellow"), " ", plain(notice)), highlight=False)


@sessions_app.command("list")
def list_sessions(
    last: Annotated[
        int | None,
        typer.Option(min=1, help=f"How many, newest first (default {DEFAULT_LAST})."),
    ] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Every session, newest first.")] = False,
    tier: Annotated[str | None, typer.Option(help="Only this tier.")] = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Recent sessions: seats requested → resolved, status, duplicate flags, cost.

    Shows the newest 20 unless --last N or --all says otherwise, and says when there are more.
    --json prints one object: {"sessions": [...newest first...], "shown": n, "total": N,
    "truncated": true|false, "notices": [...]}; "total" counts every stored session (of
    --tier, if given) and "truncated" is true when "sessions" holds fewer than that.
    """
    if tier is not None and tier not in TIERS:
        raise fail(f"unknown tier {tier!r}; tiers are {', '.join(TIERS)}", 2)
    if show_all and last is not None:
        raise fail("--last and --all cannot be combined; give one of them", 2)
    limit = None if show_all else (last or DEFAULT_LAST)
    store = _store(config)
    try:
        rows = store.list_sessions(last=limit, tier=tier)
        total = store.count_sessions(tier) if limit is not None else len(rows)
    except AuditionStoreError as exc:
        raise fail(str(exc), 1) from None
    finally:
        store.close()
    _say_notices(store)
    if as_json:
        page = {
            "sessions": [r.model_dump(mode="json") for r in rows],
            "shown": len(rows),
            "total": total,
            "truncated": len(rows) < total,
            "notices": store.notices,
        }
        typer.echo(json.dumps(page, indent=2))
        return
    console = Console(emoji=False)  # a model id like :fire: stays text
    if not rows:
        console.print(plain(f"no sessions recorded in {store.url_for_humans}"), highlight=False)
        return
    # Narrow columns for the session, one line per seat: readable in an 80-column terminal.
    table = Table(title=plain(f"sessions in {store.url_for_humans}"), show_lines=True)
    table.add_column("session", no_wrap=True)
    table.add_column("prompt · seats (requested → resolved)", overflow="fold", ratio=1)
    table.add_column("flags", no_wrap=True)
    table.add_column("cost $", justify="right", no_wrap=True)
    for r in rows:
        status = markup_text(one_line(r.status))
        if r.status != "ok":
            status = f"[yellow]{status}[/yellow]"
        table.add_row(
            f"{markup_text(r.session_id[:8])}\n{r.created_at:%Y-%m-%d %H:%M}\n"
            f"{markup_text(one_line(r.tier))}\n{status}",
            "\n".join([f"[dim]{markup_text(one_line(r.prompt))}[/dim]", *map(_seat_line, r.seats)]),
            "\n".join(f"{n} {markup_text(one_line(kind))}" for kind, n in r.flag_counts.items()),
            f"{r.cost_usd:.5f}",
        )
    console.print(table)
    if len(rows) < total:
        console.print(
            f"showing {len(rows)} of {total}; --all for every session", style="dim", highlight=False
        )


def _seat_line(seat: SeatBrief) -> str:
    seat_id, requested = markup_text(one_line(seat.seat_id)), markup_text(seat.requested_model)
    if seat.status != "ok":
        return f"{seat_id} {one_line(requested)} [red]{markup_text(one_line(seat.status))}[/red]"
    model = one_line(requested)
    if seat.resolved_model and seat.resolved_model != seat.requested_model:
        model += f" → {markup_text(one_line(seat.resolved_model))}"
    if seat.duplicate_kind:
        kind = markup_text(one_line(seat.duplicate_kind))
        others = markup_text(one_line(", ".join(seat.duplicate_of)))
        model += f" [magenta]{kind}: {others}[/magenta]"
    return f"{seat_id} {model}"


@sessions_app.command("show")
def show_session(
    session_id: Annotated[str, typer.Argument(help="Session id or a unique prefix.")],
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """One session in full: seats, flags, ranking, routing, chairman and synthesis.

    --json prints the session as `llm-council run --json` did, plus "calls": every gateway
    call in order, each {"stage", "seat_id", "requested_model", "resolved_model", "provider",
    "status", "attempts", "router": null | {"strategy", "candidates", "attempts", "summary",
    "raw", ...}, "error", "latency_ms", "cost_usd", ...}; "router" is OpenRouter's own
    account of a routed call (null when the server sent none).
    """
    store = _store(config)
    try:
        result = store.get_session(session_id)
    except InvalidSessionIdError as exc:  # bad input
        raise fail(str(exc), 2) from None
    except (SessionNotFoundError, AuditionStoreError) as exc:  # no such session; store unreadable
        raise fail(str(exc), 1) from None
    finally:
        store.close()
    _say_notices(store)
    if as_json:
        typer.echo(json.dumps(result.stored_json(), indent=2))
        return
    console = Console(emoji=False)  # a model id like :fire: stays text
    _print_header(console, result)
    from llm_council.cli.render import render_result

    render_result(console, result)
    _print_routing(console, result)


def _print_header(console: Console, result: SessionResult) -> None:
    chairman = result.chairman
    outcome = markup_text(one_line(chairman.status))
    if chairman.status != "ok":
        outcome = f"[red]{outcome}[/red]"
    if chairman.error:
        outcome += f" ({markup_text(one_line(chairman.error))})"
    console.print(
        f"[bold]recorded[/bold] {result.created_at:%Y-%m-%d %H:%M:%S} UTC · gateway "
        f"{markup_text(result.gateway)} · duplicate policy {markup_text(result.duplicate_policy)}",
        highlight=False,
        emoji=False,
    )
    console.print(f"[bold]prompt[/bold] {markup_text(result.prompt)}", highlight=False, emoji=False)
    console.print(
        f"[bold]chairman[/bold] {markup_text(one_line(chairman.requested_model))} → "
        f"{markup_text(one_line(chairman.resolved_model or '—'))} · {outcome}",
        highlight=False,
        emoji=False,
    )


def _print_routing(console: Console, result: SessionResult) -> None:
    """How each seat's answer came (router or direct), and what the router did per call."""
    console.print(Text("routing", style="bold"))
    for seat in result.seats:
        console.print(plain(f"  {seat.seat_id} {_answered_via(seat)}"), highlight=False)
        for call in result.calls:
            if (
                call.seat_id == seat.seat_id
                and call.router
                and is_pareto_model(call.requested_model)
            ):
                for line in _router_lines(call):
                    console.print(plain(f"    {line}"), highlight=False)


def _answered_via(seat: SeatResult) -> str:
    if seat.status != "ok":
        return f"no answer ({one_line(seat.status)})"
    # Sessions recorded before ``answered_via`` existed: a reroute is the only direct way.
    via = seat.answered_via or ("direct" if seat.rerouted_from or not seat.is_pareto else "router")
    model = one_line(seat.resolved_model or "model not named")
    text = f"via the router → {model}" if via == "router" else f"direct: {model}"
    if seat.rerouted_from:
        text += f" (rerouted from {one_line(seat.rerouted_from)})"
    return text


def _router_lines(call: CallRecord) -> list[str]:
    router = call.router
    assert router is not None
    candidates = ", ".join(one_line(c.model) for c in router.candidates) or "none listed"
    selected = one_line(router.selected or call.resolved_model or "none marked")
    lines = [f"{call.stage}: {candidates} → {selected}"]
    failed = [f"{one_line(a.model or 'unknown model')} {a.status}" for a in router.failed_attempts]
    if failed:
        lines.append(f"{call.stage} fallbacks: {', '.join(failed)}")
    return lines


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
    err = Console(stderr=True, soft_wrap=True)
    for problem in problems:
        err.print(Text.assemble(("kept:", "yellow"), " ", plain(problem)), highlight=False)
    typer.echo(f"imported {len(imported)} session(s) into {store.url_for_humans}")
    if problems:
        raise typer.Exit(1)
