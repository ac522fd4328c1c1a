"""The real adapter against the sandbox, in-process and over a uvicorn socket, with every fault."""

from __future__ import annotations

import time

import httpx
import pytest

from llm_council.config import GatewaySettings
from llm_council.gateway.base import (
    AuthError,
    CallTimeoutError,
    ChatMessage,
    CompletionRequest,
    MalformedResponseError,
    PaymentRequiredError,
    ProviderError,
    RateLimitedError,
    UpstreamError,
)
from llm_council.gateway.openrouter import OpenRouterGateway
from llm_council.registry import load_registry
from llm_council.sandbox import Fault, SandboxOptions, create_app

KEY = "sk-or-test-123"
MSG = (ChatMessage(role="user", content="Write a Python function that merges two sorted lists."),)


@pytest.fixture(params=["in-process", "socket"])
def wired(request, asgi_server):
    """(app, make_gateway) over ASGITransport or a real uvicorn socket."""
    app = create_app(load_registry(), SandboxOptions(latency_ms=0, api_key=KEY))
    ctx = None
    if request.param == "socket":
        ctx = asgi_server(app)
        url = f"{ctx.__enter__()}/api/v1"
        transport = None
    else:
        url, transport = "http://sandbox/api/v1", httpx.ASGITransport(app=app)

    def make(key: str = KEY) -> OpenRouterGateway:
        settings = GatewaySettings(max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.05)
        return OpenRouterGateway(
            settings, api_key=key, kind="sandbox", transport=transport, base_url=url
        )

    yield app, make
    if ctx is not None:
        ctx.__exit__(None, None, None)


def req(model="openrouter/pareto-code", **kw) -> CompletionRequest:
    return CompletionRequest(model=model, messages=MSG, tier=kw.pop("tier", "balanced"), **kw)


async def test_pareto_call_resolves_and_carries_the_tier_score(wired):
    app, make = wired
    gw = make()
    result = await gw.complete(req())
    assert result.resolved_model == "openai/gpt-5.4-mini" and result.min_coding_score == 0.5
    assert app.requests[-1]["plugins"] == [{"id": "pareto-router", "min_coding_score": 0.5}]
    assert result.usage.cost_usd and result.usage.cost_usd > 0
    await gw.aclose()


async def test_streaming_equals_non_streaming(wired):
    _, make = wired
    gw = make()
    plain = await gw.complete(req(tier="high"))
    streamed = await gw.complete(req(tier="high", stream=True))
    assert streamed.content == plain.content and streamed.resolved_model == plain.resolved_model
    assert streamed.usage.completion_tokens == plain.usage.completion_tokens
    await gw.aclose()


@pytest.mark.parametrize(
    ("fault", "cls", "stream"),
    [
        (Fault(kind="status", status=402), PaymentRequiredError, False),
        (Fault(kind="status", status=502), UpstreamError, False),
        (Fault(kind="status", status=503), UpstreamError, False),
        (Fault(kind="error_body"), ProviderError, False),
        (Fault(kind="truncated"), MalformedResponseError, False),
        (Fault(kind="stream_error"), ProviderError, True),
    ],
)
async def test_faults_map_to_typed_errors(wired, fault, cls, stream):
    app, make = wired
    gw = make()
    app.set_fault("openai/gpt-5.4", fault)
    with pytest.raises(cls) as info:
        await gw.complete(req("openai/gpt-5.4", stream=stream))
    expected_attempts = 1 if cls is PaymentRequiredError else 3
    assert info.value.attempts == expected_attempts
    await gw.aclose()


async def test_rate_limit_with_retry_after_then_success(wired):
    app, make = wired
    gw = make()
    app.set_fault("openai/gpt-5.4", Fault(kind="status", status=429, retry_after=0.2, times=1))
    t0 = time.perf_counter()
    result = await gw.complete(req("openai/gpt-5.4"))
    assert result.attempts == 2 and time.perf_counter() - t0 >= 0.2
    app.set_fault("openai/gpt-5.4", Fault(kind="status", status=429, retry_after=0))
    with pytest.raises(RateLimitedError) as info:
        await gw.complete(req("openai/gpt-5.4"))
    assert info.value.retry_after == 0 and info.value.attempts == 3
    await gw.aclose()


async def test_hang_is_cut_at_the_deadline(wired):
    app, make = wired
    gw = make()
    app.set_fault("openai/gpt-5.4", Fault(kind="hang"))
    t0 = time.perf_counter()
    with pytest.raises(CallTimeoutError):
        await gw.complete(req("openai/gpt-5.4", deadline_s=0.5))
    assert time.perf_counter() - t0 < 1.5
    await gw.aclose()


async def test_transient_fault_once_then_success(wired):
    app, make = wired
    gw = make()
    app.set_fault("openai/gpt-5.4", Fault(kind="status", status=502, times=1))
    result = await gw.complete(req("openai/gpt-5.4"))
    assert result.attempts == 2 and result.resolved_model == "openai/gpt-5.4"
    await gw.aclose()


async def test_wrong_key_is_an_auth_error_without_the_key(wired):
    _, make = wired
    wrong = "sk-or-wrong-key-456"
    gw = make(wrong)
    with pytest.raises(AuthError) as info:
        await gw.complete(req())
    assert info.value.attempts == 1
    assert wrong not in str(info.value) and wrong not in repr(info.value)
    await gw.aclose()


async def test_list_models(wired):
    _, make = wired
    gw = make()
    ids = {m["id"] for m in await gw.list_models()}
    assert {"openrouter/pareto-code", "deepseek/deepseek-v4-pro"} <= ids
    await gw.aclose()
