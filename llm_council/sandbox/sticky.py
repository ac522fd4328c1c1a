"""Sticky sessions of the sandbox's Pareto router: bounded by an idle TTL and an LRU cap.

OpenRouter keeps a session on the endpoint that last served it and lets the stickiness
lapse after 10 minutes of inactivity (docs: "Prompt Caching", Provider Sticky Routing).
A long-running sandbox (``llm-council serve`` on the embedded gateway) sees an unbounded
stream of session ids, so the table also evicts its least recently used entry past a cap.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

DEFAULT_TTL_S = 600.0  # OpenRouter: "Sticky sessions expire after 10 minutes of inactivity"
DEFAULT_MAX_ENTRIES = 10_000


class StickyTable:
    """``key -> model`` with an idle timeout and a size cap; the clock is injectable."""

    def __init__(
        self,
        ttl_s: float = DEFAULT_TTL_S,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if ttl_s <= 0 or max_entries < 1:
            raise ValueError("sticky sessions need ttl_s > 0 and max_entries >= 1")
        self._ttl_s = ttl_s
        self._max = max_entries
        self._clock = clock or time.monotonic
        # Oldest activity first: expiry and eviction both pop from the front.
        self._entries: OrderedDict[Hashable, tuple[str, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> str | None:
        """The session's model, or None when it has none or it lapsed (then it is dropped)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        model, seen = entry
        if self._clock() - seen > self._ttl_s:
            del self._entries[key]
            return None
        return model

    def set(self, key: Hashable, model: str) -> None:
        """Record that ``model`` served the session now (activity refreshes the TTL)."""
        now = self._clock()
        self._entries[key] = (model, now)
        self._entries.move_to_end(key)
        while self._entries:
            oldest_key, (_, seen) = next(iter(self._entries.items()))
            if len(self._entries) > self._max or now - seen > self._ttl_s:
                del self._entries[oldest_key]
            else:
                break
