"""The rate gate: one 429 with Retry-After holds back every call through the gateway.

OpenRouter docs, "Limits" (https://openrouter.ai/docs/api-reference/limits): rate limits
are governed per account ("making additional accounts or API keys will not affect your
rate limits"), and the rate-limit headers come on the error response; "Errors and
Debugging" lists 429 as rate limiting. So a 429 concerns every call we are about to send,
not only the one that got it.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from llm_council.config import GatewaySettings
from llm_council.gateway.base import ChatMessage, CompletionRequest, RateLimitedError
from llm_council.gateway.openrouter import OpenRouterGateway
from llm_council.gateway.rate_gate import RateGate
from llm_council.registry import load_registry
from llm_council.sandbox import SandboxOptions, create_app
from llm_council.sandbox.app import COMPLETIONS_PATH
from llm_council.sandbox.faults import Fault
from tests.conftest import serve_asgi

SONNET = "anthropic/claude-sonnet-4.6"
GPT = "openai/gpt-5.4"
MESSAGES = (ChatMessage(role="user", content="merge two sorted lists"),)


class Stamped:
    """ASGI middleware: when each completion request arrived, for which model, and the
    status it was answered with, measured on the server side."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.log: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != COMPLETIONS_PATH:
            await self.app(scope, receive, send)
            return
        entry: dict[str, Any] = {"t": time.monotonic(), "status": None, "model": None}
        self.log.append(entry)
        body = bytearray()

        async def receive_body() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
            return message

        async def send_status(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
                entry["answered"] = time.monotonic()
                entry["model"] = json.loads(bytes(body) or b"{}").get("model")
            await send(message)

        await self.app(scope, receive_body, send_status)

    def limited(self) -> list[dict[str, Any]]:
        return [e for e in self.log if e["status"] == 429]


def test_hold_never_shortens_and_wait_returns_when_open():
    now = [100.0]
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)
        now[0] += delay

    gate = RateGate(clock=lambda: now[0], sleep=sleep)
    assert gate.remaining() == 0.0
    gate.hold(5)
    gate.hold(1)  # a nearer reset from a later 429 must not open the gate early
    assert gate.remaining() == 5.0 and gate.holds == 1
    gate.hold(7)
    assert gate.remaining() == 7.0 and gate.holds == 2
    asyncio.run(gate.wait())
    assert gate.remaining() == 0.0 and sum(slept) == pytest.approx(7.0)


def _gateway(url: str, gate: RateGate | None = None) -> OpenRouterGateway:
    return OpenRouterGateway(
        GatewaySettings(max_attempts=2, backoff_base_s=0.01, backoff_max_s=0.02),
        api_key="sk-or-test-gate-0123456789",
        kind="sandbox",
        base_url=f"{url}/api/v1",
        rate_gate=gate,
    )


def _request(model: str, deadline_s: float = 10.0) -> CompletionRequest:
    return CompletionRequest(model=model, messages=MESSAGES, tier="balanced", deadline_s=deadline_s)


async def test_a_429_holds_back_a_call_to_another_model_over_a_socket():
    """Call 1 (Sonnet) gets 429 Retry-After: 1; call 2 (GPT, not rate limited itself) starts
    after that and must not reach the server before the second is over."""
    app = create_app(load_registry(), SandboxOptions(latency_ms=0))
    app.set_fault(SONNET, Fault(kind="status", status=429, retry_after=1, times=1))
    stamped = Stamped(app)
    with serve_asgi(stamped) as url:
        async with _gateway(url) as gw:
            first = asyncio.create_task(gw.complete(_request(SONNET)))
            while not stamped.limited():
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)  # the 429 has reached the client and closed the gate
            second = await gw.complete(_request(GPT))
            retried = await first
    (limited,) = stamped.limited()
    gpt = [e for e in stamped.log if e["model"] == GPT]
    sonnet_ok = [e for e in stamped.log if e["model"] == SONNET and e["status"] == 200]
    assert second.resolved_model == GPT and retried.attempts == 2
    assert len(gpt) == 1 and len(sonnet_ok) == 1
    # Server-side: nothing arrived within the second the 429 asked for.
    assert gpt[0]["t"] - limited["answered"] >= 0.9
    assert sonnet_ok[0]["t"] - limited["answered"] >= 0.9
    assert gw.rate_gate.holds == 1


async def test_without_a_retry_after_the_gate_stays_open():
    """A 429 that names no time is backed off by that call alone (its own jittered delay)."""
    app = create_app(load_registry(), SandboxOptions(latency_ms=0))
    app.set_fault(SONNET, Fault(kind="status", status=429, times=1))
    with serve_asgi(app) as url:
        async with _gateway(url) as gw:
            await gw.complete(_request(SONNET))
            t0 = time.monotonic()
            await gw.complete(_request(GPT))
            assert time.monotonic() - t0 < 0.5
            assert gw.rate_gate.holds == 0 and gw.rate_gate.remaining() == 0


async def test_a_hold_beyond_the_deadline_refuses_at_once_without_sending():
    app = create_app(load_registry(), SandboxOptions(latency_ms=0))
    gate = RateGate()
    gate.hold(30)
    with serve_asgi(app) as url:
        async with _gateway(url, gate) as gw:
            t0 = time.monotonic()
            with pytest.raises(RateLimitedError) as info:
                await gw.complete(_request(GPT, deadline_s=2.0))
            assert time.monotonic() - t0 < 0.5
    assert info.value.attempts == 0 and info.value.retry_after is not None
    assert info.value.retry_after > 29 and "beyond this call's 2s deadline" in str(info.value)
    assert not app.requests  # nothing was sent into the rate limit


async def test_gate_is_shared_by_concurrent_waiters():
    """Many callers waiting on one gate are released together, at the time it names."""
    gate = RateGate()
    gate.hold(0.3)
    t0 = time.monotonic()
    done = await asyncio.gather(*(_timed(gate) for _ in range(5)))
    assert all(0.28 <= t - t0 < 0.6 for t in done)


async def _timed(gate: RateGate) -> float:
    await gate.wait()
    return time.monotonic()
