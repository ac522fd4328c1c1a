"""The OpenRouter adapter: request bodies with Pareto plugin injection, retries and deadlines.

The same adapter talks to the real OpenRouter API or to the offline sandbox; only the
httpx transport differs (see ``llm_council.gateway.factory``).
"""

from __future__ import annotations

import asyncio
import codecs
import json
import math
import random
import re
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
import orjson
import yarl
from aiohttp.payload import BytesPayload
from pydantic import SecretStr

from llm_council.config import GatewaySettings
from llm_council.gateway.base import (
    AuthError,
    BadRequestError,
    CallTimeoutError,
    CompletionRequest,
    CompletionResult,
    GatewayConnectionError,
    GatewayError,
    GatewayKind,
    MalformedResponseError,
    PaymentRequiredError,
    ProviderError,
    RateLimitedError,
    RefusedError,
    UpstreamError,
    Usage,
)
from llm_council.gateway.rate_gate import RateGate
from llm_council.gateway.router_metadata import (
    METADATA_FIELD,
    METADATA_HEADERS,
    parse_router_metadata,
)
from llm_council.log import get_logger

# PARETO_TIER_SCORES and pareto_score are re-exported here: the adapter is where callers
# look for what a request carries, but the rule itself lives with the Pareto rules.
from llm_council.pareto import (
    PARETO_PLUGIN_ID,
    PARETO_TIER_SCORES,
    pareto_score,
    parse_pareto_model,
)

__all__ = [
    "DEFAULT_DEADLINE_S",
    "PARETO_TIER_SCORES",
    "OpenRouterGateway",
    "build_request_body",
    "pareto_score",
]
from llm_council.redaction import redact, redact_deep, register_secret

DEFAULT_DEADLINE_S = 60.0
# SSE lines end at CRLF, LF or CR (and nothing else: U+2028 may sit raw inside JSON).
_SSE_LINE_END = re.compile("\r\n|\r|\n")
# JSON on the wire must be valid UTF-8; a lone surrogate (from undecodable input or a
# server's answer quoted back in a review) is sent as U+FFFD while the record keeps it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_NO_USAGE = Usage()
# Names (models, providers) known to need no masking, per gateway; see OpenRouterGateway._name.
_CLEAN_NAMES_MAX = 1024
_CLEAN_NAME_LEN = 200
# The stdlib encoder, for the bodies orjson refuses (see _encode); one for every body.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_JSON_TYPE = {"Content-Type": "application/json"}
_PATHS = ("chat/completions", "models")

_log = get_logger("llm_council.gateway")

_STATUS_ERRORS: dict[int, type[GatewayError]] = {
    400: BadRequestError,
    401: AuthError,
    402: PaymentRequiredError,
    403: RefusedError,
    408: CallTimeoutError,
    429: RateLimitedError,
    500: UpstreamError,
    502: UpstreamError,
    503: UpstreamError,
    504: UpstreamError,
}


def build_request_body(
    request: CompletionRequest,
    tier_scores: Mapping[str, float | None] = PARETO_TIER_SCORES,
) -> dict[str, Any]:
    """The JSON body for ``POST /chat/completions``, with the Pareto plugin where it belongs."""
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [{"role": m.role, "content": _wire_text(m.content)} for m in request.messages],
    }
    # Caller plugins survive; a stray pareto-router entry never does, we decide it below.
    plugins = [dict(p) for p in request.plugins if p.get("id") != PARETO_PLUGIN_ID]
    score = pareto_score(request.model, request.tier, request.min_coding_score, tier_scores)
    if score is not None:
        plugins.append({"id": PARETO_PLUGIN_ID, "min_coding_score": score})
    if plugins:
        body["plugins"] = plugins
    if request.models:
        body["models"] = list(request.models)
    if request.session_id:
        body["session_id"] = request.session_id
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.stream:
        body["stream"] = True
    return body


class OpenRouterGateway:
    """An OpenRouter-compatible gateway with one pooled ``httpx.AsyncClient``."""

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        api_key: str | SecretStr | None,
        kind: GatewayKind = "openrouter",
        transport: httpx.AsyncBaseTransport | None = None,
        base_url: str | None = None,
        tier_scores: Mapping[str, float | None] | None = None,
        default_deadline_s: float | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        rate_gate: RateGate | None = None,
    ) -> None:
        self._kind: GatewayKind = kind
        self._settings = settings
        self._key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key or "")
        register_secret(self._key.get_secret_value())  # masked in every library log record
        self._tier_scores = dict(PARETO_TIER_SCORES if tier_scores is None else tier_scores)
        # A request's own deadline wins; else this argument, the config's call_timeout_s, 60 s.
        self._default_deadline_s = (
            default_deadline_s or settings.call_timeout_s or DEFAULT_DEADLINE_S
        )
        self._sleep = sleep
        self._jitter = jitter
        # One gate per gateway: a 429 with Retry-After holds back every call through it.
        self.rate_gate = rate_gate or RateGate()
        headers = {"HTTP-Referer": settings.referer, "X-OpenRouter-Title": settings.title}
        if self._key.get_secret_value():
            headers["Authorization"] = f"Bearer {self._key.get_secret_value()}"
        self.base_url = (base_url or settings.base_url).rstrip("/")
        # The key lives in the pooled clients' headers only, never as an attribute of ours.
        self._plain_headers = {k: v for k, v in headers.items() if k != "Authorization"}
        # Over a socket: one aiohttp session (made on first use, inside the running loop),
        # whose pool costs little per request however many wait; httpx on its own pool cost
        # ~2.5x more per call under load (ADR-013). A given httpx transport (the in-process
        # sandbox's ASGITransport, tests) keeps an httpx client. The connect timeout bounds
        # each connection attempt; the wall-clock deadline of a whole call (which a slow
        # trickle of bytes would otherwise dodge) is ours below.
        self._session: aiohttp.ClientSession | None = None
        # HTTP(S)_PROXY / NO_PROXY as httpx honoured them, read once: aiohttp's trust_env
        # would look them (and ~/.netrc) up in a thread on every request.
        self._proxy = _env_proxy(self.base_url)
        # Parsed once: a URL given as text is parsed again by aiohttp on every request.
        self._urls = {path: yarl.URL(f"{self.base_url}/{path}") for path in _PATHS}
        self._client: httpx.AsyncClient | None = None
        self._clean_names: set[str] = set()
        if transport is not None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url + "/",
                headers=headers,
                transport=transport,
                timeout=httpx.Timeout(None, connect=settings.connect_timeout_s),
            )

    def __repr__(self) -> str:
        return f"OpenRouterGateway(kind={self._kind!r}, base_url={self.base_url!r})"

    @property
    def kind(self) -> GatewayKind:
        return self._kind

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _aiohttp(self) -> aiohttp.ClientSession:
        if self._session is None:
            headers = dict(self._plain_headers)
            if self._key.get_secret_value():
                headers["Authorization"] = f"Bearer {self._key.get_secret_value()}"
            self._session = aiohttp.ClientSession(
                headers=headers,
                connector=aiohttp.TCPConnector(limit=self._settings.max_connections),
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self._settings.connect_timeout_s
                ),
                # Cookies are no part of the API; skipping the jar saves work on every call.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def __aenter__(self) -> OpenRouterGateway:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def list_models(self) -> list[dict[str, Any]]:
        """``GET /models``: OpenRouter's model list (``data`` array), within the deadline."""
        try:
            async with asyncio.timeout(self._default_deadline_s):
                payload = self._json("models", *await self._request("GET", "models"))
        except TimeoutError:
            raise CallTimeoutError(
                f"GET /models gave no complete answer within {self._default_deadline_s:g}s"
            ) from None
        data = payload.get("data")
        if not isinstance(data, list):
            raise MalformedResponseError("GET /models returned no 'data' list")
        return data

    async def complete(
        self, request: CompletionRequest, *, on_delta: DeltaCallback | None = None
    ) -> CompletionResult:
        """Run one completion with retries for retryable errors, inside a wall-clock deadline.

        With ``on_delta`` the call streams and each piece of content is handed over as it
        arrives; once a piece has gone out the call is not retried (it would repeat text).
        """
        if on_delta is not None and not request.stream:
            request = request.model_copy(update={"stream": True})
        sent = _DeltaTap(on_delta) if request.stream else _NOT_STREAMED
        body = build_request_body(request, self._tier_scores)
        headers = (
            METADATA_HEADERS
            if self._settings.router_metadata and parse_pareto_model(request.model)
            else None
        )
        deadline_s = request.deadline_s or self._default_deadline_s
        started = time.perf_counter()
        attempts = 0
        # asyncio.timeout's logic, inline: on 3.11 its context manager costs about twice
        # the timer it sets, on every call (ADR-016). At the deadline the task is cancelled;
        # that cancellation (and no other) becomes CallTimeoutError.
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("OpenRouterGateway.complete must be awaited inside an asyncio task")
        cancelling = task.cancelling()
        expired: list[bool] = []
        timer = loop.call_at(loop.time() + deadline_s, _expire, task, expired)
        try:
            while True:
                attempts += 1
                # Retries wait out the gate in their own delay below.
                if attempts == 1 and self.rate_gate.remaining() > 0:
                    await self._wait_for_gate(request.model, deadline_s, started)
                try:
                    if request.stream:
                        payload = await self._stream(body, headers, sent)
                    else:
                        payload = await self._post(body, headers)
                    result = self._result(request, body, payload, attempts, started)
                    break
                except GatewayError as exc:
                    exc.attempts = attempts
                    if exc.http_status == 429 and exc.retry_after is not None:
                        self.rate_gate.hold(exc.retry_after)
                    delay = None if sent.started else self._retry_delay(exc, attempts)
                    if delay is not None:
                        delay = max(delay, self.rate_gate.remaining())
                    remaining = deadline_s - (time.perf_counter() - started)
                    if delay is None or delay >= remaining:
                        raise
                    _log.info(
                        "gateway.retry",
                        model=request.model,
                        attempt=attempts,
                        error=type(exc).__name__,
                        detail=str(exc),  # already masked: errors are built redacted
                        delay_s=round(delay, 3),
                    )
                    await self._sleep(delay)
        except asyncio.CancelledError:
            if expired and task.uncancel() <= cancelling:
                raise self._deadline_error(request, deadline_s, attempts) from None
            raise  # a cancellation from outside (the session, the user) is not ours
        except TimeoutError:
            if expired:
                task.uncancel()
            raise self._deadline_error(request, deadline_s, attempts) from None
        except BaseException:
            if expired:
                task.uncancel()
            raise
        finally:
            timer.cancel()
        if expired:
            task.uncancel()
        return result

    @staticmethod
    def _deadline_error(
        request: CompletionRequest, deadline_s: float, attempts: int
    ) -> CallTimeoutError:
        return CallTimeoutError(
            f"{request.model} gave no complete answer within the {deadline_s:g}s deadline",
            attempts=attempts,
        )

    async def _wait_for_gate(self, model: str, deadline_s: float, started: float) -> None:
        """Wait while an earlier 429 holds the gateway; refuse at once if that outlasts the
        call's deadline (the server said not before then; waiting would only time out)."""
        wait_s = self.rate_gate.remaining()
        if wait_s <= 0:
            return
        if wait_s >= deadline_s - (time.perf_counter() - started):
            raise RateLimitedError(
                f"{model} not sent: the gateway is rate limited for another {wait_s:.1f}s "
                f"(an earlier Retry-After), beyond this call's {deadline_s:g}s deadline",
                retry_after=wait_s,
                attempts=0,
            )
        await self.rate_gate.wait()

    def _retry_delay(self, exc: GatewayError, attempts: int) -> float | None:
        if not exc.retryable or attempts >= self._settings.max_attempts:
            return None
        if exc.retry_after is not None:
            return max(0.0, exc.retry_after)
        ceiling = min(
            self._settings.backoff_max_s, self._settings.backoff_base_s * 2 ** (attempts - 1)
        )
        return ceiling * (0.5 + 0.5 * self._jitter())  # "equal jitter"

    def _transport_error(self, exc: BaseException, doing: str) -> GatewayError:
        """A transport failure (httpx's, or aiohttp's under them) in the taxonomy, the key
        redacted from the text; raise it ``from None`` (the cause could carry the headers)."""
        name, timed_out = _transport_failure(exc)
        if timed_out:
            return CallTimeoutError(f"timed out {doing} {self.base_url}: {name}")
        return GatewayConnectionError(
            f"failed {doing} {self.base_url}: {name}: {self._redact(str(exc))}"
        )

    async def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """One whole request: (status, body bytes); an HTTP error status raises."""
        sent = None if body is None else _encode(body)
        try:
            if self._client is not None:
                if sent is not None:
                    headers = {**(headers or {}), **_JSON_TYPE}
                response = await self._client.request(method, path, content=sent, headers=headers)
                status, content, reply_headers = (
                    response.status_code,
                    response.content,
                    response.headers,
                )
            else:
                async with self._aiohttp().request(
                    method,
                    self._urls[path],
                    data=None if sent is None else _payload(sent),
                    headers=headers,
                    proxy=self._proxy,
                ) as reply:
                    status, content, reply_headers = reply.status, await reply.read(), reply.headers
        except (httpx.TransportError, aiohttp.ClientError) as exc:
            raise self._transport_error(exc, "talking to") from None
        if status >= 400:
            raise self._http_error(status, content.decode("utf-8", "replace"), reply_headers)
        return status, content

    async def _post(
        self, body: dict[str, Any], headers: Mapping[str, str] | None
    ) -> dict[str, Any]:
        path = "chat/completions"
        payload = self._json(path, *await self._request("POST", path, body, headers))
        self._raise_body_error(payload)
        return payload

    async def _stream(
        self, body: dict[str, Any], headers: Mapping[str, str] | None, tap: _DeltaTap
    ) -> dict[str, Any]:
        """Consume an SSE stream and assemble the same shape a non-streaming call returns."""
        sent = _encode(body)
        try:
            if self._client is not None:
                async with self._client.stream(
                    "POST",
                    "chat/completions",
                    content=sent,
                    headers={**(headers or {}), **_JSON_TYPE},
                ) as response:
                    if response.status_code >= 400:
                        text = (await response.aread()).decode("utf-8", "replace")
                        raise self._http_error(response.status_code, text, response.headers)
                    return await _assemble_stream(
                        _sse_lines(response.aiter_bytes()), self._raise_body_error, tap
                    )
            async with self._aiohttp().post(
                self._urls["chat/completions"],
                data=_payload(sent),
                headers=headers,
                proxy=self._proxy,
            ) as reply:
                if reply.status >= 400:
                    text = (await reply.read()).decode("utf-8", "replace")
                    raise self._http_error(reply.status, text, reply.headers)
                return await _assemble_stream(
                    _sse_lines(reply.content.iter_any()), self._raise_body_error, tap
                )
        except (httpx.TransportError, aiohttp.ClientError) as exc:
            raise self._transport_error(exc, "streaming from") from None

    def _json(self, path: str, status: int, content: bytes) -> dict[str, Any]:
        try:
            payload = _decode(content)
        except ValueError:
            raise MalformedResponseError(
                f"response from {urlsplit(self.base_url).path}/{path} is not valid JSON "
                f"({len(content)} bytes; truncated?)",
                http_status=status,
            ) from None
        if not isinstance(payload, dict):
            raise MalformedResponseError(
                f"response is JSON but not an object: {type(payload).__name__}"
            )
        return payload

    def _raise_body_error(self, payload: dict[str, Any]) -> None:
        error = payload.get("error")
        if error is None:
            return
        code, message, metadata = _error_fields(error)
        # The request was accepted (HTTP 200) and then failed while generating: the code is
        # the provider's, not an HTTP status of ours, so this is its own retryable class.
        raise ProviderError(
            f"provider error in a 200 response: {self._redact(message)}",
            code=self._redact_deep(code),
            metadata=self._redact_deep(metadata),
        )

    def _http_error(self, status: int, text: str, headers: Mapping[str, str]) -> GatewayError:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and "error" in parsed:
            code, message, metadata = _error_fields(parsed["error"])
        else:
            # Redact before cutting, or a key straddling the cut would leak its first half.
            code, message, metadata = status, self._redact(text)[:200] or "(empty body)", {}
        cls = _STATUS_ERRORS.get(status) or (UpstreamError if status >= 500 else GatewayError)
        if cls is RefusedError and isinstance(metadata.get("reasons"), list):
            message = f"{message} (reasons: {', '.join(map(str, metadata['reasons']))})"
        return cls(
            self._redact(message),
            http_status=status,
            code=self._redact_deep(code),
            metadata=self._redact_deep(metadata),
            retry_after=_retry_after(headers) if status in {429, 503} else None,
        )

    def _redact(self, text: str) -> str:
        """Mask the key, any 8+ character piece of it and key shapes (llm_council.redaction)."""
        return redact(text, self._key.get_secret_value(), registered=False)

    def _redact_deep(self, value: Any) -> Any:
        """Redact the key from server-supplied data we keep (error metadata may echo it)."""
        return redact_deep(value, self._key.get_secret_value(), registered=False)

    def _name(self, value: Any) -> str | None:
        """A short name a server sent (model, provider), masked; None when absent or empty.

        The same few names come back on every call: one that needed no masking is
        remembered (it holds no piece of the key, so keeping it is safe) and not scanned again.
        """
        if not isinstance(value, str) or not value:
            return None
        if value in self._clean_names:
            return value
        masked = self._redact(value)
        if masked == value and len(value) <= _CLEAN_NAME_LEN:
            if len(self._clean_names) >= _CLEAN_NAMES_MAX:
                self._clean_names.clear()
            self._clean_names.add(value)
        return masked or None

    def _result(
        self,
        request: CompletionRequest,
        body: dict[str, Any],
        payload: dict[str, Any],
        attempts: int,
        started: float,
    ) -> CompletionResult:
        # An answer without a `model` field was still generated and billed: keep it and
        # record the model as unknown rather than retrying (retries are for no answer).
        resolved = self._name(payload.get("model"))
        choices = payload.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise MalformedResponseError("response has no 'choices'")
        message = choices[0].get("message") or {}
        content = message.get("content") if isinstance(message, dict) else None
        if content is not None and not isinstance(content, str):
            raise MalformedResponseError("choices[0].message.content is not a string")
        finish_reason = choices[0].get("finish_reason")
        ref = parse_pareto_model(request.model)
        plugin = next((p for p in body.get("plugins", ()) if p.get("id") == PARETO_PLUGIN_ID), None)
        metadata = payload.get(METADATA_FIELD)
        try:
            usage, usage_problem = _usage(payload.get("usage")), None
        except MalformedResponseError as exc:  # billed all the same: keep the answer
            usage, usage_problem = _NO_USAGE, str(exc)
            _log.warning("gateway.usage_unreadable", model=request.model, detail=usage_problem)
        result = CompletionResult(
            requested_model=request.model,
            resolved_model=resolved,
            generation_id=_str_or_none(payload.get("id")),
            content=content or "",
            finish_reason=finish_reason if isinstance(finish_reason, str) else None,
            usage=usage,
            usage_problem=usage_problem,
            latency_ms=(time.perf_counter() - started) * 1000,
            attempts=attempts,
            min_coding_score=plugin["min_coding_score"] if plugin else None,
            variant=ref.variant if ref else None,
            provider=self._name(payload.get("provider")),
            router=parse_router_metadata(self._redact_deep(metadata))
            if metadata is not None
            else None,
        )
        if ref is not None:
            _log.info(
                "pareto.resolved",
                requested_model=request.model,
                resolved_model=resolved,
                tier=request.tier,
                min_coding_score=result.min_coding_score,
                variant=ref.variant,
                generation_id=result.generation_id,
            )
        return result


DeltaCallback = Callable[[str], None]


class _DeltaTap:
    """Hands streamed content to the caller and remembers whether any went out."""

    def __init__(self, callback: DeltaCallback | None) -> None:
        self._callback = callback
        self.started = False

    def __call__(self, text: str) -> None:
        if self._callback is not None and text:
            self.started = True
            self._callback(text)


_NOT_STREAMED = _DeltaTap(None)  # a call that does not stream never starts handing out text


async def _assemble_stream(
    lines: Any,
    raise_body_error: Callable[[dict[str, Any]], None],
    tap: DeltaCallback | None = None,
) -> dict[str, Any]:
    content: list[str] = []
    payload: dict[str, Any] = {}
    finish_reason: str | None = None
    async for line in lines:
        if not line or line.startswith(":"):
            continue  # blank separators and SSE comments (OpenRouter's keep-alives)
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            payload["choices"] = [
                {
                    "message": {"role": "assistant", "content": "".join(content)},
                    "finish_reason": finish_reason,
                }
            ]
            return payload
        try:
            chunk = _decode(data)
        except ValueError:
            raise MalformedResponseError(f"unparseable stream chunk: {data[:80]!r}") from None
        if not isinstance(chunk, dict):
            raise MalformedResponseError("stream chunk is not a JSON object")
        raise_body_error(chunk)
        for key in ("id", "model", "provider", "usage", METADATA_FIELD):
            if chunk.get(key) is not None:
                payload[key] = chunk[key]
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise MalformedResponseError("stream chunk 'choices' is not a list")
        for choice in choices:
            if not isinstance(choice, dict):
                raise MalformedResponseError("stream chunk choice is not an object")
            delta = choice.get("delta")
            if isinstance(delta, dict) and isinstance(delta.get("content"), str):
                content.append(delta["content"])
                if tap is not None:
                    tap(delta["content"])
            if isinstance(choice.get("finish_reason"), str):
                finish_reason = choice["finish_reason"]
    raise MalformedResponseError("stream ended before 'data: [DONE]' (truncated)")


def _expire(task: asyncio.Task[Any], expired: list[bool]) -> None:
    """A call's deadline passed: cancel its task (complete() turns that into a timeout)."""
    expired.append(True)
    task.cancel()


def _env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (None when NO_PROXY covers its host)."""
    parts = urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def _encode(body: dict[str, Any]) -> bytes:
    """A request body as JSON bytes: compact, UTF-8 kept as is, no NaN (ADR-016).

    orjson does it in a twentieth of the stdlib's time, but writes NaN as null: a body with
    a float that is not finite goes through the stdlib encoder, which refuses it, as does
    whatever else orjson refuses (an int beyond 64 bits, a lone surrogate). The stdlib's
    answer, text or error, is the rule.
    """
    if not _not_finite(body):
        try:
            return orjson.dumps(body)
        except (orjson.JSONEncodeError, TypeError):
            pass
    return _ENCODER.encode(body).encode("utf-8")


def _not_finite(value: Any) -> bool:
    """Whether a float that is not finite sits in ``value`` (plain JSON data)."""
    if isinstance(value, str):  # most of a body: settled at once
        return False
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_not_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_not_finite(v) for v in value)
    return False


def _decode(content: bytes | str) -> Any:
    """JSON from a server: orjson first; a text it refuses (NaN, a lone surrogate escape, a
    number beyond a double) the stdlib parser reads or rejects, whole. One difference is
    kept: in a text orjson reads, an integer beyond 64 bits becomes the nearest float (no
    field of ours holds one)."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return json.loads(content)


def _payload(content: bytes) -> BytesPayload:
    return BytesPayload(content, content_type="application/json")


def _wire_text(text: str) -> str:
    """``text`` as it may go on the wire: a lone surrogate becomes U+FFFD.

    Checked by encoding (C speed, and ASCII text, the common case, is answered at once)
    rather than by scanning every message with the regex on every call.
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", text)
    return text


async def _sse_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """Decode a byte stream into lines: CRLF, LF or CR ends one (a CR at the end of a chunk
    is held back, the next chunk may start with its LF)."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    pending = ""
    async for chunk in chunks:
        pending += decoder.decode(chunk)
        held = pending.endswith("\r")
        *lines, pending = _SSE_LINE_END.split(pending[:-1] if held else pending)
        if held:
            pending += "\r"
        for line in lines:
            yield line
    for line in _SSE_LINE_END.split(pending + decoder.decode(b"", final=True)):
        if line:
            yield line


def _transport_failure(exc: BaseException) -> tuple[str, bool]:
    """The failure's name in httpx's terms and whether it was a timeout.

    httpx_aiohttp maps every ``aiohttp.ClientConnectionError`` (a refused connection, a
    dropped one) to ``httpx.ConnectTimeout``; the aiohttp cause says what really happened.
    """
    cause = exc.__cause__ if isinstance(exc, httpx.TransportError) else exc
    if not isinstance(cause, aiohttp.ClientError):
        return type(exc).__name__, isinstance(exc, httpx.TimeoutException)
    if isinstance(cause, asyncio.TimeoutError):  # aiohttp's timeouts subclass it
        connect = isinstance(cause, aiohttp.ConnectionTimeoutError)
        return ("ConnectTimeout" if connect else "ReadTimeout"), True
    if isinstance(cause, aiohttp.ClientConnectorError):
        return "ConnectError", False
    if isinstance(cause, aiohttp.ClientPayloadError):
        return "ReadError", False
    return f"NetworkError ({type(cause).__name__})", False


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _usage(raw: Any) -> Usage:
    """``usage`` as OpenRouter reports it; an unusable field is a malformed response."""
    if raw is None:
        return _NO_USAGE
    if not isinstance(raw, dict):
        raise MalformedResponseError(f"'usage' is not an object: {type(raw).__name__}")
    prompt = _number(raw, "prompt_tokens")
    completion = _number(raw, "completion_tokens")
    return Usage(
        prompt_tokens=int(prompt or 0),
        completion_tokens=int(completion or 0),
        cost_usd=_number(raw, "cost"),
    )


def _number(usage: dict[str, Any], key: str) -> float | None:
    value = usage.get(key)
    if value is None:
        return None
    if type(value) is int and value >= 0:  # the usual token count: nothing to check
        return float(value)
    try:
        number = float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        number = float("nan")
    if not number >= 0 or number == float("inf"):  # also catches NaN
        raise MalformedResponseError(f"usage.{key} is not a non-negative number: {value!r}")
    return number


def _error_fields(error: Any) -> tuple[str | int | None, str, dict[str, Any]]:
    if not isinstance(error, dict):
        return None, str(error), {}
    metadata = error.get("metadata") if isinstance(error.get("metadata"), dict) else {}
    message = str(error.get("message") or "no message")
    if raw := metadata.get("provider_name"):
        message = f"{message} (provider: {raw})"
    return error.get("code"), message, metadata


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait: ``Retry-After`` (seconds or HTTP date), else ``X-RateLimit-Reset``."""
    if value := headers.get("retry-after"):
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                return None
    if value := headers.get("x-ratelimit-reset"):
        try:
            reset = float(value)
        except ValueError:
            return None
        # OpenRouter sends an epoch in milliseconds; accept seconds too.
        reset_s = reset / 1000 if reset > 1e11 else reset
        return max(0.0, reset_s - time.time())
    return None
