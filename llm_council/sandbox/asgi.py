"""The ASGI plumbing of the sandbox: reading bodies, sending JSON, errors and SSE, lifespan.

Kept apart from ``app`` so the app reads as OpenRouter's behaviour, not as byte shuffling.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from llm_council.sandbox import wire

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
# Far longer than any deadline a caller sets; the wait ends early when the client leaves.
HANG_S = 3600.0


def bearer(scope: Scope) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, or None."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


async def send_unauthorised(scope: Scope, send: Send) -> None:
    """401 in OpenRouter's wording; the key that was sent is never echoed."""
    message = "No auth credentials found" if bearer(scope) is None else "User not found."
    await send_error(send, 401, message)


async def read_body(receive: Receive) -> bytes:
    """The whole request body (what arrived, if the client left half-way)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def wait_for_disconnect(receive: Receive) -> None:
    """Never answer: wait until the client goes away (in-process, it is cancelled with it)."""
    try:
        async with asyncio.timeout(HANG_S):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        pass


async def send_bytes(
    send: Send, status: int, data: bytes, ctype: str, headers: dict[str, str] | None = None
) -> None:
    """A complete response with a Content-Length (so a cut body reads as truncated)."""
    head = [(b"content-type", ctype.encode()), (b"content-length", str(len(data)).encode())]
    head += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": data})


async def send_json(
    send: Send, status: int, payload: Any, headers: dict[str, str] | None = None
) -> None:
    """``payload`` as an ``application/json`` response."""
    await send_bytes(send, status, json.dumps(payload).encode(), "application/json", headers)


async def send_error(
    send: Send,
    status: int,
    message: str,
    *,
    metadata: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """An error response: HTTP status = ``error.code``, OpenRouter's ``{"error": ...}`` body."""
    await send_json(send, status, wire.error_body(status, message, metadata), headers)


async def send_stream(send: Send, events: list[str], delay_s: float) -> None:
    """SSE: OpenRouter's processing comment at once, then (after ``delay_s``) the events."""
    head = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": head})

    async def write(text: str) -> None:
        await send({"type": "http.response.body", "body": text.encode(), "more_body": True})

    await write(": OPENROUTER PROCESSING\n\n")
    if delay_s > 0:
        await asyncio.sleep(delay_s)
    for event in events:
        await write(event)
    await send({"type": "http.response.body", "body": b""})


async def run_lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge uvicorn's startup and shutdown; the sandbox has nothing to set up."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
