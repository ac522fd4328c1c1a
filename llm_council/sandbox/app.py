"""The sandbox: a plain ASGI app speaking OpenRouter's wire format with Pareto Router rules."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from llm_council.pareto import PARETO_MODEL_ID
from llm_council.registry import Registry
from llm_council.sandbox import synth
from llm_council.sandbox.faults import Fault, FaultBook
from llm_council.sandbox.router import RouteError, SandboxRouter

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
_HANG_S = 3600.0
_TRANSIENT = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class SandboxOptions:
    """``seed`` varies the synthetic text. ``latency_ms`` is the simulated latency of a model
    of median throughput; with ``scale_latency`` faster models answer sooner and slower ones
    later (by their registry throughput), otherwise every model takes exactly ``latency_ms``.
    ``per_model_latency_ms`` pins single models."""

    seed: int = 0
    latency_ms: float = 2.0
    scale_latency: bool = True
    per_model_latency_ms: dict[str, float] = field(default_factory=dict)
    api_key: str | None = None  # when set, other keys get 401 like OpenRouter


class SandboxApp:
    """An OpenRouter-compatible ASGI app. ``requests`` logs every completion body received."""

    def __init__(self, registry: Registry, options: SandboxOptions | None = None) -> None:
        self.registry = registry
        self.options = options or SandboxOptions()
        self.requests: list[dict[str, Any]] = []
        self.faults = FaultBook()
        self.router = SandboxRouter(registry, self.faults)
        self._ids = itertools.count(1)
        speeds = sorted(m.throughput_tps for m in registry.models if m.throughput_tps)
        self._median_tps = speeds[len(speeds) // 2] if speeds else 1.0

    def set_fault(self, model_id: str, fault: Fault) -> None:
        self.faults.set(model_id, fault)

    def set_band_outage(self, band: str) -> None:
        self.faults.band_outages.add(band)

    def clear_faults(self) -> None:
        self.faults.clear()

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"].rstrip("/"), scope["method"]
        routes = {"/api/v1/chat/completions": "POST", "/api/v1/models": "GET"}
        if path not in routes:
            await _error(send, 404, f"no route for {path}")
        elif method != routes[path]:
            await _error(send, 405, f"{method} not allowed on {path}")
        elif path == "/api/v1/models":
            await _json(send, 200, {"data": self._models()})
        else:
            await self._completions(scope, receive, send)

    def _models(self) -> list[dict[str, Any]]:
        created = int(time.mktime(time.strptime(self.registry.data.snapshot_date, "%Y-%m-%d")))
        rows = [
            {
                "id": m.id,
                "name": m.name,
                "created": created,
                "description": f"{m.name} (sandbox registry snapshot)",
                "context_length": m.context_length,
                "pricing": {
                    "prompt": _per_token(m.prompt_per_mtok),
                    "completion": _per_token(m.completion_per_mtok),
                },
                "architecture": {"modality": "text->text", "input_modalities": ["text"]},
            }
            for m in self.registry.models
        ]
        rows += [
            {
                "id": meta.id,
                "name": meta.name,
                "created": created,
                "description": "Routes to a coding model on the quality/cost frontier.",
                "context_length": meta.context_length,
                "pricing": {"prompt": "0", "completion": "0"},
                "architecture": {"modality": "text->text", "input_modalities": ["text"]},
            }
            for meta in self.registry.meta_models
        ]
        return rows

    async def _completions(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        raw = await _read_body(receive)
        try:
            body = json.loads(raw)
        except ValueError:
            await _error(send, 400, "request body is not valid JSON")
            return
        if not isinstance(body, dict):
            await _error(send, 400, "request body must be a JSON object")
            return
        self.requests.append(body)
        if self.options.api_key and _bearer(scope) != self.options.api_key:
            await _error(send, 401, "No auth credentials found or the key is invalid")
            return
        problem = _validate(body)
        if problem:
            await _error(send, 400, problem)
            return
        try:
            candidates = self.router.candidates(body)
        except RouteError as exc:
            await _error(send, exc.status, exc.message)
            return
        stream = body.get("stream") is True
        pareto = self.router.is_pareto(body["model"])
        # A fault set on the router itself hits every Pareto request before routing.
        router_fault = self.faults.take(PARETO_MODEL_ID) if pareto else None
        if router_fault is not None:
            await self._emit_fault(router_fault, body, body["model"], stream, receive, send)
            return
        for index, model in enumerate(candidates):
            fault = self.faults.take(model)
            if fault is None:
                await self._answer(body, model, stream, send)
                return
            transient = fault.kind == "error_body" or (
                fault.kind == "status" and fault.status in _TRANSIENT
            )
            if pareto and transient and index + 1 < len(candidates):
                continue  # the router tries the next same-band fallback
            if fault.kind == "unavailable":
                await _error(send, 503, f"No endpoints available for {model}")
                return
            await self._emit_fault(fault, body, model, stream, receive, send)
            return

    async def _answer(self, body: dict[str, Any], model: str, stream: bool, send: Send) -> None:
        latency = self._latency_ms(model)
        if latency > 0:
            await asyncio.sleep(latency / 1000)
        self.router.remember(body, model)
        payload = self._completion(body, model)
        if stream:
            await _stream(send, payload)
        else:
            await _json(send, 200, payload)

    def _latency_ms(self, model: str) -> float:
        pinned = self.options.per_model_latency_ms.get(model)
        if pinned is not None:
            return pinned
        entry = self.registry.get(model)
        if not self.options.scale_latency or entry is None or not entry.throughput_tps:
            return self.options.latency_ms
        return self.options.latency_ms * self._median_tps / entry.throughput_tps

    def _completion(self, body: dict[str, Any], model: str) -> dict[str, Any]:
        entry = self.registry.get(model)
        assert entry is not None  # the router only returns registry models
        messages = body["messages"]
        prompt = "\n".join(m["content"] for m in messages)
        last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        score = entry.coding_score if entry.coding_score is not None else 0.5
        seed = self.options.seed
        kind = synth.classify(messages)
        if kind == "chairman":
            content = synth.chairman(model, last_user)
        elif kind == "review":
            content = synth.review(model, score, prompt, last_user, seed)
        else:
            content = synth.answer(model, score, last_user, seed)
        prompt_tokens, completion_tokens = synth.tokens(prompt), synth.tokens(content)
        serial = next(self._ids)
        gen = hashlib.sha256(f"{seed}:{serial}:{model}".encode()).hexdigest()[:24]
        return {
            "id": f"gen-{gen}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "provider": entry.provider,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "cost": round(entry.cost_usd(prompt_tokens, completion_tokens), 10),
            },
        }

    async def _emit_fault(
        self,
        fault: Fault,
        body: dict[str, Any],
        model: str,
        stream: bool,
        receive: Receive,
        send: Send,
    ) -> None:
        error = {
            "code": fault.status,
            "message": fault.message,
            "metadata": {"provider_name": model},
        }
        if fault.kind == "hang":
            await _wait_for_disconnect(receive)
        elif fault.kind == "status":
            headers = {}
            if fault.retry_after is not None:
                headers["retry-after"] = f"{fault.retry_after:g}"
            await _error(
                send, fault.status, fault.message, metadata=error["metadata"], headers=headers
            )
        elif fault.kind == "truncated":
            full = json.dumps(self._completion(body, model)).encode()
            await _raw(send, 200, full[: len(full) // 2], "application/json")
        elif fault.kind == "stream_error" and stream:
            partial = self._completion(body, model)
            await _stream(send, partial, error=error)
        else:  # error_body, or a stream_error on a non-streaming request
            await _json(send, 200, {"error": error})


def create_app(registry: Registry, options: SandboxOptions | None = None) -> SandboxApp:
    """A fresh sandbox (its own request log, faults and sticky sessions)."""
    return SandboxApp(registry, options)


def _validate(body: dict[str, Any]) -> str | None:
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "'model' is required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty list"
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("content"), str) or not m.get("role"):
            return "each message needs a 'role' and a string 'content'"
    return None


def _per_token(per_mtok: float) -> str:
    text = f"{per_mtok / 1_000_000:.12f}".rstrip("0").rstrip(".")
    return text or "0"


def _bearer(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            text = value.decode("latin-1")
            return text[7:].strip() if text.lower().startswith("bearer ") else None
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _wait_for_disconnect(receive: Receive) -> None:
    """Hang until the client gives up (or an hour passes); never answer."""
    try:
        async with asyncio.timeout(_HANG_S):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        pass


async def _raw(
    send: Send, status: int, data: bytes, ctype: str, headers: dict[str, str] | None = None
) -> None:
    head = [(b"content-type", ctype.encode()), (b"content-length", str(len(data)).encode())]
    head += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": data})


async def _json(
    send: Send, status: int, payload: Any, headers: dict[str, str] | None = None
) -> None:
    await _raw(send, status, json.dumps(payload).encode(), "application/json", headers)


async def _error(
    send: Send,
    status: int,
    message: str,
    *,
    metadata: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    error = {"code": status, "message": message, "metadata": metadata or {}}
    await _json(send, status, {"error": error}, headers)


async def _stream(send: Send, payload: dict[str, Any], error: dict[str, Any] | None = None) -> None:
    """SSE: a processing comment, content deltas, a final chunk with usage, ``[DONE]``.

    With ``error`` the stream breaks off after the first delta with an error chunk, as
    OpenRouter does when a provider fails mid-generation.
    """
    head = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": head})

    async def event(data: str) -> None:
        await send({"type": "http.response.body", "body": data.encode(), "more_body": True})

    await event(": OPENROUTER PROCESSING\n\n")
    content = payload["choices"][0]["message"]["content"]
    base = {k: payload[k] for k in ("id", "model", "provider", "created")}
    base["object"] = "chat.completion.chunk"
    pieces = [content[i : i + 64] for i in range(0, len(content), 64)] or [""]
    for number, piece in enumerate(pieces):
        delta = {
            "index": 0,
            "delta": {"role": "assistant", "content": piece},
            "finish_reason": None,
        }
        await event(f"data: {json.dumps({**base, 'choices': [delta]})}\n\n")
        if error is not None and number == 0:
            failed = {"index": 0, "delta": {"content": ""}, "finish_reason": "error"}
            await event(f"data: {json.dumps({**base, 'error': error, 'choices': [failed]})}\n\n")
            await send({"type": "http.response.body", "body": b""})
            return
    final = {"index": 0, "delta": {}, "finish_reason": "stop"}
    await event(f"data: {json.dumps({**base, 'choices': [final], 'usage': payload['usage']})}\n\n")
    await event("data: [DONE]\n\n")
    await send({"type": "http.response.body", "body": b""})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
