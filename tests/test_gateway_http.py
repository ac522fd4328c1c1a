"""The OpenRouter adapter against a real HTTP server on 127.0.0.1 (uvicorn, scripted replies)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from email.utils import formatdate

import pytest

from llm_council.config import GatewaySettings
from llm_council.gateway.base import (
    AuthError,
    BadRequestError,
    CallTimeoutError,
    ChatMessage,
    CompletionRequest,
    Gateway,
    GatewayConnectionError,
    GatewayError,
    MalformedResponseError,
    PaymentRequiredError,
    ProviderError,
    RateLimitedError,
    RefusedError,
    UpstreamError,
)
from llm_council.gateway.openrouter import OpenRouterGateway
from tests.conftest import free_port
from tests.log_events import capture_events
from tests.scripted_openrouter import RecordingSleep, Reply, ScriptedServer, completion, error

KEY = "sk-or-v1-secret-test-key-0123456789"
MESSAGES = (ChatMessage(role="user", content="merge two sorted lists"),)


def gateway(
    url: str,
    *,
    sleep=None,
    attempts: int = 3,
    jitter=lambda: 1.0,
    **settings,
) -> OpenRouterGateway:
    base = {"max_attempts": attempts, "backoff_base_s": 0.25, "backoff_max_s": 1.0, **settings}
    return OpenRouterGateway(
        GatewaySettings(**base),
        api_key=KEY,
        base_url=f"{url}/api/v1",
        sleep=sleep or RecordingSleep(),
        jitter=jitter,
    )


def request(model: str = "openrouter/pareto-code", **kw) -> CompletionRequest:
    return CompletionRequest(model=model, messages=MESSAGES, tier="high", **kw)


@pytest.fixture
async def served(scripted):
    """``server, gw = served(*replies, **gateway_options)``; gateways are closed afterwards."""
    server, url = scripted
    opened: list[OpenRouterGateway] = []

    def factory(*replies: Reply, **gw_kw) -> tuple[ScriptedServer, OpenRouterGateway]:
        server.reset(*replies)
        gw = gateway(url, **gw_kw)
        opened.append(gw)
        return server, gw

    yield factory
    for gw in opened:
        await gw.aclose()


# --- success ------------------------------------------------------------------------------


async def test_resolved_model_usage_and_headers(served):
    server, gw = served(Reply(body=completion("anthropic/claude-opus-4.7", "code!", cost=0.0012)))
    assert isinstance(gw, Gateway) and gw.kind == "openrouter"
    result = await gw.complete(request(session_id="sess-1:s3"))
    assert result.requested_model == "openrouter/pareto-code"
    assert result.resolved_model == "anthropic/claude-opus-4.7"
    assert result.generation_id == "gen-abc123" and result.content == "code!"
    assert result.finish_reason == "stop" and result.attempts == 1
    assert result.usage.prompt_tokens == 12 and result.usage.completion_tokens == 34
    assert result.usage.cost_usd == pytest.approx(0.0012)
    assert result.min_coding_score == 0.8 and result.variant is None
    assert result.provider == "Anthropic" and result.latency_ms > 0
    sent = server.log[0]
    assert sent["method"] == "POST" and sent["path"] == "/api/v1/chat/completions"
    assert sent["headers"]["authorization"] == f"Bearer {KEY}"
    assert sent["headers"]["http-referer"] == "https://github.com/llm-council/llm-council"
    assert sent["headers"]["x-openrouter-title"] == "llm-council"
    assert sent["json"]["model"] == "openrouter/pareto-code"
    assert sent["json"]["plugins"] == [{"id": "pareto-router", "min_coding_score": 0.8}]
    assert sent["json"]["session_id"] == "sess-1:s3"


async def test_named_model_and_missing_cost(served):
    server, gw = served(Reply(body=completion("openai/gpt-5.4")))
    result = await gw.complete(request(model="openai/gpt-5.4"))
    assert result.resolved_model == "openai/gpt-5.4" and result.usage.cost_usd is None
    assert result.min_coding_score is None and "plugins" not in server.log[0]["json"]


async def test_nitro_variant_is_reported(served):
    _, gw = served(Reply(body=completion("x-ai/grok-4.3")))
    result = await gw.complete(request(model="openrouter/pareto-code:nitro"))
    assert result.variant == "nitro" and result.resolved_model == "x-ai/grok-4.3"


# --- the error taxonomy -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls", "outcome", "calls"),
    [
        (400, BadRequestError, "error", 1),
        (401, AuthError, "auth_error", 1),
        (402, PaymentRequiredError, "payment_required", 1),
        (403, RefusedError, "refused", 1),
        (408, CallTimeoutError, "timeout", 3),
        (429, RateLimitedError, "rate_limited", 3),
        (502, UpstreamError, "error", 3),
        (503, UpstreamError, "error", 3),
    ],
)
async def test_http_errors_map_to_typed_exceptions(served, status, cls, outcome, calls):
    server, gw = served(Reply(status=status, body=error(status, f"simulated {status}")))
    with pytest.raises(cls) as info:
        await gw.complete(request())
    err = info.value
    assert type(err) is cls and err.status == outcome and err.retryable == (calls > 1)
    assert err.http_status == status and err.code == status
    # Non-retryable errors are raised after exactly one attempt; the rest use them all.
    assert err.attempts == calls and len(server.log) == calls
    assert str(err) == f"HTTP {status}: simulated {status}"


async def test_refusal_names_the_moderation_reasons(served):
    body = error(403, "Input flagged", reasons=["violence", "harassment"], flagged_input="x")
    _, gw = served(Reply(status=403, body=body))
    with pytest.raises(RefusedError) as info:
        await gw.complete(request())
    assert str(info.value) == "HTTP 403: Input flagged (reasons: violence, harassment)"
    assert info.value.metadata["reasons"] == ["violence", "harassment"]


async def test_non_json_error_body(served):
    _, gw = served(Reply(status=502, body=b"<html>Bad Gateway</html>"), attempts=1)
    with pytest.raises(UpstreamError, match="Bad Gateway"):
        await gw.complete(request())


async def test_error_object_inside_a_200_body(served):
    body = error(502, "provider crashed mid-generation", provider_name="Upstream Inc")
    server, gw = served(Reply(body=body), attempts=2)
    with pytest.raises(ProviderError) as info:
        await gw.complete(request())
    assert "provider crashed mid-generation (provider: Upstream Inc)" in str(info.value)
    assert info.value.http_status is None and info.value.code == 502
    assert info.value.attempts == 2 and len(server.log) == 2  # retryable


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "gen-1", "model": "x", "choi',  # truncated
        b"<html>oops</html>",
        b"",
        b"[1, 2]",
        json.dumps({**completion(), "choices": []}).encode(),
    ],
    ids=["truncated", "html", "empty", "array", "no-choices"],
)
async def test_malformed_responses(served, body):
    _, gw = served(Reply(body=body), attempts=1)
    with pytest.raises(MalformedResponseError):
        await gw.complete(request())


async def test_answer_with_unreadable_usage_is_kept_not_retried(served):
    """Bad usage is the answer's metadata, not a missing answer: kept, usage unknown
    (tests/test_mutation_kills.py has the shapes)."""
    body = json.dumps({**completion(), "usage": {"prompt_tokens": "many"}}).encode()
    server, gw = served(Reply(body=body), attempts=3)
    result = await gw.complete(request())
    assert result.attempts == 1 and len(server.requests) == 1
    assert result.usage_problem == "usage.prompt_tokens is not a non-negative number: 'many'"


@pytest.mark.parametrize("model", [None, "", 42], ids=["absent", "empty", "not-a-string"])
async def test_answer_without_model_is_kept_not_retried(served, model):
    """A billed answer that does not name its model is kept, with the model unknown.

    Retrying would pay for the same answer again: retries are for calls that produced nothing.
    """
    payload = completion(cost=0.0012)
    if model is None:
        del payload["model"]
    else:
        payload["model"] = model
    server, gw = served(Reply(body=payload), attempts=3)
    result = await gw.complete(request())
    assert result.resolved_model is None
    assert result.content == payload["choices"][0]["message"]["content"]
    assert result.usage.cost_usd == payload["usage"]["cost"]
    assert result.attempts == 1 and len(server.requests) == 1


async def test_connection_refused():
    sleep = RecordingSleep()
    gw = gateway(f"http://127.0.0.1:{free_port()}", attempts=2, sleep=sleep)
    try:
        with pytest.raises(GatewayConnectionError) as info:
            await gw.complete(request())
        assert info.value.attempts == 2 and len(sleep.delays) == 1
        assert "ConnectError" in str(info.value)
    finally:
        await gw.aclose()


# --- retries, backoff, Retry-After --------------------------------------------------------


async def test_retry_then_success(served):
    sleep = RecordingSleep()
    server, gw = served(
        Reply(status=503, body=error(503, "overloaded")),
        Reply(body=completion("openai/gpt-5.4-mini")),
        sleep=sleep,
    )
    result = await gw.complete(request())
    assert result.attempts == 2 and len(server.log) == 2
    assert result.resolved_model == "openai/gpt-5.4-mini" and len(sleep.delays) == 1


async def test_backoff_doubles_with_equal_jitter(served):
    sleep = RecordingSleep()
    server, gw = served(
        Reply(status=502, body=error(502, "down")),
        Reply(status=502, body=error(502, "still down")),
        Reply(body=completion()),
        sleep=sleep,
        jitter=lambda: 1.0,
    )
    result = await gw.complete(request())
    assert result.attempts == 3 and len(server.log) == 3
    assert sleep.delays == [0.25, 0.5]  # base * 2**(n-1), jitter factor 1.0


async def test_backoff_with_jitter_is_bounded_by_backoff_max(served):
    sleep = RecordingSleep()
    rng = random.Random(7)
    _, gw = served(
        Reply(status=502, body=error(502, "down")),
        sleep=sleep,
        attempts=10,
        jitter=rng.random,
        backoff_base_s=0.5,
        backoff_max_s=2.0,
    )
    with pytest.raises(UpstreamError) as info:
        await gw.complete(request())
    assert info.value.attempts == 10 and len(sleep.delays) == 9
    for n, delay in enumerate(sleep.delays, start=1):
        ceiling = min(2.0, 0.5 * 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling <= 2.0
    assert len(set(sleep.delays)) > 1  # jittered, not a fixed schedule


async def test_retry_after_seconds_is_honoured(served):
    sleep = RecordingSleep()
    _, gw = served(
        Reply(status=429, body=error(429, "slow down"), headers={"Retry-After": "0.7"}),
        Reply(body=completion()),
        sleep=sleep,
    )
    result = await gw.complete(request())
    assert result.attempts == 2 and sleep.delays == [0.7]


async def test_retry_after_http_date_is_honoured(served):
    sleep = RecordingSleep()
    when = formatdate(time.time() + 3, usegmt=True)
    _, gw = served(
        Reply(status=503, body=error(503, "maintenance"), headers={"Retry-After": when}),
        Reply(body=completion()),
        sleep=sleep,
    )
    await gw.complete(request())
    assert 1.0 < sleep.delays[0] <= 3.0


async def test_x_ratelimit_reset_epoch_ms(served):
    sleep = RecordingSleep()
    reset_ms = int((time.time() + 2.0) * 1000)
    _, gw = served(
        Reply(status=429, body=error(429, "slow"), headers={"X-RateLimit-Reset": str(reset_ms)}),
        Reply(body=completion()),
        sleep=sleep,
    )
    result = await gw.complete(request())
    assert result.attempts == 2 and 1.0 < sleep.delays[0] <= 2.0


async def test_retry_after_beyond_the_deadline_surfaces_at_once(served):
    sleep = RecordingSleep()
    server, gw = served(
        Reply(status=429, body=error(429, "later"), headers={"Retry-After": "30"}), sleep=sleep
    )
    t0 = time.perf_counter()
    with pytest.raises(RateLimitedError) as info:
        await gw.complete(request(deadline_s=2.0))
    assert info.value.retry_after == 30 and info.value.attempts == 1
    assert sleep.delays == [] and len(server.log) == 1
    assert time.perf_counter() - t0 < 1.0


# --- deadlines ----------------------------------------------------------------------------


async def test_wall_clock_deadline_beats_a_slow_trickle(served):
    # A byte every 0.1 s for 5 s: no single read ever times out, the whole call must.
    _, gw = served(Reply(trickle=(b" ", 0.1, 50)), sleep=asyncio.sleep)
    t0 = time.perf_counter()
    with pytest.raises(CallTimeoutError, match=r"within the 0\.5s deadline") as info:
        await gw.complete(request(deadline_s=0.5))
    assert time.perf_counter() - t0 < 1.5
    assert info.value.status == "timeout" and info.value.attempts == 1


async def test_deadline_covers_a_stream_of_keepalive_comments(served):
    _, gw = served(Reply(trickle=(b": OPENROUTER PROCESSING\n\n", 0.1, 50)))
    t0 = time.perf_counter()
    with pytest.raises(CallTimeoutError):
        await gw.complete(request(stream=True, deadline_s=0.4))
    assert time.perf_counter() - t0 < 1.5


async def test_config_call_timeout_is_the_default_deadline(served):
    _, gw = served(Reply(delay_s=3.0, body=completion()), call_timeout_s=0.3)
    t0 = time.perf_counter()
    with pytest.raises(CallTimeoutError, match=r"0\.3s deadline"):
        await gw.complete(request())
    assert time.perf_counter() - t0 < 1.5


# --- streaming ----------------------------------------------------------------------------


def sse(*chunks: dict, done: bool = True) -> list[str]:
    lines = [": OPENROUTER PROCESSING"]
    lines += [f"data: {json.dumps(c)}" for c in chunks]
    return [*lines, "data: [DONE]"] if done else lines


async def test_streaming_assembles_content_and_usage(served):
    model = "deepseek/deepseek-v4-pro"
    server, gw = served(
        Reply(
            sse=sse(
                {"id": "gen-s1", "model": model, "choices": [{"delta": {"content": "def f"}}]},
                {"id": "gen-s1", "model": model, "choices": [{"delta": {"content": "(): "}}]},
                {"id": "gen-s1", "model": model, "choices": [{"delta": {"content": "pass"}}]},
                # The finish reason may come in a chunk of its own, with no delta.
                {"id": "gen-s1", "model": model, "choices": [{"finish_reason": "stop"}]},
                {
                    "id": "gen-s1",
                    "model": model,
                    "choices": [],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 7, "cost": 0.0001},
                },
            )
        )
    )
    result = await gw.complete(request(stream=True))
    assert result.content == "def f(): pass" and result.resolved_model == model
    assert result.generation_id == "gen-s1" and result.finish_reason == "stop"
    assert result.usage.completion_tokens == 7 and result.usage.cost_usd == pytest.approx(0.0001)
    assert server.log[0]["json"]["stream"] is True


async def test_mid_stream_error_chunk(served):
    start = {"id": "g", "model": "m/x", "choices": [{"delta": {"content": "par"}}]}
    bad = {
        "id": "g",
        "model": "m/x",
        "error": {"code": 502, "message": "provider died"},
        "choices": [{"delta": {}, "finish_reason": "error"}],
    }
    _, gw = served(Reply(sse=sse(start, bad, done=False)), attempts=1)
    with pytest.raises(ProviderError, match="provider died"):
        await gw.complete(request(stream=True))


async def test_stream_cut_before_done_is_malformed(served):
    chunk = {"id": "g", "model": "m/x", "choices": [{"delta": {"content": "par"}}]}
    _, gw = served(Reply(sse=sse(chunk, done=False)), attempts=1)
    with pytest.raises(MalformedResponseError, match="DONE"):
        await gw.complete(request(stream=True))


async def test_stream_rejected_with_an_http_status(served):
    _, gw = served(Reply(status=402, body=error(402, "no credits")))
    with pytest.raises(PaymentRequiredError, match="no credits") as info:
        await gw.complete(request(stream=True))
    assert info.value.attempts == 1


# --- the key never leaks ------------------------------------------------------------------


def assert_no_key(*things: object) -> None:
    for thing in things:
        assert KEY not in str(thing) and KEY not in repr(thing)


async def test_the_key_never_leaks_from_errors_reprs_or_logs(served):
    # A hostile or buggy server echoes the key back: in a message, in metadata, in a 200 body
    # error and in a long non-JSON body cut where the key straddles the cut.
    cut = "x" * 190 + KEY
    raised: list[GatewayError] = []
    with capture_events() as logs:
        _, retrying = served(
            Reply(status=429, body=error(429, f"slow down {KEY}", raw=[{"key": KEY}])),
            Reply(status=500, body=cut.encode()),
            Reply(body=error(500, f"provider says {KEY}", provider_name=KEY)),
        )
        with pytest.raises(ProviderError) as info:
            await retrying.complete(request())
        raised.append(info.value)
        _, once = served(
            Reply(status=401, body=error(401, f"bad key {KEY}", key=KEY)),
            Reply(status=500, body=cut.encode()),
            attempts=1,
        )
        for cls in (AuthError, UpstreamError):
            with pytest.raises(cls) as info:
                await once.complete(request())
            raised.append(info.value)
    assert raised[0].attempts == 3 and "***" in str(raised[0]) and "***" in str(raised[1])
    assert str(raised[2]) == f"HTTP 500: {'x' * 190}***"
    for err in raised:
        assert_no_key(err, vars(err), err.__cause__, err.__context__)
    assert_no_key(retrying, once, vars(once)["_key"])
    assert [e["event"] for e in logs].count("gateway.retry") == 2
    assert KEY not in json.dumps(logs, default=str)


async def test_the_key_never_leaks_from_transport_errors():
    gw = gateway(f"http://127.0.0.1:{free_port()}", attempts=1)
    try:
        with capture_events() as logs, pytest.raises(GatewayConnectionError) as info:
            await gw.complete(request())
        assert_no_key(info.value, vars(info.value), info.value.__context__, gw)
        assert KEY not in json.dumps(logs, default=str)
    finally:
        await gw.aclose()


# --- one pooled client --------------------------------------------------------------------


async def test_one_pooled_client_reuses_connections(asgi_server):
    # A fresh server, so the port bookkeeping sees this gateway's connections only.
    server = ScriptedServer(Reply(body=completion()))
    with asgi_server(server) as url:
        gw = gateway(url, max_connections=8, max_keepalive_connections=8)
        try:
            for _ in range(5):
                await gw.complete(request())
            assert len({e["client_port"] for e in server.log}) == 1  # sequential: one socket
            await asyncio.gather(*(gw.complete(request()) for _ in range(50)))
        finally:
            await gw.aclose()
    ports = {e["client_port"] for e in server.log}
    assert len(server.log) == 55 and len(ports) <= 8


# --- logging and list_models --------------------------------------------------------------


async def test_pareto_resolved_event(served):
    _, gw = served(Reply(body=completion("openai/gpt-5.4-mini")))
    with capture_events() as logs:
        await gw.complete(request(model="openrouter/pareto-code:nitro"))
        await gw.complete(request(model="openai/gpt-5.4"))
    events = [e for e in logs if e["event"] == "pareto.resolved"]
    assert len(events) == 1
    assert events[0]["resolved_model"] == "openai/gpt-5.4-mini" and events[0]["variant"] == "nitro"
    assert events[0]["tier"] == "high" and events[0]["min_coding_score"] == 0.8


async def test_list_models(served):
    server, gw = served(Reply(body={"data": [{"id": "openai/gpt-5.4"}]}))
    assert await gw.list_models() == [{"id": "openai/gpt-5.4"}]
    assert server.log[0]["method"] == "GET" and server.log[0]["path"] == "/api/v1/models"
    server.reset(Reply(body={"models": []}))
    with pytest.raises(MalformedResponseError, match="'data'"):
        await gw.list_models()
