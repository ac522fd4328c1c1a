"""Which concrete models a sandbox request may be served by, in the order they are tried."""

from __future__ import annotations

from typing import Any

from llm_council.pareto import PARETO_PLUGIN_ID, parse_pareto_model, route
from llm_council.registry import Registry
from llm_council.sandbox.faults import FaultBook


class RouteError(Exception):
    """The request cannot be routed; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SandboxRouter:
    """Applies the Pareto rules (``llm_council.pareto``) with the sandbox's availability."""

    def __init__(self, registry: Registry, faults: FaultBook) -> None:
        self._registry = registry
        self._faults = faults
        self._band_of = {m: b for b, ms in registry.pareto.shortlist.items() for m in ms}
        self._sticky: dict[str, str] = {}

    def is_pareto(self, model: str) -> bool:
        return parse_pareto_model(model) is not None

    def candidates(self, body: dict[str, Any]) -> list[str]:
        """The primary first, then up to two same-band fallbacks (one model for a named request)."""
        model = body["model"]
        ref = parse_pareto_model(model)
        if ref is None:
            if self._registry.get(model) is None:
                raise RouteError(400, f"{model} is not a valid model ID")
            return [model]
        score = _pareto_score(body.get("plugins"))
        available = self._available
        pinned = body.get("models")
        if pinned is not None:
            if not isinstance(pinned, list) or not all(isinstance(m, str) for m in pinned):
                raise RouteError(400, "'models' must be a list of model ids")
            unknown = [m for m in pinned if self._registry.get(m) is None]
            if unknown:
                raise RouteError(400, f"{unknown[0]} is not a valid model ID")
            ready = [m for m in pinned if available(m)]
            if not ready:
                raise RouteError(503, "none of the pinned models is available")
            return ready[:3]
        chosen = route(self._registry, score, ref.variant, available)
        if not chosen.candidates:
            raise RouteError(503, "no coding model is available in any band")
        candidates = list(chosen.candidates)
        sticky = self._sticky.get(str(body.get("session_id")))
        if sticky and self._band_of.get(sticky) == chosen.band and available(sticky):
            candidates = [sticky, *[c for c in candidates if c != sticky]][:3]
        return candidates

    def remember(self, body: dict[str, Any], served_by: str) -> None:
        """Keep a Pareto session on the model that served it (sticky routing)."""
        session_id = body.get("session_id")
        if session_id and self.is_pareto(body["model"]) and body.get("models") is None:
            self._sticky.setdefault(str(session_id), served_by)

    def _available(self, model: str) -> bool:
        return self._faults.available(model, self._band_of)


def _pareto_score(plugins: Any) -> float | None:
    if plugins is None:
        return None
    if not isinstance(plugins, list):
        raise RouteError(400, "'plugins' must be a list")
    for plugin in plugins:
        if isinstance(plugin, dict) and plugin.get("id") == PARETO_PLUGIN_ID:
            score = plugin.get("min_coding_score")
            if score is None:
                return None
            if isinstance(score, bool) or not isinstance(score, int | float):
                raise RouteError(400, f"min_coding_score must be a number, got {score!r}")
            if not 0 <= score <= 1:
                raise RouteError(400, f"min_coding_score must be between 0 and 1, got {score}")
            return float(score)
    return None
