"""``llm-council run``: one council session, live on a terminal, JSON for scripts."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llm_council.choices import DuplicatePolicy, Mode, Tier
from llm_council.cli.common import ConfigOpt, GatewayOpt, print_notices
from llm_council.cli.errors import fail

if TYPE_CHECKING:
    from rich.console import Console

    from llm_council.attachments import Attachment, Loaded
    from llm_council.council.plan import SessionPlan
    from llm_council.council.result import SessionResult
    from llm_council.service import CouncilService, RunRequest


class RunFormat(StrEnum):
    """How ``run`` prints the session on stdout."""

    table = "table"
    json = "json"
    markdown = "markdown"


def _read_prompt(prompt: str | None, file: Path | None) -> str:
    if prompt is not None and file is not None:
        raise fail("give the prompt as an argument or with --file, not both", 2)
    if file is not None:
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise fail(f"cannot read --file {file}: {exc.strerror or exc}", 2) from None
        return _decode(data, f"--file {file}")
    if prompt is None or prompt == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise fail("no prompt: pass it as an argument, with --file, or on stdin", 2)
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:  # a text-only stdin (e.g. an in-process test runner)
            return sys.stdin.read()
        return _decode(stream.read(), "the prompt on stdin")
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError:  # undecodable argv bytes arrive as lone surrogates
        raise fail(
            "the prompt argument is not valid UTF-8; pass it with --file or stdin", 2
        ) from None
    return prompt


def _decode(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(
            f"{what} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "convert it first, e.g. with iconv -t utf-8",
            2,
        ) from None


def _attachments(paths: list[Path], diff: bool, diff_ref: str | None) -> Loaded:
    """``--attach`` files and directories plus the ``--diff``; a problem exits 2."""
    from llm_council.attachments import AttachmentError, Loaded, check_total, git_diff, load_paths

    try:
        loaded = load_paths(paths)
        diffs: tuple[Attachment, ...] = ()
        if diff or diff_ref is not None:
            diffs = (git_diff(diff_ref or "HEAD"),)
        check_total([*loaded.attachments, *diffs])
    except AttachmentError as exc:
        raise fail(str(exc), 2) from None
    return Loaded(loaded.attachments + diffs, loaded.notices)


def run_command(
    prompt: Annotated[
        str | None, typer.Argument(help="The question; '-' or omitted reads stdin.")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the prompt from a file.")
    ] = None,
    tier: Annotated[Tier | None, typer.Option(help="Council tier (default from config).")] = None,
    mode: Annotated[Mode | None, typer.Option(help="coding (default) or general.")] = None,
    config: ConfigOpt = None,
    chairman: Annotated[str | None, typer.Option(help="Chairman model id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON result.")] = False,
    fmt: Annotated[
        RunFormat,
        typer.Option("--format", help="table (default), json (the same as --json) or markdown."),
    ] = RunFormat.table,
    gateway: GatewayOpt = "auto",
    duplicate_policy: Annotated[
        DuplicatePolicy | None, typer.Option(help="flag, collapse or reroute.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Sandbox seed (sandbox gateway only).")] = 0,
    strict: Annotated[
        bool, typer.Option(help="Refuse to start when a model id is unknown (else a warning).")
    ] = False,
    max_usd: Annotated[
        float | None,
        typer.Option(
            "--max-usd", min=0.0, help="Refuse (exit 2) when the estimated cost is above this."
        ),
    ] = None,
    attach: Annotated[
        list[Path] | None,
        typer.Option(
            "--attach",
            "-a",
            metavar="PATH",
            help="A text file or a directory (its files as git would track them) for every "
            "seat to read; repeatable.",
        ),
    ] = None,
    diff: Annotated[
        bool,
        typer.Option("--diff", help="Attach the working tree's `git diff HEAD`."),
    ] = False,
    diff_ref: Annotated[
        str | None,
        typer.Option(
            "--diff-ref",
            metavar="REF",
            help="Attach `git diff REF` instead (a branch, tag or commit); implies --diff.",
        ),
    ] = None,
    continue_from: Annotated[
        str | None,
        typer.Option(
            "--continue",
            metavar="SESSION",
            help="Ask a follow-up of this session (id or unique prefix): its question and "
            "answer go along, and its tier and mode are the defaults.",
        ),
    ] = None,
) -> None:
    """Run one council session and show the seats, ranking and synthesis.

    Files, directories and a git diff go to every seat as data after the question (100 KB
    a file, 200 KB in all); the store keeps their hashes and sizes, not their text.
    Ctrl-C stops the session and keeps every finished call (stored as interrupted);
    a second Ctrl-C exits at once.
    """
    import asyncio

    from rich.console import Console

    from llm_council.api import Council, FollowUpError
    from llm_council.audition.store_errors import StoreConfigError
    from llm_council.config import ConfigError
    from llm_council.council.preflight import PreflightError
    from llm_council.gateway.base import GatewayConfigError
    from llm_council.registry import RegistryError
    from llm_council.service import CouncilService, RunRequest

    if as_json:  # --json is --format json
        if fmt not in (RunFormat.table, RunFormat.json):
            raise fail(f"--json and --format {fmt} disagree; give one of them", 2)
        fmt = RunFormat.json
    text = _read_prompt(prompt, file)
    if not text.strip():
        raise fail("the prompt is empty", 2)
    loaded = _attachments(attach or [], diff, diff_ref)
    err = Console(stderr=True)
    try:
        council = Council.from_config(config, gateway=gateway, sandbox_seed=seed)
        service = CouncilService(council)
        parent = _parent(service, continue_from) if continue_from else None
        plan = council.plan(
            tier.value if tier else parent.tier if parent else None,
            mode or (parent.mode if parent else None),
            chairman,
        )
    except (ConfigError, RegistryError, GatewayConfigError, StoreConfigError, ValueError) as exc:
        raise fail(str(exc), 2) from None
    notices = [*council.notices, *plan.notices, *loaded.notices]
    if loaded.attachments:
        from llm_council.attachments import describe

        notices.append(f"attached: {describe(loaded.attachments)}")
    if parent is not None:
        notices.append(f"follow-up of session {parent.session_id}")
    print_notices(err, notices)
    request = RunRequest(
        prompt=text,
        tier=plan.tier,
        mode=plan.mode,
        chairman=chairman,
        duplicate_policy=duplicate_policy,
        strict=strict,
        max_usd=max_usd,
        attachments=loaded.attachments,
        parent_session_id=parent.session_id if parent else None,
    )
    try:
        result = asyncio.run(_run_session(service, request, plan, fmt is RunFormat.json, err))
    except (PreflightError, FollowUpError) as exc:
        raise fail(str(exc), 2) from None
    except (KeyboardInterrupt, asyncio.CancelledError):
        raise fail("interrupted before any call finished; nothing was recorded", 130) from None
    if fmt is RunFormat.json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
    elif fmt is RunFormat.markdown:
        from llm_council.cli.markdown import session_markdown

        typer.echo(session_markdown(result), nl=False)
    else:
        from llm_council.cli.render import render_result
        from llm_council.layout import make_console

        render_result(make_console(), result)
    if result.status == "interrupted":
        finished = sum(1 for c in result.calls if c.status != "cancelled")
        cancelled = len(result.calls) - finished
        where = result.storage_problem
        raise fail(
            f"interrupted: kept {finished} finished call(s) and recorded {cancelled} in-flight "
            f"call(s) as cancelled in session {result.session_id}"
            + (f" ({where})" if where else ""),
            130,
        )
    if result.status == "failed":
        causes = "; ".join(
            f"{s.seat_id} {s.requested_model}: {s.status}: {s.error}" for s in result.seats
        )
        raise fail(f"no seat answered ({causes})", 1)


def _parent(service: CouncilService, session_id: str) -> SessionResult:
    """The session ``--continue`` names; unknown or ambiguous exits 2, a broken store 1."""
    from llm_council.audition.store_errors import (
        AuditionStoreError,
        InvalidSessionIdError,
        SessionNotFoundError,
    )
    from llm_council.service import ServiceError

    try:
        return service.archive.session(session_id).result
    except (InvalidSessionIdError, SessionNotFoundError) as exc:
        raise fail(f"--continue: {exc}", 2) from None
    except (AuditionStoreError, ServiceError) as exc:
        raise fail(str(exc), 1) from None


async def _run_session(
    service: CouncilService, request: RunRequest, plan: SessionPlan, as_json: bool, err: Console
) -> SessionResult:
    """Run the session; the first Ctrl-C cancels it (what finished is kept), a second exits."""
    from llm_council.cli.render import LiveProgress
    from llm_council.cli.signals import cancel_on_sigint

    restore = cancel_on_sigint(err, "keeping the finished calls")
    try:
        if as_json or not err.is_terminal:
            return await service.run_keeping_interrupted(request)
        with LiveProgress(err, plan) as progress:
            return await service.run_keeping_interrupted(
                request, progress=progress, on_synthesis_delta=progress.synthesis_delta
            )
    finally:
        restore()
        await service.aclose()
