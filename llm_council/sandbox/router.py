"""Which concrete models may serve a sandbox request, in the order they are tried.

The band and in-band order come from ``llm_council.pareto`` (the module ``check`` predicts
with); this module adds what only a running router has: which models are up right now,
sticky sessions, the ``pareto-router`` plugin's fields, and the request's ``models`` list.

``models`` is OpenRouter's *fallback* list (docs: "Model Fallbacks"): the request is served
by ``model`` (for the Pareto Router: its own cascade of candidates) and only when that
fails does OpenRouter try each ``models`` entry in order. It never pins a model: to get a
given model, name it in ``model``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from llm_council.pareto import PARETO_PLUGIN_ID, parse_pareto_model, route
from llm_council.registry import Band, Registry
from llm_council.sandbox.faults import FaultBook
from llm_council.sandbox.sticky import StickyTable

# OpenRouter's RoutingStrategy values the sandbox uses (docs: Router Metadata / SDK enum).
Strategy = Literal["direct", "fallback", "pareto"]


class RouteError(Exception):
    """The request cannot be routed; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Plan:
    """How one request is served.

    ``candidates`` are the primary's models in order, only those available now (Pareto:
    the chosen band's primary plus up to two same-band siblings; a named model: itself).
    ``fallbacks`` are the request's ``models`` entries, tried in order only after the
    primary failed; their availability is checked when they are reached. ``unavailable``
    says why the primary has no candidate at all (then only ``fallbacks`` can answer).
    """

    requested: str
    strategy: Strategy
    candidates: tuple[str, ...]
    fallbacks: tuple[str, ...] = ()
    pareto: bool = False
    band: Band | None = None  # the band the Pareto router chose (None: a named model)
    considered: int = 1  # endpoints the router looked at for the primary (metadata ``total``)
    unavailable: str | None = None


@dataclass(frozen=True, slots=True)
class ParetoPlugin:
    """The ``pareto-router`` plugin entry as the router reads it."""

    enabled: bool = True
    min_coding_score: float | None = None


class SandboxRouter:
    """Routes requests with the Pareto rules and the sandbox's current availability."""

    def __init__(self, registry: Registry, faults: FaultBook, sticky: StickyTable) -> None:
        self._registry = registry
        self._faults = faults
        self._sticky = sticky
        self._band_of: dict[str, Band] = {
            model: band for band, members in registry.pareto.shortlist.items() for model in members
        }

    def plan(self, body: dict[str, Any]) -> Plan:
        """The plan for a request that passed ``wire.problem``; raises RouteError (400)."""
        # Schema checks first: OpenRouter validates the plugin and `models` whatever the model.
        plugin = pareto_plugin(body.get("plugins"))
        fallbacks = self._fallbacks(body.get("models"))
        model = body.get("model")
        if not isinstance(model, str):  # `models` alone: its first entry is the primary
            model, fallbacks = fallbacks[0], fallbacks[1:]
        skipped: set[str] = set()

        def available(candidate: str) -> bool:
            down = self.is_down(candidate)
            if down:
                skipped.add(candidate)
            return not down

        try:
            if parse_pareto_model(model) is None:
                return self._named(model, fallbacks, available)
            return self._pareto(body, model, plugin, fallbacks, available)
        finally:
            # An ``unavailable`` fault with ``times`` heals after turning that many requests away.
            self._faults.turned_away(skipped)

    def is_down(self, model: str) -> bool:
        """True while ``model`` has an ``unavailable`` fault or its band is out."""
        return self._faults.is_down(model, self._band_of.get(model))

    def fallback_ready(self, model: str) -> bool:
        """Whether a ``models`` entry can be tried now (a skip counts against its fault)."""
        if self.is_down(model):
            self._faults.turned_away([model])
            return False
        return True

    def remember(self, body: dict[str, Any], plan: Plan, served_by: str) -> None:
        """Keep a Pareto session on the model that served it last (stickiness moves with it).

        Only the router's own pick counts: an answer from a ``models`` fallback says nothing
        about where the router should send the session next.
        """
        key = sticky_key(body)
        if plan.pareto and key is not None and served_by in plan.candidates:
            self._sticky.set(key, served_by)

    def _named(
        self, model: str, fallbacks: tuple[str, ...], available: Callable[[str], bool]
    ) -> Plan:
        entry = self._registry.get(model)
        if entry is None:
            # OpenRouter refuses unknown ids rather than guessing a price; so do we.
            raise RouteError(400, f"{model} is not a valid model ID")
        fallbacks = tuple(m for m in fallbacks if m != entry.id)
        strategy: Strategy = "fallback" if fallbacks else "direct"
        if not available(entry.id):
            return Plan(
                model, strategy, (), fallbacks, unavailable=f"no available provider for {model}"
            )
        return Plan(model, strategy, (entry.id,), fallbacks)

    def _pareto(
        self,
        body: dict[str, Any],
        model: str,
        plugin: ParetoPlugin,
        fallbacks: tuple[str, ...],
        available: Callable[[str], bool],
    ) -> Plan:
        ref = parse_pareto_model(model)
        assert ref is not None
        # `enabled: false` switches the plugin off: the router's default tier (high) applies.
        score = plugin.min_coding_score if plugin.enabled else None
        chosen = route(self._registry, score, ref.variant, available)
        if not chosen.candidates:
            return Plan(
                model,
                "pareto",
                (),
                fallbacks,
                pareto=True,
                considered=len(self._registry.pareto.shortlist[chosen.requested_band]),
                unavailable="no available provider: every Pareto band is down",
            )
        candidates = list(chosen.candidates)
        key = sticky_key(body)
        sticky = self._sticky.get(key) if key is not None else None
        # Stay on the session's model only inside the same band: a session whose score now
        # maps elsewhere, or whose model is down, routes afresh (and re-sticks to the result).
        if sticky and self._band_of.get(sticky) == chosen.band and available(sticky):
            candidates = [sticky, *(c for c in candidates if c != sticky)][: len(candidates)]
        return Plan(
            model,
            "pareto",
            tuple(candidates),
            fallbacks,
            pareto=True,
            band=chosen.band,
            considered=len(self._registry.pareto.shortlist[chosen.band]),
        )

    def _fallbacks(self, models: Any) -> tuple[str, ...]:
        if models is None:
            return ()
        if (
            not isinstance(models, list)
            or not models
            or not all(isinstance(m, str) for m in models)
        ):
            raise RouteError(400, "'models' must be a non-empty list of model ids")
        entries = []
        for model in models:
            if parse_pareto_model(model) is not None:
                # CHOICE (ADR-007): fallbacks are concrete models; a router inside the list
                # would need a second cascade the sandbox does not simulate.
                raise RouteError(
                    400, f"{model} cannot be a 'models' fallback in the sandbox; list concrete ids"
                )
            entry = self._registry.get(model)
            if entry is None:
                raise RouteError(400, f"{model} is not a valid model ID (in 'models')")
            entries.append(entry.id)
        return tuple(dict.fromkeys(entries))


def sticky_key(body: dict[str, Any]) -> tuple[str, str | None] | None:
    """``(session_id, variant)`` for a Pareto request with a session, else None."""
    session_id = body.get("session_id")
    model = body.get("model")
    ref = parse_pareto_model(model) if isinstance(model, str) else None
    if not isinstance(session_id, str) or not session_id or ref is None:
        return None
    return session_id, ref.variant


def pareto_plugin(plugins: Any) -> ParetoPlugin:
    """The ``pareto-router`` plugin's fields, validated; defaults when the plugin is absent.

    Unknown fields are ignored. ``min_coding_score`` must be a number in [0, 1] and
    ``enabled`` a boolean, else RouteError(400) — checked even on a request the plugin does
    not apply to, as schema validation would (CHOICE, ADR-007).
    """
    for plugin in plugins or ():
        if not isinstance(plugin, dict) or plugin.get("id") != PARETO_PLUGIN_ID:
            continue
        enabled = plugin.get("enabled", True)
        if not isinstance(enabled, bool):
            raise RouteError(
                400, f"pareto-router 'enabled' must be a boolean, got {_shown(enabled)}"
            )
        score = plugin.get("min_coding_score")
        if score is None:
            return ParetoPlugin(enabled=enabled)
        # bool is an int subclass in Python, but ``true`` is not a score in JSON.
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise RouteError(
                400, f"min_coding_score must be a number in [0, 1], got {_shown(score)}"
            )
        if not 0 <= score <= 1:  # also rejects NaN
            raise RouteError(400, f"min_coding_score must be a number in [0, 1], got {score}")
        return ParetoPlugin(enabled=enabled, min_coding_score=float(score))
    return ParetoPlugin()


def _shown(value: Any) -> str:
    """A client value echoed in an error message, cut short (it may be arbitrarily large)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
