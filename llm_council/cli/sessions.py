"""``llm-council sessions list|show|import-unsent``: browse what the audition store recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llm_council.choices import TIERS
from llm_council.cli.common import ConfigOpt, JsonOpt
from llm_council.cli.errors import fail

if TYPE_CHECKING:
    from llm_council.archive import SessionArchive

DEFAULT_LAST = 20

sessions_app = typer.Typer(
    help="Browse recorded council sessions: which model each seat really was, and its flags.",
    no_args_is_help=True,
)


def _archive(config_path: Path | None) -> SessionArchive:
    from llm_council.archive import SessionArchive
    from llm_council.audition.store import StoreConfigError
    from llm_council.config import ConfigError

    try:
        return SessionArchive.open(config_path)
    except (ConfigError, StoreConfigError) as exc:  # a bad config or store URL, a missing driver
        raise fail(str(exc), 2) from None


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
    from llm_council.audition.store import AuditionStoreError
    from llm_council.cli.session_view import say_notices

    archive = _archive(config)
    try:
        page = archive.sessions(last=None if show_all else (last or DEFAULT_LAST), tier=tier)
    except AuditionStoreError as exc:
        raise fail(str(exc), 1) from None
    finally:
        archive.close()
    say_notices(page.notices)
    if as_json:
        typer.echo(json.dumps(page.to_json(), indent=2))
        return
    from llm_council.cli.session_view import print_session_list

    print_session_list(page.sessions, page.total, archive.store.url_for_humans)


@sessions_app.command("show")
def show_session(
    session_id: Annotated[str, typer.Argument(help="Session id or a unique prefix.")],
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """One session in full: seats, flags, ranking, routing, chairman and synthesis, and its
    follow-up thread (the sessions it continues and those that continue it).

    --json prints the session as `llm-council run --json` did, plus "thread":
    {"ancestors": [...first question first...], "children": [...oldest first...],
    "missing_parent": null | id}, each {"session_id", "created_at", "tier", "status",
    "prompt"}, and "calls": every gateway
    call in order, each {"stage", "seat_id", "requested_model", "resolved_model", "provider",
    "status", "attempts", "router": null | {"strategy", "candidates", "attempts", "summary",
    "raw", ...}, "error", "latency_ms", "cost_usd", ...}; "router" is OpenRouter's own
    account of a routed call (null when the server sent none).
    """
    from llm_council.audition.store import (
        AuditionStoreError,
        InvalidSessionIdError,
        SessionNotFoundError,
    )
    from llm_council.cli.session_view import say_notices

    archive = _archive(config)
    try:
        stored = archive.session(session_id)
    except InvalidSessionIdError as exc:  # bad input
        raise fail(str(exc), 2) from None
    except (SessionNotFoundError, AuditionStoreError) as exc:  # no such session; store unreadable
        raise fail(str(exc), 1) from None
    finally:
        archive.close()
    say_notices(archive.notices)
    if as_json:
        typer.echo(json.dumps(stored.to_json(), indent=2))
        return
    from llm_council.cli.session_view import print_session
    from llm_council.cli.thread_view import print_thread

    print_session(stored.result)
    print_thread(stored.result, stored.thread)


@sessions_app.command("import-unsent")
def import_unsent(config: ConfigOpt = None) -> None:
    """Store the session records that were spilled to files while the store was unavailable."""
    from rich.console import Console
    from rich.text import Text

    from llm_council.audition.logger import import_spilled
    from llm_council.paths import default_overlay_path
    from llm_council.registry import RegistryError, load_registry
    from llm_council.textsafe import plain

    store = _archive(config).store
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
