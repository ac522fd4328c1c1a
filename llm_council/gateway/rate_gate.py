"""A rate-limit gate shared by every call through one gateway.

OpenRouter governs capacity per account, not per request (docs: "Limits": more keys or
accounts do not raise it), so a 429 that tells one call to come back later is about every
call we are about to send. Without a shared gate, a batch of sessions keeps hammering the
server while one call politely waits out its ``Retry-After``, and each of them collects its
own 429. With it, one 429 holds back every call through the gateway until the time the
server named.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from llm_council.log import get_logger

_log = get_logger("llm_council.gateway")


class RateGate:
    """Closed until a moment a server named; every caller waits for it before sending.

    ``hold`` never shortens an existing hold: a later 429 with a nearer reset time must not
    let calls through that an earlier, longer ``Retry-After`` is still holding back.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._until = 0.0
        self.holds = 0  # how many 429s closed or extended the gate (for progress and tests)

    def __repr__(self) -> str:
        return f"RateGate(remaining_s={self.remaining():.3f}, holds={self.holds})"

    def hold(self, seconds: float) -> None:
        """Close the gate for ``seconds`` from now (a server's Retry-After), unless it is
        already closed for longer."""
        until = self._clock() + max(0.0, seconds)
        if until > self._until:
            self._until = until
            self.holds += 1
            _log.info("gateway.rate_gate_closed", wait_s=round(seconds, 3))

    def remaining(self) -> float:
        """Seconds until the gate opens (0.0 when open)."""
        return max(0.0, self._until - self._clock())

    async def wait(self) -> None:
        """Return once the gate is open; re-checks after each sleep, since another 429 may
        have pushed the opening time further while this caller slept."""
        while (delay := self.remaining()) > 0:
            await self._sleep(delay)
