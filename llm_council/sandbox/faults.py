"""Fault injection for the sandbox: per-model failures and whole-band outages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["status", "error_body", "truncated", "stream_error", "hang", "unavailable"]


@dataclass(frozen=True, slots=True)
class Fault:
    """What a model does instead of answering.

    ``status``: that HTTP status in OpenRouter's error shape (429 may carry Retry-After);
    ``error_body``: HTTP 200 whose body is an ``error`` object; ``truncated``: HTTP 200 with
    the JSON cut in half; ``stream_error``: a mid-stream error chunk (non-stream requests get
    ``error_body``); ``hang``: no answer until the client gives up; ``unavailable``: the
    Pareto router skips the model and named requests get 503. ``times`` limits how many
    requests fail before the model heals (None: always).
    """

    kind: FaultKind
    status: int = 503
    retry_after: float | None = None
    message: str = "simulated failure"
    times: int | None = None


@dataclass
class FaultBook:
    """Mutable fault state of one sandbox app (never module-global)."""

    faults: dict[str, Fault] = field(default_factory=dict)
    used: dict[str, int] = field(default_factory=dict)
    band_outages: set[str] = field(default_factory=set)

    def set(self, model: str, fault: Fault) -> None:
        self.faults[model] = fault
        self.used[model] = 0

    def clear(self) -> None:
        self.faults.clear()
        self.used.clear()
        self.band_outages.clear()

    def peek(self, model: str) -> Fault | None:
        fault = self.faults.get(model)
        if fault is None or (fault.times is not None and self.used.get(model, 0) >= fault.times):
            return None
        return fault

    def take(self, model: str) -> Fault | None:
        """The active fault for ``model``, counting this request against ``times``."""
        fault = self.peek(model)
        if fault is not None:
            self.used[model] = self.used.get(model, 0) + 1
        return fault

    def available(self, model: str, band_of: dict[str, str]) -> bool:
        if band_of.get(model) in self.band_outages:
            return False
        fault = self.peek(model)
        return fault is None or fault.kind != "unavailable"
