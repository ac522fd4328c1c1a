"""The real OpenRouterGateway against the sandbox, in-process and over a uvicorn socket.

Every sandbox fault must surface as the adapter's typed error, exactly as it would from
OpenRouter; each test runs over both transports.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from llm_council.config import GatewaySettings
from llm_council.gateway.base import (
    AuthError,
    CallTimeoutError,
    ChatMessage,
    CompletionRequest,
    GatewayConnectionError,
    GatewayError,
    MalformedResponseError,
    PaymentRequiredError,
    ProviderError,
    RateLimitedError,
    UpstreamError,
)
from llm_council.gateway.openrouter import PARETO_TIER_SCORES, OpenRouterGateway
from llm_council.pareto import band_for_score
from llm_council.registry import load_registry
from llm_council.sandbox import Fault, SandboxApp, SandboxOptions, create_app

KEY = "sk-or-test-123"
REGISTRY = load_registry()
PARETO = "openrouter/pareto-code"
NAMED = "openai/gpt-5.4"
MSG = (ChatMessage(role="user", content="Write a Python function that merges two sorted lists."),)
SETTINGS = GatewaySettings(max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.05)


@dataclass
class Wired:
    """A sandbox app and a factory for gateways that reach it over the chosen transport."""

    app: SandboxApp
    url: str
    transport: httpx.AsyncBaseTransport | None

    def gateway(self, key: str = KEY) -> OpenRouterGateway:
        return OpenRouterGateway(
            SETTINGS, api_key=key, kind="sandbox", transport=self.transport, base_url=self.url
        )


@pytest.fixture(params=["in-process", "socket"])
def wired(request: pytest.FixtureRequest, asgi_server: Callable[[Any], Any]) -> Iterator[Wired]:
    app = create_app(REGISTRY, SandboxOptions(latency_ms=0, api_key=KEY))
    with ExitStack() as stack:
        if request.param == "socket":
            base = stack.enter_context(asgi_server(app))
            yield Wired(app, f"{base}/api/v1", None)
        else:
            yield Wired(app, "http://sandbox/api/v1", httpx.ASGITransport(app=app))


def req(model: str = PARETO, **kw: Any) -> CompletionRequest:
    return CompletionRequest(model=model, messages=MSG, **kw)


@pytest.mark.parametrize("tier", ["quick", "balanced", "high", "reasoning", "frontier"])
async def test_pareto_call_resolves_to_a_shortlisted_model(wired: Wired, tier: str) -> None:
    score = PARETO_TIER_SCORES[tier]
    async with wired.gateway() as gw:
        result = await gw.complete(req(tier=tier))
    band = band_for_score(REGISTRY, score)
    assert result.resolved_model in REGISTRY.pareto.shortlist[band]
    assert result.requested_model == PARETO and result.min_coding_score == score
    body = wired.app.requests[-1]
    if score is None:  # frontier: the plugin is omitted and the router defaults to high
        assert "plugins" not in body
    else:
        assert body["plugins"] == [{"id": "pareto-router", "min_coding_score": score}]
    entry = REGISTRY.get(result.resolved_model)
    assert entry is not None and result.provider == entry.provider
    assert result.usage.cost_usd == pytest.approx(
        entry.cost_usd(result.usage.prompt_tokens, result.usage.completion_tokens)
    )
    assert result.attempts == 1 and result.generation_id and result.content.startswith("_(sandbox")


async def test_streaming_equals_non_streaming(wired: Wired) -> None:
    async with wired.gateway() as gw:
        plain = await gw.complete(req(tier="high"))
        streamed = await gw.complete(req(tier="high", stream=True))
    assert streamed.content == plain.content and streamed.resolved_model == plain.resolved_model
    assert streamed.usage == plain.usage and streamed.finish_reason == "stop"
    assert wired.app.requests[-1]["stream"] is True


async def test_pareto_fallback_is_invisible_to_the_caller(wired: Wired) -> None:
    wired.app.set_fault("openai/gpt-5.4-mini", Fault(kind="status", status=502))
    async with wired.gateway() as gw:
        result = await gw.complete(req(tier="balanced"))
    assert result.resolved_model == "moonshotai/kimi-k2.6" and result.attempts == 1


@pytest.mark.parametrize(
    ("fault", "error", "attempts", "stream"),
    [
        (Fault(kind="status", status=402), PaymentRequiredError, 1, False),
        (Fault(kind="status", status=502), UpstreamError, 3, False),
        (Fault(kind="status", status=503), UpstreamError, 3, False),
        (Fault(kind="error_body"), ProviderError, 3, False),
        (Fault(kind="truncated"), MalformedResponseError, 3, False),
        (Fault(kind="truncated"), MalformedResponseError, 3, True),
        (Fault(kind="stream_error"), ProviderError, 3, True),
    ],
    ids=["402", "502", "503", "error_body", "truncated", "truncated-stream", "stream_error"],
)
async def test_faults_map_to_typed_errors(
    wired: Wired, fault: Fault, error: type[GatewayError], attempts: int, stream: bool
) -> None:
    wired.app.set_fault(NAMED, fault)
    async with wired.gateway() as gw:
        with pytest.raises(error) as info:
            await gw.complete(req(NAMED, stream=stream))
    assert type(info.value) is error and info.value.attempts == attempts
    assert len(wired.app.requests) == attempts


async def test_rate_limit_honours_retry_after(wired: Wired) -> None:
    wired.app.set_fault(NAMED, Fault(kind="status", status=429, retry_after=0.3, times=1))
    async with wired.gateway() as gw:
        t0 = time.perf_counter()
        result = await gw.complete(req(NAMED))
        waited = time.perf_counter() - t0
        assert result.attempts == 2 and waited >= 0.3  # far above the 0.05 s backoff cap
        wired.app.set_fault(NAMED, Fault(kind="status", status=429, retry_after=0))
        with pytest.raises(RateLimitedError) as info:
            await gw.complete(req(NAMED))
    assert info.value.retry_after == 0 and info.value.attempts == 3
    assert info.value.http_status == 429 and info.value.status == "rate_limited"


async def test_hang_is_cut_at_the_deadline(wired: Wired) -> None:
    wired.app.set_fault(NAMED, Fault(kind="hang"))
    async with wired.gateway() as gw:
        t0 = time.perf_counter()
        with pytest.raises(CallTimeoutError):
            await gw.complete(req(NAMED, deadline_s=0.5))
        assert 0.5 <= time.perf_counter() - t0 < 1.5
        wired.app.clear_faults()
        assert (await gw.complete(req(NAMED))).resolved_model == NAMED  # the pool recovered


async def test_fault_once_then_success(wired: Wired) -> None:
    wired.app.set_fault(NAMED, Fault(kind="status", status=502, times=1))
    async with wired.gateway() as gw:
        result = await gw.complete(req(NAMED))
    assert result.attempts == 2 and result.resolved_model == NAMED


async def test_wrong_key_is_an_auth_error_that_never_shows_the_key(wired: Wired) -> None:
    wrong = "sk-or-wrong-key-456"
    async with wired.gateway(wrong) as gw:
        with pytest.raises(AuthError) as info:
            await gw.complete(req())
        assert info.value.attempts == 1 and info.value.http_status == 401
        for text in (str(info.value), repr(info.value), repr(gw)):
            assert wrong not in text and KEY not in text
    assert len(wired.app.requests) == 1  # not retried


async def test_list_models(wired: Wired) -> None:
    async with wired.gateway() as gw:
        rows = await gw.list_models()
    assert {m["id"] for m in rows} == {m.id for m in REGISTRY.models} | {PARETO}


async def test_connection_refused_is_a_connection_error() -> None:
    with socket.socket() as sock:  # bound then released: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gw = OpenRouterGateway(
        SETTINGS, api_key=KEY, kind="sandbox", base_url=f"http://127.0.0.1:{port}/api/v1"
    )
    async with gw:
        with pytest.raises(GatewayConnectionError) as info:
            await gw.complete(req(NAMED))
    assert info.value.attempts == 3 and KEY not in str(info.value)
