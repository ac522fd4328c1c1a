"""Fault injection for the sandbox: per-model failures and whole-band outages.

The state lives on one ``FaultBook`` per sandbox app, never in module globals, so two apps
in one process (two tests, a test and the CLI) cannot see each other's faults.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args

FaultKind = Literal["status", "error_body", "truncated", "stream_error", "hang", "unavailable"]
FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))
# The key or the account is at fault: every model would answer the same way.
_ACCOUNT_STATUSES = frozenset({401, 402})


@dataclass(frozen=True, slots=True)
class Fault:
    """What a model does instead of answering.

    ``status``: that HTTP status in OpenRouter's error shape (with ``Retry-After`` when
    ``retry_after`` is set); ``error_body``: HTTP 200 whose body is an ``error`` object;
    ``truncated``: HTTP 200 with the JSON cut in half; ``stream_error``: a normal stream
    start, then an error chunk (non-stream requests get ``error_body``); ``hang``: no answer
    until the client gives up; ``unavailable``: the Pareto router skips the model and named
    requests for it get 503. ``times`` is how many requests fail before the model heals
    (None: it never heals); for ``unavailable`` a request counts when it was turned away.
    """

    kind: FaultKind
    status: int = 503
    retry_after: float | None = None
    message: str = "simulated upstream failure (sandbox fault)"
    times: int | None = None

    def __post_init__(self) -> None:
        # A typo in a test's fault kind would otherwise silently become some other failure.
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {sorted(FAULT_KINDS)}")
        if not 400 <= self.status <= 599:
            raise ValueError(
                f"fault status must be an HTTP error status 400..599, not {self.status}"
            )
        if self.times is not None and self.times < 0:
            raise ValueError(f"fault times must be >= 0 or None, not {self.times}")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError(f"fault retry_after must be >= 0, not {self.retry_after}")

    @property
    def transient(self) -> bool:
        """Whether the Pareto router moves on to the next candidate after this failure.

        Rate limits, 5xx and provider errors inside a 200 are per-provider trouble a sibling
        model does not share; 402 (the account) or a 4xx about the request would fail anywhere.
        """
        if self.kind == "error_body":
            return True
        return self.kind == "status" and (self.status >= 500 or self.status == 429)

    @property
    def triggers_fallback(self) -> bool:
        """Whether a request's ``models`` list moves on to its next entry after this failure.

        OpenRouter's docs (Model Fallbacks) say any error can trigger the next model,
        naming context-length errors, moderation, rate limiting and downtime. Two kinds are
        kept out (ADR-007): 401/402 concern the key or the account and would fail on every
        model, and a failure after output has begun (a cut body, a mid-stream error chunk,
        a hang) leaves nothing to fall back from.
        """
        if self.kind == "status":
            return self.status not in _ACCOUNT_STATUSES
        return self.kind in {"error_body", "unavailable"}

    def error(self, provider: str) -> dict[str, Any]:
        """The ``error`` object OpenRouter would send for this failure."""
        return {
            "code": self.status,
            "message": self.message,
            "metadata": {"provider_name": provider},
        }


class FaultBook:
    """The mutable fault state of one sandbox app."""

    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}
        self._used: dict[str, int] = {}
        self._band_outages: set[str] = set()

    def set(self, model: str, fault: Fault) -> None:
        """Give ``model`` this fault (replacing any earlier one) with a fresh ``times`` count."""
        self._faults[model] = fault
        self._used[model] = 0

    def set_band_outage(self, band: str) -> None:
        self._band_outages.add(band)

    def clear(self) -> None:
        self._faults.clear()
        self._used.clear()
        self._band_outages.clear()

    def active(self, model: str) -> Fault | None:
        """The fault ``model`` has right now, without counting a use."""
        fault = self._faults.get(model)
        if fault is None or (fault.times is not None and self._used[model] >= fault.times):
            return None
        return fault

    def take(self, model: str) -> Fault | None:
        """The fault that hits this request to ``model``, counted against ``times``."""
        fault = self.active(model)
        if fault is not None:
            self._used[model] += 1
        return fault

    def is_down(self, model: str, band: str | None) -> bool:
        """True while the model's band is out or the model has an ``unavailable`` fault."""
        if band is not None and band in self._band_outages:
            return True
        fault = self.active(model)
        return fault is not None and fault.kind == "unavailable"

    def turned_away(self, models: Iterable[str]) -> None:
        """Count one request against each of these models' ``unavailable`` faults."""
        for model in set(models):
            fault = self.active(model)
            if fault is not None and fault.kind == "unavailable":
                self._used[model] += 1
