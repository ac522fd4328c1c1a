"""A session's duplicate flags in plain words, with what the duplicate policy did about them.

The terminal (``render``) and Markdown (``markdown``) views print the same sentences, e.g.
"s3 (pareto@0.5) answered as anthropic/claude-sonnet-4.6, the same model as s1: an exact
duplicate. Policy flag: both answers kept and reviewed; use --duplicate-policy reroute to
ask another model instead." The text is raw (model ids as recorded): each view escapes it.
"""

from __future__ import annotations

from llm_council.council.duplicates import seat_sort_key
from llm_council.council.result import SeatResult, SessionResult
from llm_council.layout import seat_name

REROUTE_HINT = "use --duplicate-policy reroute to ask another model instead"


def flag_sentences(result: SessionResult) -> list[str]:
    """One sentence per duplicate (told once per pair, from the Pareto seat's side), per
    reroute, per drift and per seat whose model was not named."""
    seats = {s.seat_id: s for s in result.seats}
    out = [_rerouted(seat, result) for seat in result.seats if seat.rerouted_from]
    told: set[frozenset[str]] = set()
    pairs: dict[str, dict[str, list[str]]] = {}  # subject seat -> kind -> the other seats
    for seat in result.seats:
        for flag in seat.flags:
            other = seats.get(flag.with_seat or "")
            if flag.kind not in ("exact", "family") or other is None:
                continue
            pair = frozenset((seat.seat_id, other.seat_id))
            if pair in told:
                continue
            told.add(pair)
            subject, twin = _subject(seat, other)
            pairs.setdefault(subject.seat_id, {}).setdefault(flag.kind, []).append(twin.seat_id)
    for seat_id in sorted(pairs, key=seat_sort_key):
        seat = seats[seat_id]
        for kind, others in pairs[seat_id].items():
            others.sort(key=seat_sort_key)
            if kind == "exact":
                out.append(
                    f"{_who(seat)} answered as {seat.resolved_model}, the same model as "
                    f"{_and(others)}: an exact duplicate. {_policy(result, seat, others)}"
                )
            else:
                named = _and([f"{o} ({seats[o].resolved_model})" for o in others])
                out.append(
                    f"{_who(seat)} answered as {seat.resolved_model}, the same family as "
                    f"{named}: a family duplicate. Family duplicates are only flagged, "
                    "whatever the policy: every answer kept and reviewed."
                )
    for seat in result.seats:
        for flag in seat.flags:
            if flag.kind == "drift":
                out.append(
                    f"{_who(seat)} answered as {seat.resolved_model or 'an unnamed model'} but "
                    f"its review ran on {flag.stage2_model}: drift (the router picked again "
                    "for stage 2)."
                )
            elif flag.kind == "unnamed":
                out.append(
                    f"{_who(seat)}: the response did not name the model that answered; the "
                    "answer is kept, its model unknown."
                )
    return out


def _who(seat: SeatResult) -> str:
    return f"{seat.seat_id} ({seat_name(seat.requested_model, seat.min_coding_score)})"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _subject(a: SeatResult, b: SeatResult) -> tuple[SeatResult, SeatResult]:
    """Which seat of a duplicate pair the sentence is about: the Pareto seat (the router chose
    the seated model), else the later seat."""
    if a.is_pareto != b.is_pareto:
        return (a, b) if a.is_pareto else (b, a)
    return (a, b) if seat_sort_key(a.seat_id) > seat_sort_key(b.seat_id) else (b, a)


def _policy(result: SessionResult, seat: SeatResult, others: list[str]) -> str:
    kept = "both answers" if len(others) == 1 else "every answer"
    if result.duplicate_policy == "collapse":
        group = _and(sorted([seat.seat_id, *others], key=seat_sort_key))
        head = f"Policy collapse: {group} count as one voice in the review (one label, one score)"
    elif result.duplicate_policy == "reroute":
        why = (
            "no other model could be asked (see the notes)"
            if seat.is_pareto
            else "only a Pareto seat is ever rerouted"
        )
        return f"Policy reroute: {why}, so {kept} were kept and reviewed."
    else:
        head = f"Policy flag: {kept} kept and reviewed"
    if seat.is_pareto:
        return f"{head}; {REROUTE_HINT}."
    return f"{head}; seat different models in the pool to avoid it."


def _rerouted(seat: SeatResult, result: SessionResult) -> str:
    twins = [
        o.seat_id
        for o in result.seats
        if o is not seat and o.status == "ok" and o.resolved_model == seat.rerouted_from
    ]
    same = f", the same model as {_and(twins)}" if twins else ""
    return (
        f"{_who(seat)} first answered as {seat.rerouted_from}{same}: an exact duplicate. "
        f"Policy reroute: {seat.resolved_model} was asked directly instead; its answer is "
        "the one kept and reviewed."
    )
