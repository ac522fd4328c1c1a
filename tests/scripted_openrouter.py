"""A programmable ASGI responder for adapter tests: a queue of canned replies, a request log."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict[str, Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    trickle: tuple[bytes, float, int] | None = None  # (chunk, interval, count): a slow drip
    sse: list[str] | None = None  # raw SSE lines, each sent with a trailing blank line


def completion(
    model: str = "anthropic/claude-opus-4.7", content: str = "hello", **usage: Any
) -> dict:
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


def error(status: int, message: str, **metadata: Any) -> dict:
    return {"error": {"code": status, "message": message, "metadata": metadata}}


class ScriptedServer:
    """Answers requests with the queued replies in order; the last one repeats."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.log: list[dict[str, Any]] = []

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
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
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        headers = [(k.encode(), v.encode()) for k, v in reply.headers.items()]
        if reply.sse is not None:
            headers.append((b"content-type", b"text/event-stream"))
            await send({"type": "http.response.start", "status": reply.status, "headers": headers})
            for line in reply.sse:
                await send(
                    {
                        "type": "http.response.body",
                        "body": f"{line}\n\n".encode(),
                        "more_body": True,
                    }
                )
            await send({"type": "http.response.body", "body": b""})
            return
        if reply.trickle is not None:
            chunk, interval, count = reply.trickle
            await send({"type": "http.response.start", "status": reply.status, "headers": headers})
            for _ in range(count):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await asyncio.sleep(interval)
            await send({"type": "http.response.body", "body": b""})
            return
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        headers.append((b"content-type", b"application/json"))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
