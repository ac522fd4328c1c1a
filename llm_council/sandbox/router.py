"""Which concrete models may serve a sandbox request, in the order they are tried.

The band and in-band order come from ``llm_council.pareto`` (the module ``check`` predicts
with); this module adds what only a running router has: which models are up right now,
sticky sessions, and ``models`` pinning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llm_council.pareto import MAX_FALLBACKS, PARETO_PLUGIN_ID, parse_pareto_model, route
from llm_council.registry import Band, Registry
from llm_council.sandbox.faults import FaultBook


class RouteError(Exception):
    """The request cannot be routed; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Plan:
    """The models to try in order; a transient failure of one moves on to the next."""

    candidates: tuple[str, ...]
    pareto: bool
    band: Band | None = None  # the band the Pareto router chose (None: named or pinned)


class SandboxRouter:
    """Routes requests with the Pareto rules and the sandbox's current availability."""

    def __init__(self, registry: Registry, faults: FaultBook) -> None:
        self._registry = registry
        self._faults = faults
        self._band_of: dict[str, Band] = {
            model: band for band, members in registry.pareto.shortlist.items() for model in members
        }
        # (session_id, variant) -> the model its first Pareto request resolved to.
        self._sticky: dict[tuple[str, str | None], str] = {}

    def plan(self, body: dict[str, Any]) -> Plan:
        """The candidates for a validated request body; raises RouteError (400 or 503)."""
        skipped: set[str] = set()

        def available(model: str) -> bool:
            down = self._faults.is_down(model, self._band_of.get(model))
            if down:
                skipped.add(model)
            return not down

        try:
            if parse_pareto_model(body["model"]) is None:
                return self._named(body, available)
            return self._pareto(body, available)
        finally:
            # An ``unavailable`` fault with ``times`` heals after turning that many requests away.
            self._faults.turned_away(skipped)

    def remember(self, body: dict[str, Any], plan: Plan, served_by: str) -> None:
        """Keep a Pareto session on the model that first served it (sticky routing)."""
        key = _sticky_key(body)
        if plan.pareto and key is not None and body.get("models") is None:
            self._sticky.setdefault(key, served_by)

    def _named(self, body: dict[str, Any], available: Callable[[str], bool]) -> Plan:
        model = body["model"]
        entry = self._registry.get(model)
        if entry is None:
            # OpenRouter refuses unknown ids rather than guessing a price; so do we.
            raise RouteError(400, f"{model} is not a valid model ID")
        # ``models`` on a named request is OpenRouter's fallback list after the primary.
        chain = list(dict.fromkeys([entry.id, *self._pinned(body)]))
        ready = tuple(m for m in chain if available(m))
        if not ready:
            raise RouteError(503, f"no available provider for {model}")
        return Plan(ready, pareto=False)

    def _pareto(self, body: dict[str, Any], available: Callable[[str], bool]) -> Plan:
        ref = parse_pareto_model(body["model"])
        assert ref is not None
        score = _pareto_score(body.get("plugins"))
        pinned = self._pinned(body)
        if pinned:
            ready = [m for m in pinned if available(m)]
            if not ready:
                raise RouteError(503, f"no available provider among {', '.join(pinned)}")
            return Plan(tuple(ready[: 1 + MAX_FALLBACKS]), pareto=True)
        chosen = route(self._registry, score, ref.variant, available)
        if not chosen.candidates:
            raise RouteError(503, "no available provider: every Pareto band is down")
        candidates = list(chosen.candidates)
        key = _sticky_key(body)
        sticky = self._sticky.get(key) if key is not None else None
        # Stay on the session's model only inside the same band: a session whose score now
        # maps elsewhere, or whose model's band is out, routes afresh.
        if sticky and self._band_of.get(sticky) == chosen.band and available(sticky):
            candidates = [sticky, *(c for c in candidates if c != sticky)][: 1 + MAX_FALLBACKS]
        return Plan(tuple(candidates), pareto=True, band=chosen.band)

    def _pinned(self, body: dict[str, Any]) -> list[str]:
        pinned = body.get("models")
        if pinned is None:
            return []
        if (
            not isinstance(pinned, list)
            or not pinned
            or not all(isinstance(m, str) for m in pinned)
        ):
            raise RouteError(400, "'models' must be a non-empty list of model ids")
        entries = []
        for model in pinned:
            entry = self._registry.get(model)
            if entry is None:
                raise RouteError(400, f"{model} is not a valid model ID (in 'models')")
            entries.append(entry.id)
        return list(dict.fromkeys(entries))


def _sticky_key(body: dict[str, Any]) -> tuple[str, str | None] | None:
    session_id = body.get("session_id")
    ref = parse_pareto_model(body["model"])
    if not isinstance(session_id, str) or not session_id or ref is None:
        return None
    return session_id, ref.variant


def _pareto_score(plugins: Any) -> float | None:
    """The pareto-router plugin's ``min_coding_score``; None when the plugin or score is absent."""
    for plugin in plugins or ():
        if not isinstance(plugin, dict) or plugin.get("id") != PARETO_PLUGIN_ID:
            continue
        score = plugin.get("min_coding_score")
        if score is None:
            return None
        # bool is an int subclass in Python, but ``true`` is not a score in JSON.
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise RouteError(400, f"min_coding_score must be a number in [0, 1], got {score!r}")
        if not 0 <= score <= 1:  # also rejects NaN
            raise RouteError(400, f"min_coding_score must be a number in [0, 1], got {score}")
        return float(score)
    return None
