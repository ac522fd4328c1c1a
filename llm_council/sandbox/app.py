"""The sandbox: a plain ASGI app speaking OpenRouter's wire format with Pareto Router rules.

``OpenRouterGateway`` talks to it through ``httpx.ASGITransport`` (in-process) or over a
uvicorn socket (``llm_council.sandbox.server``) and cannot tell it from OpenRouter.
Like OpenRouter, it refuses a model id it does not know (400 "<id> is not a valid model
ID") instead of answering at a guessed price, so a typo in a pool fails offline too.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llm_council.pareto import PARETO_MODEL_ID, parse_pareto_model
from llm_council.registry import BANDS, Registry
from llm_council.sandbox import asgi, metadata, synth, wire
from llm_council.sandbox.asgi import Receive, Scope, Send
from llm_council.sandbox.bundled import TaskBook
from llm_council.sandbox.faults import Fault, FaultBook
from llm_council.sandbox.metadata import Attempt
from llm_council.sandbox.router import Plan, RouteError, SandboxRouter
from llm_council.sandbox.sticky import DEFAULT_MAX_ENTRIES, DEFAULT_TTL_S, StickyTable

COMPLETIONS_PATH = "/api/v1/chat/completions"
MODELS_PATH = "/api/v1/models"
_ROUTES = {COMPLETIONS_PATH: "POST", MODELS_PATH: "GET"}


@dataclass(frozen=True)
class SandboxOptions:
    """How the sandbox behaves.

    ``seed`` varies the synthetic text. ``latency_ms`` is the simulated latency; with
    ``scale_latency`` (the default) it is that of a median-throughput model and faster or
    slower models (registry ``throughput_tps``) answer proportionally sooner or later, else
    every model takes exactly ``latency_ms``. ``per_model_latency_ms`` pins single models;
    0 means no sleep at all. With ``api_key`` set, requests without ``Authorization: Bearer
    <api_key>`` get 401 like OpenRouter's. ``request_log`` is how many request bodies
    ``SandboxApp.requests`` keeps (the newest; 0 keeps none). Sticky sessions lapse after
    ``sticky_ttl_s`` without a request and at most ``sticky_max`` are kept (LRU).
    """

    seed: int = 0
    latency_ms: float = 2.0
    per_model_latency_ms: dict[str, float] = field(default_factory=dict)
    api_key: str | None = field(default=None, repr=False)
    scale_latency: bool = field(default=True, kw_only=True)
    request_log: int = field(default=1000, kw_only=True)
    sticky_ttl_s: float = field(default=DEFAULT_TTL_S, kw_only=True)
    sticky_max: int = field(default=DEFAULT_MAX_ENTRIES, kw_only=True)

    def __post_init__(self) -> None:
        if self.latency_ms < 0 or any(v < 0 for v in self.per_model_latency_ms.values()):
            raise ValueError("sandbox latencies must be >= 0 ms")
        if self.request_log < 0:
            raise ValueError(f"request_log must be >= 0 bodies, not {self.request_log}")
        if self.sticky_ttl_s <= 0 or self.sticky_max < 1:
            raise ValueError("sticky sessions need sticky_ttl_s > 0 and sticky_max >= 1")


@dataclass(frozen=True, slots=True)
class _Failure:
    """The latest way a request failed: a fault a model answered with, or no provider."""

    model: str
    provider: str
    fault: Fault | None = None  # None: nothing could be dispatched (503 no provider)


class SandboxApp:
    """An OpenRouter-compatible ASGI3 app.

    ``requests`` holds the newest ``options.request_log`` completion bodies received (a
    bounded deque, so a long-running sandbox does not keep every prompt). ``clock`` is the
    monotonic clock sticky sessions expire by. ``tasks`` are the coding tasks answered with
    stored right-or-wrong code (default: the eval's bundled set, read on the first answer).
    """

    def __init__(
        self,
        registry: Registry,
        options: SandboxOptions | None = None,
        *,
        clock: Callable[[], float] | None = None,
        tasks: TaskBook | None = None,
    ) -> None:
        self.registry = registry
        self.options = options or SandboxOptions()
        self._tasks = tasks
        self.requests: deque[dict[str, Any]] = deque(maxlen=self.options.request_log)
        self._faults = FaultBook()
        self._sticky = StickyTable(self.options.sticky_ttl_s, self.options.sticky_max, clock)
        self._router = SandboxRouter(registry, self._faults, self._sticky)
        self._serial = itertools.count(1)
        speeds = sorted(m.throughput_tps for m in registry.models if m.throughput_tps)
        self._median_tps = speeds[len(speeds) // 2] if speeds else None

    def __repr__(self) -> str:
        return f"SandboxApp(models={len(self.registry.models)}, seed={self.options.seed})"

    def set_fault(self, model_id: str, fault: Fault) -> None:
        """Make ``model_id`` (a concrete model, or the Pareto router itself) fail this way."""
        if parse_pareto_model(model_id) is not None:
            self._faults.set(model_id.strip(), fault)
            return
        entry = self.registry.get(model_id)
        if entry is None:
            raise ValueError(f"cannot set a fault on {model_id!r}: not in the registry")
        self._faults.set(entry.id, fault)

    def set_band_outage(self, band: str) -> None:
        """Make every member of the Pareto ``band`` unavailable (named requests too)."""
        if band not in BANDS:
            raise ValueError(f"unknown band {band!r}; one of {', '.join(BANDS)}")
        self._faults.set_band_outage(band)

    def clear_faults(self) -> None:
        """Heal every model and band (the request log and sticky sessions stay)."""
        self._faults.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await asgi.run_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"].rstrip("/") or "/", scope["method"]
        allowed = _ROUTES.get(path)
        if allowed is None:
            await asgi.send_error(
                send, 404, f"no route for {path}; try {COMPLETIONS_PATH} or {MODELS_PATH}"
            )
        elif method != allowed:
            await asgi.send_error(
                send, 405, f"{method} is not allowed on {path}", headers={"allow": allowed}
            )
        elif path == COMPLETIONS_PATH:
            await self._completions(scope, receive, send)
        elif not self._authorised(scope):
            await asgi.send_unauthorised(scope, send)
        else:
            await asgi.send_json(send, 200, {"data": wire.model_rows(self.registry)})

    def _authorised(self, scope: Scope) -> bool:
        if not self.options.api_key:
            return True
        given = asgi.bearer(scope)
        # Constant-time comparison: the sandbox is a stand-in, but it should not teach bad habits.
        return given is not None and hmac.compare_digest(
            given.encode(), self.options.api_key.encode()
        )

    async def _completions(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = await asgi.read_body(receive)
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        if isinstance(body, dict):
            self.requests.append(body)
        if not self._authorised(scope):
            await asgi.send_unauthorised(scope, send)
            return
        if not isinstance(body, dict):
            await asgi.send_error(send, 400, "request body must be a JSON object (invalid JSON)")
            return
        if (problem := wire.problem(body)) is not None:
            await asgi.send_error(send, 400, problem)
            return
        try:
            plan = self._router.plan(body)
        except RouteError as exc:
            await asgi.send_error(send, exc.status, exc.message)
            return
        stream = body.get("stream") is True
        with_metadata = metadata.requested(scope.get("headers", ()))
        await self._serve(body, plan, stream, with_metadata, receive, send)

    @property
    def sticky_sessions(self) -> int:
        """How many sticky sessions the router holds right now (bounded by ``sticky_max``)."""
        return len(self._sticky)

    def _router_fault(self, requested: str) -> Fault | None:
        """A fault set on the Pareto router itself (its variant first) hits before routing."""
        ref = parse_pareto_model(requested)
        ids = [f"{PARETO_MODEL_ID}:{ref.variant}"] if ref and ref.variant else []
        for model_id in (*ids, PARETO_MODEL_ID):
            if (fault := self._faults.take(model_id)) is not None:
                return fault
        return None

    async def _serve(
        self,
        body: dict[str, Any],
        plan: Plan,
        stream: bool,
        with_metadata: bool,
        receive: Receive,
        send: Send,
    ) -> None:
        """Serve by the primary, then by each ``models`` fallback; else the last failure."""
        attempts: list[Attempt] = []
        failure: _Failure | None = None
        candidates = plan.candidates
        if plan.pareto and (router_fault := self._router_fault(plan.requested)) is not None:
            failure = _Failure(plan.requested, "OpenRouter", router_fault)
            attempts.append(Attempt(plan.requested, "OpenRouter", router_fault.status))
            candidates = ()
        elif not candidates:
            failure = _Failure(plan.requested, "OpenRouter")
        for model in candidates:
            fault = self._faults.take(model)
            if fault is None:
                self._router.remember(body, plan, model)
                await self._answer(body, plan, model, attempts, stream, with_metadata, send)
                return
            failure = _Failure(model, self.registry.provider_of(model), fault)
            attempts.append(Attempt(model, failure.provider, fault.status))
            # The Pareto router moves to a same-band sibling on outages and rate limits only;
            # a named model has no siblings.
            if not (plan.pareto and fault.transient):
                break
        assert failure is not None  # every candidate failed, or there was none
        for model in plan.fallbacks:
            if failure.fault is not None and not failure.fault.triggers_fallback:
                break
            provider = self.registry.provider_of(model)
            if not self._router.fallback_ready(model):
                failure = _Failure(model, provider)
                continue
            fault = self._faults.take(model)
            if fault is None:
                await self._answer(body, plan, model, attempts, stream, with_metadata, send)
                return
            failure = _Failure(model, provider, fault)
            attempts.append(Attempt(model, provider, fault.status))
        if failure.fault is None:
            # Nothing could take the request: OpenRouter's 503 for routing requirements.
            message = plan.unavailable if failure.model == plan.requested else None
            await asgi.send_error(
                send, 503, message or f"no available provider for {failure.model}"
            )
            return
        await self._fail(
            failure.fault, body, failure.model, failure.provider, stream, receive, send
        )

    async def _answer(
        self,
        body: dict[str, Any],
        plan: Plan,
        model: str,
        attempts: list[Attempt],
        stream: bool,
        with_metadata: bool,
        send: Send,
    ) -> None:
        delay_ms = self._latency_ms(model)
        routing = None
        if with_metadata:
            served = Attempt(model, self.registry.provider_of(model), metadata.SUCCESS_STATUS)
            routing = metadata.build(plan, [*attempts, served], self.registry.provider_of, delay_ms)
        payload = self._completion(body, model, routing)
        delay_s = delay_ms / 1000
        if stream:
            await asgi.send_stream(send, wire.sse_events(payload), delay_s)
            return
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        await asgi.send_json(send, 200, payload)

    def _latency_ms(self, model: str) -> float:
        pinned = self.options.per_model_latency_ms.get(model)
        if pinned is not None:
            return pinned
        entry = self.registry.get(model)
        speed = entry.throughput_tps if entry else None
        if not self.options.scale_latency or not speed or not self._median_tps:
            return self.options.latency_ms
        return self.options.latency_ms * self._median_tps / speed

    def _completion(
        self, body: dict[str, Any], model: str, routing: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        entry = self.registry.get(model)
        assert entry is not None  # the router only plans registry models
        messages = [
            {"role": m["role"], "content": wire.message_text(m["content"]) or ""}
            for m in body["messages"]
        ]
        score = entry.coding_score if entry.coding_score is not None else 0.5
        content = synth.compose(model, score, messages, self.options.seed, tasks=self._tasks)
        finish_reason = "stop"
        max_tokens = body.get("max_tokens")
        if max_tokens is not None and synth.tokens(content) > max_tokens:
            content, finish_reason = content[: max_tokens * 4], "length"
        prompt_text = "".join(m["content"] for m in messages)
        prompt_tokens, completion_tokens = synth.tokens(prompt_text), synth.tokens(content)
        key = f"{self.options.seed}\x1f{next(self._serial)}\x1f{model}\x1f{prompt_text}"
        return wire.completion(
            gen_id="gen-" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:24],
            model=entry.id,
            provider=entry.provider,
            content=content,
            finish_reason=finish_reason,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=round(entry.cost_usd(prompt_tokens, completion_tokens), 12),
            metadata=routing,
        )

    async def _fail(
        self,
        fault: Fault,
        body: dict[str, Any],
        model: str,
        provider: str,
        stream: bool,
        receive: Receive,
        send: Send,
    ) -> None:
        """Answer the way ``fault`` says ``model`` (served via ``provider``) fails."""
        error = fault.error(provider)
        if fault.kind == "hang":
            await asgi.wait_for_disconnect(receive)
        elif fault.kind == "unavailable":
            await asgi.send_error(send, 503, f"no available provider for {model}")
        elif fault.kind == "status":
            headers = (
                {"retry-after": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            )
            await asgi.send_error(
                send, fault.status, fault.message, metadata=error["metadata"], headers=headers
            )
        elif fault.kind == "truncated" and stream:
            text = "".join(wire.sse_events(self._completion(body, model)))
            await asgi.send_stream(send, [text[: len(text) // 2]], 0)
        elif fault.kind == "truncated":
            full = json.dumps(self._completion(body, model)).encode()
            await asgi.send_bytes(send, 200, full[: len(full) // 2], "application/json")
        elif fault.kind == "stream_error" and stream:
            await asgi.send_stream(
                send, wire.sse_events(self._completion(body, model), error=error), 0
            )
        else:  # error_body, or stream_error on a non-streaming request
            await asgi.send_json(send, 200, {"error": error})


def create_app(
    registry: Registry,
    options: SandboxOptions | None = None,
    *,
    clock: Callable[[], float] | None = None,
    tasks: TaskBook | None = None,
) -> SandboxApp:
    """A fresh sandbox with its own request log, faults and sticky sessions."""
    return SandboxApp(registry, options, clock=clock, tasks=tasks)
