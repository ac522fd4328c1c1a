"""The OpenRouter adapter against a real HTTP server on 127.0.0.1 (uvicorn, scripted replies)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from structlog.testing import capture_logs

from llm_council.config import GatewaySettings
from llm_council.gateway.base import (
    AuthError,
    BadRequestError,
    CallTimeoutError,
    ChatMessage,
    CompletionRequest,
    GatewayConnectionError,
    MalformedResponseError,
    PaymentRequiredError,
    ProviderError,
    RateLimitedError,
    RefusedError,
    UpstreamError,
)
from llm_council.gateway.openrouter import OpenRouterGateway
from tests.conftest import free_port
from tests.scripted_openrouter import Reply, ScriptedServer, completion, error

KEY = "sk-or-v1-secret-test-key-0123456789"
MESSAGES = (ChatMessage(role="user", content="merge two sorted lists"),)


class RecordingSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def gateway(url: str, *, sleep=None, attempts: int = 3, jitter=lambda: 1.0) -> OpenRouterGateway:
    settings = GatewaySettings(max_attempts=attempts, backoff_base_s=0.25, backoff_max_s=1.0)
    return OpenRouterGateway(
        settings,
        api_key=KEY,
        base_url=f"{url}/api/v1",
        sleep=sleep or RecordingSleep(),
        jitter=jitter,
    )


def request(model: str = "openrouter/pareto-code", **kw) -> CompletionRequest:
    return CompletionRequest(model=model, messages=MESSAGES, tier="high", **kw)


@pytest.fixture
def served(asgi_server):
    """``async with served(*replies) as (server, gateway)``-like helper via a factory."""

    def start(*replies: Reply, **gw_kw):
        server = ScriptedServer(*replies)
        ctx = asgi_server(server)
        url = ctx.__enter__()
        return server, gateway(url, **gw_kw), ctx

    opened = []

    def factory(*replies: Reply, **gw_kw):
        server, gw, ctx = start(*replies, **gw_kw)
        opened.append(ctx)
        return server, gw

    yield factory
    for ctx in opened:
        ctx.__exit__(None, None, None)


async def test_resolved_model_usage_and_headers(served):
    server, gw = served(Reply(body=completion("anthropic/claude-opus-4.7", "code!", cost=0.0012)))
    result = await gw.complete(request())
    assert result.requested_model == "openrouter/pareto-code"
    assert result.resolved_model == "anthropic/claude-opus-4.7"
    assert result.generation_id == "gen-abc123" and result.content == "code!"
    assert result.finish_reason == "stop" and result.attempts == 1
    assert result.usage.prompt_tokens == 12 and result.usage.completion_tokens == 34
    assert result.usage.cost_usd == pytest.approx(0.0012)
    assert result.min_coding_score == 0.8 and result.variant is None
    sent = server.log[0]
    assert sent["path"] == "/api/v1/chat/completions"
    assert sent["headers"]["authorization"] == f"Bearer {KEY}"
    assert (
        sent["headers"]["http-referer"] and sent["headers"]["x-openrouter-title"] == "llm-council"
    )
    assert sent["json"]["plugins"] == [{"id": "pareto-router", "min_coding_score": 0.8}]
    await gw.aclose()


@pytest.mark.parametrize(
    ("status", "cls", "calls"),
    [
        (400, BadRequestError, 1),
        (401, AuthError, 1),
        (402, PaymentRequiredError, 1),
        (403, RefusedError, 1),
        (408, CallTimeoutError, 3),
        (429, RateLimitedError, 3),
        (502, UpstreamError, 3),
        (503, UpstreamError, 3),
    ],
)
async def test_http_errors_map_to_typed_exceptions(served, status, cls, calls):
    body = (
        error(status, f"simulated {status}", reasons=["violence"])
        if status == 403
        else error(status, f"simulated {status}")
    )
    server, gw = served(Reply(status=status, body=body))
    with pytest.raises(cls) as info:
        await gw.complete(request())
    assert info.value.http_status == status and info.value.attempts == calls
    assert len(server.log) == calls  # non-retryable errors are raised after one attempt
    assert f"simulated {status}" in str(info.value)
    if status == 403:
        assert "violence" in str(info.value) and info.value.status == "refused"
    await gw.aclose()


async def test_error_object_inside_a_200_body(served):
    _, gw = served(Reply(body=error(502, "provider crashed mid-generation")), attempts=1)
    with pytest.raises(ProviderError, match="provider crashed"):
        await gw.complete(request())
    await gw.aclose()


@pytest.mark.parametrize(
    "body",
    [b'{"id": "gen-1", "model": "x", "choi', b"<html>bad gateway</html>", b"[1, 2]"],
)
async def test_malformed_json(served, body):
    _, gw = served(Reply(body=body), attempts=1)
    with pytest.raises(MalformedResponseError):
        await gw.complete(request())
    await gw.aclose()


async def test_response_without_model_is_malformed(served):
    payload = completion()
    del payload["model"]
    _, gw = served(Reply(body=payload), attempts=1)
    with pytest.raises(MalformedResponseError, match="'model'"):
        await gw.complete(request())
    await gw.aclose()


async def test_connection_refused():
    gw = gateway(f"http://127.0.0.1:{free_port()}", attempts=2)
    with pytest.raises(GatewayConnectionError) as info:
        await gw.complete(request())
    assert info.value.attempts == 2
    await gw.aclose()


async def test_retry_then_success_with_backoff_and_jitter(served):
    sleep = RecordingSleep()
    server, gw = served(
        Reply(status=502, body=error(502, "down")),
        Reply(status=503, body=error(503, "still down")),
        Reply(body=completion()),
        sleep=sleep,
        jitter=lambda: 1.0,
    )
    result = await gw.complete(request())
    assert result.attempts == 3 and len(server.log) == 3
    assert sleep.delays == [0.25, 0.5]  # base * 2**(n-1), full jitter factor 1.0
    await gw.aclose()


async def test_backoff_is_capped_and_jittered(served):
    sleep = RecordingSleep()
    _, gw = served(
        Reply(status=502, body=error(502, "down")), sleep=sleep, attempts=6, jitter=lambda: 0.0
    )
    with pytest.raises(UpstreamError):
        await gw.complete(request())
    assert sleep.delays == [0.125, 0.25, 0.5, 0.5, 0.5]  # half of min(cap, base * 2**n)


async def test_retry_after_is_honoured(served):
    sleep = RecordingSleep()
    _, gw = served(
        Reply(status=429, body=error(429, "slow down"), headers={"retry-after": "0.7"}),
        Reply(body=completion()),
        sleep=sleep,
    )
    result = await gw.complete(request())
    assert result.attempts == 2 and sleep.delays == [0.7]
    await gw.aclose()


async def test_x_ratelimit_reset_epoch_ms(served):
    sleep = RecordingSleep()
    reset_ms = int((time.time() + 2.0) * 1000)
    _, gw = served(
        Reply(status=429, body=error(429, "slow"), headers={"x-ratelimit-reset": str(reset_ms)}),
        Reply(body=completion()),
        sleep=sleep,
    )
    await gw.complete(request())
    assert 1.0 < sleep.delays[0] <= 2.0
    await gw.aclose()


async def test_retry_after_beyond_the_deadline_surfaces_at_once(served):
    sleep = RecordingSleep()
    _, gw = served(
        Reply(status=429, body=error(429, "later"), headers={"retry-after": "30"}), sleep=sleep
    )
    t0 = time.perf_counter()
    with pytest.raises(RateLimitedError) as info:
        await gw.complete(request(deadline_s=2.0))
    assert info.value.retry_after == 30 and sleep.delays == []
    assert time.perf_counter() - t0 < 1.0
    await gw.aclose()


async def test_wall_clock_deadline_beats_a_slow_trickle(served):
    _, gw = served(Reply(trickle=(b" ", 0.1, 50)), sleep=asyncio.sleep)
    t0 = time.perf_counter()
    with pytest.raises(CallTimeoutError, match="deadline"):
        await gw.complete(request(deadline_s=0.5))
    assert time.perf_counter() - t0 < 1.5
    await gw.aclose()


async def test_streaming_assembles_content_and_usage(served):
    chunk = {
        "id": "gen-s1",
        "model": "deepseek/deepseek-v4-pro",
        "choices": [{"delta": {"content": "def f"}}],
    }
    chunk2 = {
        "id": "gen-s1",
        "model": "deepseek/deepseek-v4-pro",
        "choices": [{"delta": {"content": "(): pass"}, "finish_reason": "stop"}],
    }
    final = {
        "id": "gen-s1",
        "model": "deepseek/deepseek-v4-pro",
        "choices": [],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "cost": 0.0001},
    }
    lines = [
        ": OPENROUTER PROCESSING",
        f"data: {json.dumps(chunk)}",
        f"data: {json.dumps(chunk2)}",
        f"data: {json.dumps(final)}",
        "data: [DONE]",
    ]
    server, gw = served(Reply(sse=lines))
    result = await gw.complete(request(stream=True))
    assert result.content == "def f(): pass" and result.resolved_model == "deepseek/deepseek-v4-pro"
    assert result.usage.completion_tokens == 7 and result.usage.cost_usd == pytest.approx(0.0001)
    assert result.finish_reason == "stop" and server.log[0]["json"]["stream"] is True
    await gw.aclose()


async def test_mid_stream_error_chunk(served):
    chunk = {"id": "g", "model": "m/x", "choices": [{"delta": {"content": "par"}}]}
    bad = {
        "id": "g",
        "model": "m/x",
        "error": {"code": 502, "message": "provider died"},
        "choices": [{"delta": {}, "finish_reason": "error"}],
    }
    _, gw = served(
        Reply(sse=[f"data: {json.dumps(chunk)}", f"data: {json.dumps(bad)}"]), attempts=1
    )
    with pytest.raises(ProviderError, match="provider died"):
        await gw.complete(request(stream=True))
    await gw.aclose()


async def test_stream_cut_before_done_is_malformed(served):
    chunk = {"id": "g", "model": "m/x", "choices": [{"delta": {"content": "par"}}]}
    _, gw = served(Reply(sse=[f"data: {json.dumps(chunk)}"]), attempts=1)
    with pytest.raises(MalformedResponseError, match="DONE"):
        await gw.complete(request(stream=True))
    await gw.aclose()


async def test_the_key_never_leaks(served):
    # A hostile or buggy server echoes the key back in its error message.
    _, gw = served(Reply(status=401, body=error(401, f"bad key {KEY}")), attempts=1)
    with capture_logs() as logs, pytest.raises(AuthError) as info:
        await gw.complete(request())
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    assert KEY not in repr(gw) and KEY not in str(vars(info.value))
    assert KEY not in json.dumps(logs, default=str)
    await gw.aclose()


async def test_one_pooled_client_reuses_connections(served):
    server, gw = served(Reply(body=completion()))
    for _ in range(5):
        await gw.complete(request())
    await asyncio.gather(*(gw.complete(request()) for _ in range(20)))
    ports = {entry["client_port"] for entry in server.log}
    assert len(server.log) == 25 and len(ports) < 25
    sequential_ports = {entry["client_port"] for entry in server.log[:5]}
    assert len(sequential_ports) == 1
    await gw.aclose()


async def test_pareto_resolved_event(served):
    _, gw = served(Reply(body=completion("openai/gpt-5.4-mini")))
    with capture_logs() as logs:
        await gw.complete(request(model="openrouter/pareto-code:nitro"))
        await gw.complete(request(model="openai/gpt-5.4"))
    events = [e for e in logs if e["event"] == "pareto.resolved"]
    assert len(events) == 1
    assert events[0]["resolved_model"] == "openai/gpt-5.4-mini" and events[0]["variant"] == "nitro"
    assert events[0]["tier"] == "high" and events[0]["min_coding_score"] == 0.8
    await gw.aclose()
