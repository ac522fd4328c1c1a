"""``llm-council serve``: the council as an OpenAI-compatible chat-completions endpoint.

``POST /v1/chat/completions`` with ``model`` ``council`` or ``council/<tier>`` runs one
session through ``CouncilService`` (the whole message list is the prompt context) and
answers in OpenAI's shape, with an extra ``council`` field naming the session and what each
seat resolved to. With ``stream: true`` the answer is SSE: progress as comment lines while
the seats work, then the chairman's synthesis as it streams from the gateway, then usage and
``[DONE]``. ``GET /v1/models`` lists the council models. Errors use OpenAI's error shape.

A client that goes away cancels its session; the session is stored as ``interrupted``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from llm_council.api import FollowUpError
from llm_council.council.preflight import PreflightError
from llm_council.council.result import SessionResult, Stage
from llm_council.http_messages import (
    MODEL_PREFIX,
    ChatRequest,
    RequestError,
    error_body,
    model_ids,
    parse_chat_request,
)
from llm_council.log import get_logger
from llm_council.service import CouncilService, RunRequest, ServiceError
from llm_council.textsafe import one_line

__all__ = ["create_http_app"]

_log = get_logger("llm_council.http")
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
KEEPALIVE_S = 15.0  # an SSE comment this often keeps proxies from closing a quiet stream
_DONE = object()  # the session task finished: no more events


def create_http_app(service: CouncilService, *, token: str | None = None) -> Any:
    """The ASGI app serving ``service``; with ``token`` every request needs
    ``Authorization: Bearer <token>`` (401 otherwise). The caller owns and closes ``service``."""
    tasks: set[asyncio.Task[SessionResult]] = set()  # strong refs while sessions run

    async def models(_request: Request) -> Response:
        created = int(time.time())
        data = [
            {"id": m, "object": "model", "created": created, "owned_by": "llm-council"}
            for m in model_ids()
        ]
        return JSONResponse({"object": "list", "data": data})

    async def chat_completions(request: Request) -> Any:
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return _error(RequestError("the request body is not valid JSON"))
        try:
            chat = parse_chat_request(body)
            # Refuse a tier with no seat (and other plan errors) before starting anything.
            service.council.plan(chat.tier)
        except RequestError as exc:
            return _error(exc)
        except ValueError as exc:
            return _error(RequestError(str(exc), param="model"))
        return await _SessionResponse.start(service, chat, tasks)

    async def not_found(_request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        code = "not_found" if status == 404 else None
        return JSONResponse(error_body(str(detail), code=code), status_code=status)

    app = Starlette(
        routes=[
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        ],
        exception_handlers={HTTPException: not_found},
    )
    return _BearerAuth(app, token) if token else app


class _BearerAuth:
    """Every request needs the token (compared in constant time); a 401 never echoes it."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._allowed(scope):
            err = RequestError(
                "missing or wrong bearer token: send 'Authorization: Bearer <token>' "
                "with the token the server was started with",
                status=401,
                code="invalid_api_key",
            )
            await _error(err)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name.lower() == b"authorization":
                scheme, _, given = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(
                    given.strip(), self._token
                )
        return False


def _error(exc: RequestError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


class _Progress:
    """Turns session progress into SSE comment lines (outside text kept on one line)."""

    def __init__(self, events: asyncio.Queue[object], started: asyncio.Event) -> None:
        self._events = events
        self._started = started

    def stage_started(self, stage: Stage, calls: int) -> None:
        self._started.set()  # preflight passed: from here on, errors go in the stream
        self._events.put_nowait(f"stage {stage}: {calls} call(s)")

    def call_finished(
        self, stage: Stage, seat_id: str, status: str, resolved_model: str | None, latency_ms: float
    ) -> None:
        model = one_line(resolved_model or "-", 120)
        self._events.put_nowait(
            f"{one_line(seat_id, 40)} {stage} {one_line(status, 40)} {model} {latency_ms / 1000:.1f}s"
        )


class _Delta(str):
    """A piece of the synthesis (a plain ``str`` in the queue is a progress comment)."""


class _SessionResponse:
    """One council session answering one HTTP request, as JSON or as SSE."""

    def __init__(
        self,
        chat: ChatRequest,
        task: asyncio.Task[SessionResult],
        events: asyncio.Queue[object],
        session_id: str,
    ) -> None:
        self.chat = chat
        self.task = task
        self.events = events
        self.session_id = session_id
        self.streamed: list[str] = []

    @classmethod
    async def start(
        cls, service: CouncilService, chat: ChatRequest, tasks: set[asyncio.Task[SessionResult]]
    ) -> Any:
        """Start the session; a refusal before any call (preflight) is still a plain 400."""
        session_id = str(uuid.uuid4())
        events: asyncio.Queue[object] = asyncio.Queue()
        started = asyncio.Event()
        run = service.run(
            RunRequest(
                prompt=chat.prompt,
                tier=chat.tier,
                session_id=session_id,
                # The message history already carries the conversation: link, don't repeat.
                parent_session_id=chat.parent_session_id,
                parent_in_prompt=False,
            ),
            progress=_Progress(events, started),
            on_synthesis_delta=(lambda text: events.put_nowait(_Delta(text)))
            if chat.stream
            else None,
        )
        task = asyncio.create_task(run)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        task.add_done_callback(lambda _t: events.put_nowait(_DONE))
        waiter = asyncio.ensure_future(started.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done() and task.exception() is not None:
            return _error(_failure(task.exception()))
        return cls(chat, task, events, session_id)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = asyncio.create_task(
            self._stream(send) if self.chat.stream else self._json(scope, send)
        )
        gone = asyncio.create_task(_client_gone(receive))
        try:
            await asyncio.wait({body, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not body.done():
                body.cancel()
            if not self.task.done():
                # The client left (or sending failed): the session is stored as interrupted.
                _log.info("http.client_gone", session_id=self.session_id)
                self.task.cancel()
        if body.done() and not body.cancelled() and body.exception() is not None:
            exc = body.exception()
            if not isinstance(exc, OSError):  # a vanished client, not our failure
                raise exc  # type: ignore[misc]

    async def _result(self) -> SessionResult | RequestError:
        try:
            return await asyncio.shield(self.task)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return _failure(exc)

    async def _json(self, scope: Scope, send: Send) -> None:
        result = await self._result()
        if isinstance(result, RequestError):
            await _error(result)(scope, _no_receive, send)
            return
        if result.synthesis is None:
            await _error(_no_answer(result))(scope, _no_receive, send)
            return
        payload = {
            **self._head("chat.completion", result),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": result.synthesis},
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(result),
            "council": _council(result),
        }
        await JSONResponse(payload)(scope, _no_receive, send)

    def _head(self, kind: str, result: SessionResult | None = None) -> dict[str, Any]:
        tier = result.tier if result is not None else self.chat.tier
        model = f"{MODEL_PREFIX}/{tier}" if tier else MODEL_PREFIX
        created = int(result.created_at.timestamp()) if result is not None else int(time.time())
        return {
            "id": f"chatcmpl-{self.session_id}",
            "object": kind,
            "created": created,
            "model": model,
        }

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return _data({**self._head("chat.completion.chunk"), "choices": [choice]})

    async def _stream(self, send: Send) -> None:
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})

        async def write(data: bytes) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": True})

        await write(f": council session {self.session_id}\n\n".encode())
        await write(self._chunk({"role": "assistant", "content": ""}))
        while True:
            try:
                event = await asyncio.wait_for(self.events.get(), KEEPALIVE_S)
            except TimeoutError:
                await write(b": keepalive\n\n")
                continue
            if event is _DONE:
                break
            if isinstance(event, _Delta):
                self.streamed.append(event)
                await write(self._chunk({"content": str(event)}))
            else:
                await write(f": {event}\n\n".encode())
        result = await self._result()
        if isinstance(result, RequestError):
            await write(_data(result.body()))
        elif result.synthesis is None:
            await write(_data(_no_answer(result).body()))
        else:
            rest = self._unstreamed(result)
            if rest:
                await write(self._chunk({"content": rest}))
            final = {**self._head("chat.completion.chunk", result), "choices": []}
            await write(self._chunk({}, "stop"))
            await write(_data({**final, "usage": _usage(result), "council": _council(result)}))
        await write(b"data: [DONE]\n\n")
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _unstreamed(self, result: SessionResult) -> str:
        """The synthesis the stream has not carried yet: all of it when the chairman did not
        stream (e.g. it failed and the answer is the fallback), else what differs."""
        sent = "".join(self.streamed).rstrip()  # the stored synthesis is stripped
        synthesis = result.synthesis or ""
        if synthesis.startswith(sent):
            rest = synthesis[len(sent) :]
            return rest if rest.strip() else ""
        return "\n\n" + synthesis  # the chairman broke off mid-stream; the fallback follows


def _data(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


def _usage(result: SessionResult) -> dict[str, Any]:
    usage = result.usage
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }


def _council(result: SessionResult) -> dict[str, Any]:
    """The extra ``council`` field (DESIGN.md): the session and what each seat resolved to."""
    return {
        "session_id": result.session_id,
        "parent_session_id": result.parent_session_id,
        "status": result.status,
        "seats": [
            {
                "seat_id": s.seat_id,
                "requested_model": s.requested_model,
                "resolved_model": s.resolved_model,
            }
            for s in result.seats
        ],
        "cost_usd": result.usage.cost_usd,
        "notices": list(result.notices),
    }


def _failure(exc: BaseException | None) -> RequestError:
    """An exception from ``CouncilService.run`` in OpenAI's error terms."""
    if isinstance(exc, PreflightError):
        return RequestError(str(exc), code="preflight_refused")
    if isinstance(exc, FollowUpError):
        return RequestError(str(exc), param="council_session_id", code="session_not_found")
    if isinstance(exc, ServiceError):
        if exc.bad_input:
            return RequestError(str(exc))
        return RequestError(str(exc), status=500, kind="server_error")
    if isinstance(exc, ValueError):
        return RequestError(str(exc))
    _log.error("http.session_error", error=type(exc).__name__, detail=str(exc))
    return RequestError(
        f"the council failed with an internal error ({type(exc).__name__}); see the server log",
        status=500,
        kind="server_error",
    )


def _no_answer(result: SessionResult) -> RequestError:
    why = "; ".join(result.notices[-2:]) or result.status
    return RequestError(
        f"the council produced no answer (session {result.session_id}, {result.status}): {why}",
        status=502,
        kind="server_error",
        code="council_failed",
    )


async def _client_gone(receive: Receive) -> None:
    """Return when the client disconnects (the request body was already read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _no_receive() -> dict[str, Any]:
    raise RuntimeError("the response does not read the request")
