"""Checks made before the first paid call of a session: is every model real, does the prompt fit.

An unknown chairman used to be discovered only after stage 1 and 2 were paid for; a prompt
too large for one seat failed that seat after the others were paid. Both are known upfront.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from llm_council.council.plan import SessionPlan
from llm_council.pareto import band_for_score
from llm_council.registry import Registry

# Tokens are estimated at 4 UTF-8 bytes each: code and English run nearer 3-4 characters a
# token and CJK text 1, so this undercounts and never refuses a prompt that would fit.
BYTES_PER_TOKEN = 4


class PreflightError(ValueError):
    """The session cannot run as asked; nothing was called. The message gives the numbers."""


@dataclass(frozen=True, slots=True)
class Finding:
    level: Literal["warning", "refusal"]
    message: str


@dataclass(frozen=True, slots=True)
class PlanChecks:
    """The prompt-independent part of preflight: reusable while the plan and registry are."""

    unknown: tuple[tuple[str, str], ...]  # (seat id or "chairman", model) not in the registry
    windows: tuple[tuple[str, str, int], ...]  # (seat id, model, context window), smallest first


def estimated_tokens(prompt: str) -> int:
    """A lower estimate of the prompt's token count (see BYTES_PER_TOKEN)."""
    return math.ceil(len(prompt.encode("utf-8", "surrogatepass")) / BYTES_PER_TOKEN)


def plan_checks(plan: SessionPlan, registry: Registry) -> PlanChecks:
    """What preflight learns from ``plan`` and ``registry`` alone, for any prompt."""
    named = [(s.seat_id, s.requested_model) for s in plan.seats if not s.is_pareto]
    unknown = tuple(
        (who, model)
        for who, model in [*named, ("chairman", plan.chairman)]
        if not registry.is_known(model)
    )
    return PlanChecks(unknown=unknown, windows=tuple(_windows(plan, registry)))


def preflight(
    plan: SessionPlan,
    registry: Registry,
    prompt: str,
    *,
    listed_models: Iterable[str] | None = None,
    checks: PlanChecks | None = None,
) -> list[Finding]:
    """Findings for ``plan``: unknown model ids (warnings) and a prompt that cannot fit (refusal).

    ``listed_models`` is the gateway's own model list when it was fetched: a model missing
    from the registry but listed there is real, only its prices are unknown. ``checks`` is
    ``plan_checks(plan, registry)`` when the caller kept it from an earlier session.
    """
    if checks is None:
        checks = plan_checks(plan, registry)
    listed = set(listed_models) if listed_models is not None else None
    findings: list[Finding] = []
    for who, model in checks.unknown:
        if listed is None:
            where = "the registry (the gateway's model list was not checked)"
        elif model.split(":", 1)[0] in listed:
            continue
        else:
            where = "the registry nor the gateway's model list"
        findings.append(
            Finding(
                "warning", f"{who}: {model!r} is in neither {where}; its calls will likely fail"
            )
        )
    if not checks.windows:
        return findings
    tokens = estimated_tokens(prompt)
    for seat_id, model, window in checks.windows:
        if tokens > window:
            findings.append(
                Finding(
                    "refusal",
                    f"the prompt is about {tokens:,} tokens (estimated at {BYTES_PER_TOKEN} bytes "
                    f"a token), more than the {window:,}-token context window of {seat_id} "
                    f"({model}); shorten it or choose a tier whose models take it",
                )
            )
            break  # the smallest window is reported first; one refusal says enough
    return findings


def _windows(plan: SessionPlan, registry: Registry) -> list[tuple[str, str, int]]:
    """Each seat's smallest possible context window, smallest first (unknown models skipped).

    A Pareto seat may resolve to any member of its band, so its window is the band's smallest.
    """
    windows: list[tuple[str, str, int]] = []
    for seat in plan.seats:
        if seat.is_pareto:
            members = registry.band_members(band_for_score(registry, seat.min_coding_score))
            if members:
                smallest = min(members, key=lambda m: m.context_length)
                windows.append((seat.seat_id, smallest.id, smallest.context_length))
        elif (entry := registry.get(seat.requested_model)) is not None:
            windows.append((seat.seat_id, seat.requested_model, entry.context_length))
    return sorted(windows, key=lambda w: w[2])
