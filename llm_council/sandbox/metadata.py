"""Router metadata: the ``openrouter_metadata`` object the sandbox adds to a successful answer.

Per OpenRouter's docs (Router Metadata): a per-request opt-in through the header
``X-OpenRouter-Metadata: enabled`` (older spelling ``X-OpenRouter-Experimental-Metadata``),
the value matched case-insensitively and anything else meaning disabled; only successful
responses carry it, and a stream carries it on its final chunk before ``data: [DONE]``.
Field names and types follow the SDK's ``OpenRouterMetadata`` / ``RouterAttempt`` /
``EndpointsMetadata`` models; what the values are in the sandbox is ADR-007's choice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from llm_council.sandbox.router import Plan

OPT_IN_HEADERS = (b"x-openrouter-metadata", b"x-openrouter-experimental-metadata")
SUCCESS_STATUS = 200


def requested(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """True when either opt-in header says ``enabled`` (any case; other values disable)."""
    return any(
        name.lower() in OPT_IN_HEADERS and value.decode("latin-1").strip().lower() == "enabled"
        for name, value in headers
    )


@dataclass(frozen=True, slots=True)
class Attempt:
    """One upstream call the router made: the model, its provider, the HTTP status it gave."""

    model: str
    provider: str
    status: int


def build(
    plan: Plan,
    attempts: list[Attempt],
    provider_of: Callable[[str], str],
    generation_ms: float,
) -> dict[str, Any]:
    """The ``openrouter_metadata`` object for a request that ``attempts[-1]`` answered.

    ``endpoints.available`` lists, in the order they were lined up, the primary's candidates
    and then every ``models`` fallback the router reached; ``selected`` marks the one that
    answered. ``attempts`` holds every dispatched call, failed ones first, the answer last.
    """
    served = attempts[-1]
    lined_up = list(plan.candidates)
    lined_up += [a.model for a in attempts if a.model in plan.fallbacks]
    available = [
        {"model": m, "provider": provider_of(m), "selected": m == served.model}
        for m in dict.fromkeys(lined_up)
    ]
    failed = len(attempts) - 1
    summary = f"available={len(available)}, selected={served.provider}"
    if plan.band is not None:
        summary += f", tier={plan.band}"
    if failed:
        summary += f", failed_attempts={failed}"
    return {
        "requested": plan.requested,
        "strategy": plan.strategy,
        "endpoints": {
            "available": available,
            "total": plan.considered + len(plan.fallbacks),
        },
        "attempts": [
            {"model": a.model, "provider": a.provider, "status": a.status} for a in attempts
        ],
        "attempt": len(attempts),
        "summary": summary,
        "generation_time": round(generation_ms),
        "is_byok": False,
        "region": None,
    }
