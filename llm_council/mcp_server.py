"""The MCP server: the council's four tools over the one service (``llm-council mcp``).

Tools (names fixed by DESIGN.md): ``consult_council`` runs a session and returns the
synthesis as text and the ``run --json`` contract as structured content; ``council_sessions``,
``council_session`` and ``council_report`` read the audition store. Every finished call of a
running session becomes an MCP progress notification, so clients see it is alive; a client's
cancellation interrupts the session, which is stored as ``interrupted`` like a Ctrl-C.
Expected failures (a bad tier, a preflight refusal, a store problem) are tool errors of one
line; nothing here prints to stdout, which belongs to the stdio transport.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field, ValidationError

from llm_council import __version__
from llm_council.attachments import (
    DEFAULT_LIMITS,
    Attachment,
    check_total,
    diff_text,
    load_paths,
)
from llm_council.audition.report_render import render_markdown
from llm_council.audition.store_errors import AuditionStoreError
from llm_council.choices import TIERS, DuplicatePolicy, Mode
from llm_council.council.result import SessionResult, Stage
from llm_council.log import get_logger
from llm_council.service import CouncilService, RunRequest, ServiceError
from llm_council.textsafe import one_line
from llm_council.timeutil import parse_since

__all__ = ["ProgressPump", "build_server", "run_with_progress", "serve", "tool_error"]

INTERRUPT_GRACE_S = 30.0  # how long a cancelled session may take to store what it has
DEFAULT_LAST = 20
_MODES: tuple[Mode, ...] = ("coding", "general")
_POLICIES: tuple[DuplicatePolicy, ...] = ("flag", "collapse", "reroute")
_log = get_logger("llm_council.mcp")

INSTRUCTIONS = (
    "llm-council asks a council of models (some seats are OpenRouter's Pareto router) a coding "
    "question: the seats answer, review each other anonymously, and a chairman synthesises. "
    "consult_council takes from seconds to minutes and reports progress per finished call; "
    "every session is stored, and council_sessions / council_session / council_report read "
    "the store."
)


# -- progress ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Progress:
    progress: float
    total: float | None
    message: str


class ProgressPump:
    """A ``ProgressListener`` turning each finished call into a progress notification.

    The session calls the listener synchronously; notifications are sent, in order, by
    ``pump()`` running beside it, so a slow client never stalls a stage. ``progress`` counts
    finished calls; ``total`` is the calls expected so far: each seat answers, reviews, then
    the chairman writes; refined as each stage starts (reroutes and judges add calls).
    """

    def __init__(self, send: Callable[[float, float | None, str], Awaitable[None]]) -> None:
        self._send = send
        self._queue: asyncio.Queue[_Progress | None] = asyncio.Queue()
        self.finished = 0
        self._announced = 0  # calls of the stages that have started
        self._ahead = 0  # calls expected from stages not started yet

    @property
    def total(self) -> int:
        return max(self.finished, self._announced + self._ahead)

    def stage_started(self, stage: Stage, calls: int) -> None:
        self._announced += calls
        self._ahead = {"answer": calls + 1, "review": 1}.get(stage, 0)

    def call_finished(
        self, stage: Stage, seat_id: str, status: str, resolved_model: str | None, latency_ms: float
    ) -> None:
        if stage == "reroute":  # a reroute is an extra call of the answer stage
            self._announced += 1
        self.finished += 1
        model = f" -> {one_line(resolved_model, 80)}" if resolved_model else ""
        who = f"{stage} {one_line(seat_id, 20)}: {one_line(status, 20)}"
        message = f"{who}{model} ({latency_ms / 1000:.1f}s)"
        self._queue.put_nowait(_Progress(self.finished, self.total, message))

    def close(self) -> None:
        """No more events: ``pump()`` returns once everything queued is sent."""
        self._queue.put_nowait(None)

    async def pump(self) -> None:
        """Send queued events until ``close()``; a failed send never fails the session."""
        while (event := await self._queue.get()) is not None:
            try:
                await self._send(event.progress, event.total, event.message)
            except Exception as exc:  # a gone client: the session and its record go on
                _log.debug("mcp.progress_not_sent", error=f"{type(exc).__name__}: {exc}")


async def run_with_progress(
    service: CouncilService, request: RunRequest, pump: ProgressPump
) -> SessionResult:
    """Run the session beside the progress pump. Cancelled (the client cancelled, or went
    away), the session is cancelled once and given ``INTERRUPT_GRACE_S`` to store itself as
    ``interrupted``, shielded from the SDK's repeated cancellation, then the cancel goes on."""
    pumping = asyncio.ensure_future(pump.pump())
    session = asyncio.ensure_future(
        service.run(request, progress=pump, on_interrupt=_log_interrupted)
    )
    try:
        result = await asyncio.shield(session)
    except asyncio.CancelledError:
        pumping.cancel()
        session.cancel()
        with anyio.move_on_after(INTERRUPT_GRACE_S, shield=True):
            await asyncio.wait({session})
        if session.done() and not session.cancelled():
            session.exception()  # mark it retrieved: nobody is waiting for this result now
        raise
    except BaseException:
        pumping.cancel()
        raise
    pump.close()
    await pumping  # every notification goes out before the result
    return result


def _log_interrupted(result: SessionResult) -> None:
    _log.info("mcp.session_interrupted", session_id=result.session_id, calls=len(result.calls))


# -- tools ---------------------------------------------------------------------------------


def tool_error(message: str) -> CallToolResult:
    """A tool error the client's model can read: one line, no traceback."""
    return CallToolResult(content=[TextContent(type="text", text=one_line(message))], is_error=True)


def _text(value: str) -> TextContent:
    return TextContent(type="text", text=value)


def _json_result(payload: dict[str, Any]) -> CallToolResult:
    # The JSON text too: clients that ignore structured content still get the data.
    return CallToolResult(
        content=[_text(json.dumps(payload, indent=2))], structured_content=payload
    )


def session_tool_result(result: SessionResult, notices: Sequence[str] = ()) -> CallToolResult:
    """The synthesis (text block 1), a one-paragraph account of the session (block 2), and the
    ``run --json`` contract as structured content. A session no seat answered is an error.
    ``notices``: said in the account too (e.g. files of an attached directory left out)."""
    payload = result.model_dump(mode="json")
    if result.status == "failed":
        causes = "; ".join(
            f"{s.seat_id} {s.requested_model}: {s.status}: {s.error}" for s in result.seats
        )
        message = one_line(f"no seat answered ({causes}); session {result.session_id}")
        return CallToolResult(content=[_text(message)], structured_content=payload, is_error=True)
    seats = ", ".join(
        f"{s.seat_id} {s.requested_model}"
        + (f" -> {s.resolved_model}" if s.resolved_model != s.requested_model else "")
        + ("" if s.status == "ok" else f" ({s.status})")
        for s in result.seats
    )
    account = [
        f"council session {result.session_id}: tier {result.tier}, status {result.status}, "
        f"gateway {result.gateway}, cost ${result.usage.cost_usd:.5f}; seats: {seats}.",
        *(f"notice: {n}" for n in [*notices, *result.notices]),
    ]
    synthesis = result.synthesis or f"(no synthesis: the session is {result.status})"
    return CallToolResult(
        content=[_text(synthesis), _text(one_line("\n".join(account)))],
        structured_content=payload,
    )


def _choice(value: str | None, allowed: Sequence[str], what: str) -> str | None:
    if value is not None and value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; {what}s are {', '.join(allowed)}")
    return value


def _internal(tool: str, exc: Exception) -> CallToolResult:
    _log.exception("mcp.tool_failed", tool=tool)
    return tool_error(
        f"internal error in {tool}: {type(exc).__name__}: {exc} (details in the server's log)"
    )


class _CouncilMCPServer(MCPServer):
    """The SDK's server, with arguments that fail the input schema reported on one line."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if not isinstance(exc.__cause__, ValidationError):
                raise
            # Field names and the rule broken; never the rejected values (the caller's data).
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.__cause__.errors()
            )
            return tool_error(f"invalid arguments for {name}: {problems}")


TierArg = Annotated[
    str | None, Field(description=f"Council tier: {', '.join(TIERS)}. Default from the config.")
]


def build_server(service: CouncilService, *, root: Path) -> MCPServer:
    """An MCP server whose tools call ``service``; attached files must lie under ``root``."""
    server = _CouncilMCPServer(
        "llm-council", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, open_world_hint=True))
    async def consult_council(
        prompt: Annotated[str, Field(description="The question for the council.")],
        ctx: Context,
        tier: TierArg = None,
        mode: Annotated[str | None, Field(description="coding (default) or general.")] = None,
        files: Annotated[
            list[str] | None,
            Field(
                description="Text files or directories to attach, relative to (and under) "
                "the server's working directory; a directory brings the files git would "
                "track (.gitignore respected, binaries skipped). Every seat and the chairman "
                f"get them as data after the prompt; {DEFAULT_LIMITS.per_file // 1000} KB a "
                f"file, {DEFAULT_LIMITS.total // 1000} KB in all with the diff."
            ),
        ] = None,
        diff: Annotated[
            str | None,
            Field(description="A unified diff (e.g. the output of git diff) to attach."),
        ] = None,
        duplicate_policy: Annotated[
            str | None,
            Field(
                description="flag, collapse or reroute: what to do with a seat that "
                "resolved to the same model as another. Default from the config."
            ),
        ] = None,
        session_id: Annotated[
            str | None,
            Field(
                description="Follow up on this earlier council session (its session_id, or a "
                "unique prefix): its question and the council's answer go along as context, "
                "the new session is stored linked to it, and its tier and mode are the "
                "defaults. Attachments are not carried over: attach them again if needed."
            ),
        ] = None,
    ) -> Annotated[CallToolResult, SessionResult]:
        """Ask the council: seats answer, review each other anonymously, a chairman
        synthesises. Returns the synthesis as text and the whole session as structured
        content (seats with the concrete model each really was, ranking, verdict, usage).
        Pass session_id to ask a follow-up of an earlier session."""
        try:
            if not prompt.strip():
                raise ValueError("the prompt is empty")
            attachments, notices = await asyncio.to_thread(_attachments, files, diff, root)
            request = RunRequest(
                prompt=prompt,
                tier=_choice(tier, TIERS, "tier"),
                mode=_choice(mode, _MODES, "mode"),  # type: ignore[arg-type]
                duplicate_policy=_choice(duplicate_policy, _POLICIES, "duplicate policy"),  # type: ignore[arg-type]
                attachments=attachments,
                parent_session_id=session_id,
            )
            result = await run_with_progress(service, request, ProgressPump(ctx.report_progress))
        except (ValueError, ServiceError, AuditionStoreError) as exc:  # refused before any call
            return tool_error(str(exc))
        except Exception as exc:
            return _internal("consult_council", exc)
        return session_tool_result(result, notices)

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    async def council_sessions(
        last: Annotated[
            int, Field(ge=1, le=1000, description="How many, newest first.")
        ] = DEFAULT_LAST,
        tier: TierArg = None,
    ) -> CallToolResult:
        """Recent council sessions, newest first: seats requested -> resolved, status, flags,
        cost. The same object as `llm-council sessions list --json`."""
        try:
            wanted = _choice(tier, TIERS, "tier")
            page = await asyncio.to_thread(lambda: service.archive.sessions(last=last, tier=wanted))
        except (ValueError, ServiceError, AuditionStoreError) as exc:
            return tool_error(str(exc))
        except Exception as exc:
            return _internal("council_sessions", exc)
        return _json_result(page.to_json())

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    async def council_session(
        session_id: Annotated[str, Field(description="A session id or a unique prefix.")],
    ) -> CallToolResult:
        """One stored session in full: the `run --json` contract plus every gateway call
        (`calls[]`, with the router's own account of each routed call) and its follow-up
        `thread` (`ancestors`, first question first; `children`, oldest first)."""
        try:
            stored = await asyncio.to_thread(lambda: service.archive.session(session_id))
        except (ValueError, ServiceError, AuditionStoreError) as exc:
            return tool_error(str(exc))
        except Exception as exc:
            return _internal("council_session", exc)
        return _json_result(stored.to_json())

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    async def council_report(
        since: Annotated[
            str | None, Field(description="Only sessions since: 7d, 12h, a date or an ISO time.")
        ] = None,
        last: Annotated[int | None, Field(ge=1, description="Only the newest N sessions.")] = None,
        tier: TierArg = None,
    ) -> CallToolResult:
        """Does the Pareto seat add diversity and quality for its cost? Duplicate rates,
        resolved models, peer-review scores and cost per tier, as Markdown text and as the
        `llm-council report --format json` object."""
        try:
            # The parser speaks of the CLI's --since; here the argument is `since`.
            since_at = parse_since(since) if since else None
            wanted = _choice(tier, TIERS, "tier")
            report = await asyncio.to_thread(
                lambda: service.archive.report(since=since_at, last=last, tier=wanted)
            )
        except (ValueError, ServiceError, AuditionStoreError) as exc:
            return tool_error(str(exc).replace("--since", "since"))
        except Exception as exc:
            return _internal("council_report", exc)
        return CallToolResult(
            content=[_text(render_markdown(report))],
            structured_content=report.model_dump(mode="json"),
        )

    return server


def _attachments(
    files: Sequence[str] | None, diff: str | None, root: Path
) -> tuple[tuple[Attachment, ...], tuple[str, ...]]:
    """The files (confined to ``root``) and the diff as attachments, and notices about them;
    ``AttachmentError`` (a ``ValueError``) for anything that cannot be sent."""
    loaded = load_paths(files or [], root=root)
    found = loaded.attachments + ((diff_text(diff),) if diff is not None else ())
    check_total(found)
    return found, loaded.notices


async def serve(service: CouncilService, *, root: Path, http_port: int | None = None) -> None:
    """Serve over stdio (the default) or streamable HTTP on 127.0.0.1; close the service after."""
    server = build_server(service, root=root)
    try:
        if http_port is None:
            await server.run_stdio_async()
        else:
            await server.run_streamable_http_async(host="127.0.0.1", port=http_port)
    finally:
        await service.aclose()
