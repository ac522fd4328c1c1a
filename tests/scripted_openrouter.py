"""A programmable ASGI responder for adapter tests: a queue of canned replies, a request log."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any


async def read_body(receive: Any) -> bytes:
    """An ASGI request's whole body, however many messages it came in."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


@dataclass
class Reply:
    """One canned reply: status, headers, body (bytes or JSON), an optional delay before it,
    a slow drip of body bytes, or raw SSE lines."""

    status: int = 200
    body: bytes | dict[str, Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    trickle: tuple[bytes, float, int] | None = None  # (chunk, interval, count): a slow drip
    sse: list[str] | None = None  # raw SSE lines, each sent with a trailing blank line


class RecordingSleep:
    """Stands in for asyncio.sleep: records the delays the adapter asked for, waits for none."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def completion(
    model: str = "anthropic/claude-opus-4.7", content: str = "hello", **usage: Any
) -> dict[str, Any]:
    return {
        "id": "gen-abc123",
        "model": model,
        "provider": "Anthropic",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 34, **usage},
    }


def error(status: int, message: str, **metadata: Any) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "metadata": metadata}}


class ScriptedServer:
    """Answers requests with the queued replies in order; the last one repeats.

    ``log`` records every request: path, method, lower-cased headers, the client's port (to
    see connection reuse) and the JSON body.
    """

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies) or [Reply(body=completion())]
        self.log: list[dict[str, Any]] = []

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The JSON bodies received, in order (like ``SandboxApp.requests``)."""
        return [entry["json"] for entry in self.log if entry["json"] is not None]

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def reset(self, *replies: Reply) -> None:
        """Forget the log and script the next replies (one server serves many tests)."""
        self.replies = list(replies) or [Reply(body=completion())]
        self.log = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        raw = await read_body(receive)
        self.log.append(
            {
                "path": scope["path"],
                "method": scope["method"],
                "headers": {k.decode().lower(): v.decode() for k, v in scope["headers"]},
                "client_port": scope["client"][1] if scope.get("client") else None,
                "json": json.loads(raw) if raw else None,
            }
        )
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        # Stop dripping once the client hangs up (uvicorn's send() then silently drops
        # data), so a slow reply never holds the server open after its test.
        gone = asyncio.Event()
        watcher = asyncio.create_task(_watch_disconnect(receive, gone))
        try:
            await _respond(reply, send, gone)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


async def _watch_disconnect(receive: Any, gone: asyncio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()


async def _pause(seconds: float, gone: asyncio.Event) -> bool:
    """Sleep ``seconds``; False at once if the client went away meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(gone.wait(), seconds)
    return not gone.is_set()


async def _respond(reply: Reply, send: Any, gone: asyncio.Event) -> None:
    if reply.delay_s and not await _pause(reply.delay_s, gone):
        return
    headers = [(k.encode(), v.encode()) for k, v in reply.headers.items()]
    start = {"type": "http.response.start", "status": reply.status, "headers": headers}
    if reply.sse is not None:
        headers.append((b"content-type", b"text/event-stream"))
        await send(start)
        for line in reply.sse:
            body = f"{line}\n\n".encode()
            await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if reply.trickle is not None:
        chunk, interval, count = reply.trickle
        await send(start)
        for _ in range(count):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if not await _pause(interval, gone):
                return
        await send({"type": "http.response.body", "body": b""})
        return
    body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
    headers.append((b"content-type", b"application/json"))
    await send(start)
    await send({"type": "http.response.body", "body": body})
