"""Duplicate-seat detection: exact, family and drift flags; collapse and reroute helpers."""

from __future__ import annotations

from collections.abc import Sequence

from llm_council.council.result import DuplicateFlag, FlagKind, SeatResult
from llm_council.log import get_logger
from llm_council.pareto import band_for_score, rank_band
from llm_council.registry import Registry

_log = get_logger("llm_council.audition")


def stage1_flags(seats: Sequence[SeatResult], registry: Registry) -> dict[str, list[DuplicateFlag]]:
    """Flag every pair of answered seats that resolved to the same model or the same family.

    Both seats of a pair get a flag naming the other. Failed seats are never flagged.
    """
    answered = [(s.seat_id, m) for s in seats if s.status == "ok" and (m := s.resolved_model)]
    flags: dict[str, list[DuplicateFlag]] = {}
    for i, (a, a_model) in enumerate(answered):
        for b, b_model in answered[i + 1 :]:
            kind: FlagKind
            if a_model == b_model:
                kind = "exact"
            elif registry.family_of(a_model) == registry.family_of(b_model):
                kind = "family"
            else:
                continue
            flags.setdefault(a, []).append(DuplicateFlag(kind=kind, with_seat=b, model=b_model))
            flags.setdefault(b, []).append(DuplicateFlag(kind=kind, with_seat=a, model=a_model))
    return flags


def drift_flag(seat: SeatResult, stage2_resolved_model: str | None) -> DuplicateFlag | None:
    """A Pareto seat whose review call resolved to another model than its stage-1 answer."""
    if not seat.is_pareto or not stage2_resolved_model or not seat.resolved_model:
        return None
    if stage2_resolved_model == seat.resolved_model:
        return None
    return DuplicateFlag(kind="drift", stage2_model=stage2_resolved_model)


def apply_flags(seats: Sequence[SeatResult], flags: dict[str, list[DuplicateFlag]]) -> None:
    """Attach flags to their seats, summarise them in duplicate_of/kind and log each one.

    ``duplicate_of`` and ``duplicate_kind`` are recomputed from all of a seat's flags, so
    applying a later drift flag keeps the stage-1 summary.
    """
    for seat in seats:
        new = flags.get(seat.seat_id, [])
        if not new:
            continue
        seat.flags.extend(new)
        others = {f.with_seat for f in seat.flags if f.kind != "drift" and f.with_seat}
        seat.duplicate_of = sorted(others, key=seat_sort_key)
        kinds = {f.kind for f in seat.flags}
        seat.duplicate_kind = (
            "exact" if "exact" in kinds else "family" if "family" in kinds else None
        )
        for flag in new:
            # Info, not warning: the flags are part of the result every interface shows.
            _log.info(
                "council.duplicate_seat",
                seat_id=seat.seat_id,
                kind=flag.kind,
                # "with" is a keyword, hence the mapping; the key matches the JSON contract.
                **{"with": flag.with_seat},
                model=flag.model,
                stage2_model=flag.stage2_model,
                requested_model=seat.requested_model,
                resolved_model=seat.resolved_model,
            )


def collapse_groups(seats: Sequence[SeatResult]) -> list[list[str]]:
    """Groups of seats joined by exact flags (connected components), in seat order."""
    parent: dict[str, str] = {s.seat_id: s.seat_id for s in seats}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for seat in seats:
        for flag in seat.flags:
            if flag.kind == "exact" and flag.with_seat in parent:
                parent[find(seat.seat_id)] = find(flag.with_seat)
    groups: dict[str, list[str]] = {}
    for seat in seats:
        groups.setdefault(find(seat.seat_id), []).append(seat.seat_id)
    found = [sorted(g, key=seat_sort_key) for g in groups.values() if len(g) > 1]
    return sorted(found, key=lambda g: seat_sort_key(g[0]))


def reroute_candidate(
    seat: SeatResult, seated_models: set[str], registry: Registry, score: float | None
) -> str | None:
    """The first model of the seat's band, in the router's order, that no seat holds yet.

    ``score`` is the seat's effective min_coding_score (None = omitted = high band); a
    ``:nitro`` seat orders the band by throughput, as the router would. None for a named
    seat, or when every band member is already seated.
    """
    if not seat.is_pareto:
        return None
    band = band_for_score(registry, score)
    for entry in rank_band(registry, band, seat.variant):
        if entry.id not in seated_models:
            return entry.id
    return None


def seat_sort_key(seat_id: str) -> tuple[int, str]:
    """Order seat ids naturally (s2 before s10); anything else after them, by name."""
    digits = seat_id.lstrip("s")
    return (int(digits), seat_id) if digits.isdigit() else (1 << 30, seat_id)
