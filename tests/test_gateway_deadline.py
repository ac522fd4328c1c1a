"""A call's own deadline (ADR-016 sets its timer inline instead of through asyncio.timeout)
behaves as asyncio.timeout did: only its own expiry becomes CallTimeoutError, a cancellation
from outside stays a cancellation, and the caller's task is left exactly as it was.

Against the scripted OpenRouter-compatible server over a real socket (uvicorn on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from llm_council.config import GatewaySettings
from llm_council.gateway.base import CallTimeoutError, ChatMessage, CompletionRequest
from llm_council.gateway.openrouter import OpenRouterGateway
from tests.scripted_openrouter import Reply, completion

MESSAGES = (ChatMessage(role="user", content="merge two sorted lists"),)


def request(**kw) -> CompletionRequest:
    return CompletionRequest(model="openai/gpt-5.4-mini", messages=MESSAGES, **kw)


@pytest.fixture
async def slow(scripted):
    """A gateway whose server answers after 3 s (every reply)."""
    server, url = scripted
    server.reset(*[Reply(delay_s=3.0, body=completion())] * 4)
    gw = OpenRouterGateway(
        GatewaySettings(max_attempts=1), api_key="sk-or-test", base_url=f"{url}/api/v1"
    )
    yield gw
    await gw.aclose()


async def test_the_deadline_raises_call_timeout_and_leaves_the_task_usable(slow):
    task = asyncio.current_task()
    assert task is not None
    t0 = time.perf_counter()
    with pytest.raises(CallTimeoutError, match=r"within the 0\.3s deadline"):
        await slow.complete(request(deadline_s=0.3))
    assert time.perf_counter() - t0 < 1.5
    # The cancellation the deadline used is fully taken back: no pending cancel is left
    # to hit the caller's next await.
    assert task.cancelling() == 0
    await asyncio.sleep(0.01)


async def test_a_cancellation_from_outside_stays_a_cancellation(slow):
    call = asyncio.ensure_future(slow.complete(request(deadline_s=5.0)))
    await asyncio.sleep(0.2)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert call.cancelled()


async def test_an_outer_timeout_shorter_than_the_deadline_is_the_callers(slow):
    # The caller's own asyncio.timeout expires first: its TimeoutError, not our CallTimeoutError.
    t0 = time.perf_counter()
    with pytest.raises(TimeoutError) as info:
        async with asyncio.timeout(0.2):
            await slow.complete(request(deadline_s=5.0))
    assert not isinstance(info.value, CallTimeoutError)
    assert time.perf_counter() - t0 < 1.5
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_the_deadline_inside_a_longer_outer_timeout_is_ours(slow):
    async with asyncio.timeout(5.0):
        with pytest.raises(CallTimeoutError):
            await slow.complete(request(deadline_s=0.2))
        await asyncio.sleep(0.01)  # the outer timeout is still intact and not triggered
