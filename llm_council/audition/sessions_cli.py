"""``llm-council sessions list|show``: browse what the audition store recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from llm_council.audition.store import AuditionStore, AuditionStoreError, open_store
from llm_council.cli_errors import fail
from llm_council.config import TIERS, ConfigError, load_config

sessions_app = typer.Typer(help="Browse recorded council sessions.", no_args_is_help=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Config file.")]


def _store(config_path: Path | None) -> AuditionStore:
    try:
        return open_store(load_config(config_path))
    except (ConfigError, AuditionStoreError) as exc:
        raise fail(str(exc), 2) from None


@sessions_app.command("list")
def list_sessions(
    last: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
    tier: Annotated[str | None, typer.Option(help="Only this tier.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
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
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
        return
    console = Console()
    if not rows:
        console.print(f"no sessions recorded in {store.url_for_humans}")
        return
    table = Table(title=f"sessions in {store.url_for_humans}")
    for column in (
        "session",
        "when (UTC)",
        "tier",
        "status",
        "gateway",
        "seats",
        "flags",
        "cost $",
    ):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            r.session_id[:8],
            r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            r.tier,
            r.status,
            r.gateway,
            "\n".join(r.seats),
            str(r.flags) if r.flags else "",
            f"{r.cost_usd:.5f}",
        )
    console.print(table)


@sessions_app.command("import-unsent")
def import_unsent(config: ConfigOpt = None) -> None:
    """Store the session records that were spilled to files while the store was unavailable."""
    from llm_council.audition.logger import import_spilled
    from llm_council.paths import default_overlay_path
    from llm_council.registry import load_registry

    store = _store(config)
    imported, problems = import_spilled(store, load_registry(overlay=default_overlay_path()))
    for problem in problems:
        Console(stderr=True, soft_wrap=True).print(
            f"[yellow]kept:[/yellow] {problem}", highlight=False
        )
    typer.echo(f"imported {len(imported)} session(s) into {store.url_for_humans}")
    if problems:
        raise typer.Exit(1)


@sessions_app.command("show")
def show_session(
    session_id: Annotated[str, typer.Argument(help="Session id or a unique prefix.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the session JSON.")] = False,
    config: ConfigOpt = None,
) -> None:
    """One session in full: seats, flags, ranking, chairman and synthesis."""
    store = _store(config)
    try:
        result = store.get_session(session_id)
    except KeyError as exc:
        raise fail(str(exc.args[0]), 1) from None
    except AuditionStoreError as exc:
        raise fail(str(exc), 2 if "not a session id" in str(exc) else 1) from None
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
        return
    from llm_council.render import render_result

    render_result(Console(), result)
