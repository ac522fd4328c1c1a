"""Duplicate-seat detection: exact, family, drift, the structlog event, collapse and reroute."""

from __future__ import annotations

from llm_council.council.duplicates import (
    apply_flags,
    collapse_groups,
    drift_flag,
    reroute_candidate,
    stage1_flags,
)
from llm_council.council.result import DuplicateFlag, SeatResult
from tests.audition_data import GROK, KIMI, MINI, PARETO, SONNET, registry
from tests.log_events import capture_events

OPUS_47, OPUS_46 = "anthropic/claude-opus-4.7", "anthropic/claude-opus-4.6"
REG = registry()


def seat(sid: str, requested: str, resolved: str | None, status: str = "ok", **kw) -> SeatResult:
    variant = requested.partition(":")[2] or None
    return SeatResult(
        seat_id=sid,
        requested_model=requested,
        resolved_model=resolved,
        status=status,
        variant=variant,
        **kw,
    )


def flagged(seats: list[SeatResult]) -> dict[str, list[dict]]:
    flags = stage1_flags(seats, REG)
    return {
        sid: [{"kind": f.kind, "with": f.with_seat, "model": f.model} for f in fl]
        for sid, fl in flags.items()
    }


def test_pareto_resolving_onto_a_named_seat_is_exact_on_both_seats():
    seats = [seat("s1", MINI, MINI), seat("s2", SONNET, SONNET), seat("s3", PARETO, MINI)]
    assert flagged(seats) == {
        "s1": [{"kind": "exact", "with": "s3", "model": MINI}],
        "s3": [{"kind": "exact", "with": "s1", "model": MINI}],
    }


def test_two_pareto_seats_and_a_model_listed_twice_are_exact():
    seats = [seat("s1", PARETO, KIMI), seat("s2", f"{PARETO}:nitro", KIMI)]
    assert flagged(seats) == {
        "s1": [{"kind": "exact", "with": "s2", "model": KIMI}],
        "s2": [{"kind": "exact", "with": "s1", "model": KIMI}],
    }
    twice = [seat("s1", SONNET, SONNET), seat("s2", SONNET, SONNET)]
    assert set(flagged(twice)) == {"s1", "s2"}


def test_same_family_different_model_is_family_naming_the_other_model():
    seats = [seat("s1", OPUS_46, OPUS_46), seat("s2", PARETO, OPUS_47), seat("s3", MINI, MINI)]
    assert flagged(seats) == {
        "s1": [{"kind": "family", "with": "s2", "model": OPUS_47}],
        "s2": [{"kind": "family", "with": "s1", "model": OPUS_46}],
    }


def test_unknown_models_fall_back_to_the_id_without_its_version():
    seats = [seat("s1", "acme/coder-2", "acme/coder-2"), seat("s2", PARETO, "acme/coder-3.1")]
    assert [f["kind"] for f in flagged(seats)["s2"]] == ["family"]


def test_distinct_models_and_families_are_not_flagged():
    seats = [seat("s1", MINI, MINI), seat("s2", SONNET, SONNET), seat("s3", PARETO, GROK)]
    assert stage1_flags(seats, REG) == {}


def test_failed_seats_are_never_flagged():
    seats = [
        seat("s1", MINI, MINI),
        seat("s2", PARETO, None, status="timeout", error="no answer"),
        # A failed call can still carry the model it reached; it gave no answer to duplicate.
        seat("s3", MINI, MINI, status="error", error="truncated"),
    ]
    assert stage1_flags(seats, REG) == {}


def test_flags_are_deterministic_and_cover_every_pair():
    seats = [seat("s1", MINI, MINI), seat("s2", PARETO, MINI), seat("s3", f"{PARETO}:nitro", MINI)]
    first = flagged(seats)
    assert first == flagged(list(seats))
    assert [f["with"] for f in first["s1"]] == ["s2", "s3"]
    assert [f["with"] for f in first["s3"]] == ["s1", "s2"]


def test_drift_only_for_a_pareto_seat_whose_review_ran_elsewhere():
    pareto = seat("s3", PARETO, MINI)
    assert drift_flag(pareto, SONNET) == DuplicateFlag(kind="drift", stage2_model=SONNET)
    assert drift_flag(pareto, MINI) is None
    assert drift_flag(pareto, None) is None  # the review failed: nothing to compare
    assert drift_flag(seat("s1", MINI, MINI), SONNET) is None  # named seats cannot drift


def test_apply_flags_summarises_serialises_and_logs_each_flag():
    seats = [
        seat("s1", MINI, MINI),
        seat("s2", OPUS_46, OPUS_46),
        seat("s10", PARETO, MINI),
        seat("s4", PARETO, OPUS_47),
    ]
    with capture_events() as logs:
        apply_flags(seats, stage1_flags(seats, REG))
        apply_flags([seats[2]], {"s10": [DuplicateFlag(kind="drift", stage2_model=SONNET)]})
    s1, s2, s10, s4 = seats
    assert (s1.duplicate_of, s1.duplicate_kind) == (["s10"], "exact")
    assert (s2.duplicate_of, s2.duplicate_kind) == (["s4"], "family")
    assert (s10.duplicate_of, s10.duplicate_kind) == (["s1"], "exact")  # drift kept the summary
    assert (s4.duplicate_of, s4.duplicate_kind) == (["s2"], "family")
    assert [f.model_dump() for f in s10.flags] == [
        {"kind": "exact", "with": "s1"},
        {"kind": "drift", "stage2_model": SONNET},
    ]
    assert s10.model_dump(mode="json")["flags"][0] == {"kind": "exact", "with": "s1"}
    events = [e for e in logs if e["event"] == "council.duplicate_seat"]
    assert len(events) == 5 and all(e["log_level"] == "info" for e in events)
    # Seats in order (s1, s2, s10, s4), then the drift applied afterwards.
    assert [(e["seat_id"], e["kind"], e["with"]) for e in events] == [
        ("s1", "exact", "s10"),
        ("s2", "family", "s4"),
        ("s10", "exact", "s1"),
        ("s4", "family", "s2"),
        ("s10", "drift", None),
    ]
    assert events[2]["model"] == MINI and events[2]["requested_model"] == PARETO
    assert events[2]["resolved_model"] == MINI
    drift = events[-1]
    assert drift["kind"] == "drift" and drift["stage2_model"] == SONNET and drift["with"] is None


def test_a_seat_in_two_pairs_is_a_duplicate_of_both_sorted_naturally():
    seats = [seat("s2", MINI, MINI), seat("s10", MINI, MINI), seat("s3", PARETO, MINI)]
    apply_flags(seats, stage1_flags(seats, REG))
    assert seats[2].duplicate_of == ["s2", "s10"]


def test_collapse_groups_are_exact_components_without_singletons():
    seats = [
        seat("s1", MINI, MINI),
        seat("s2", SONNET, SONNET),
        seat("s3", PARETO, MINI),
        seat("s4", f"{PARETO}:nitro", MINI),
        seat("s5", SONNET, SONNET),
        seat("s6", GROK, GROK),
        seat("s7", OPUS_46, OPUS_46),
        seat("s8", PARETO, OPUS_47),  # family only: not collapsed
    ]
    apply_flags(seats, stage1_flags(seats, REG))
    assert collapse_groups(seats) == [["s1", "s3", "s4"], ["s2", "s5"]]
    assert collapse_groups([seat("s1", MINI, MINI)]) == []


def test_reroute_picks_the_next_unseated_band_member_in_router_order():
    pareto = seat("s3", PARETO, MINI)
    # Medium band by blended price: gpt-5.4-mini, kimi-k2.6, grok-4.3, claude-sonnet-4.6.
    assert reroute_candidate(pareto, {MINI, SONNET}, REG, 0.5) == KIMI
    assert reroute_candidate(pareto, {MINI, SONNET, KIMI}, REG, 0.5) == GROK
    assert reroute_candidate(pareto, {MINI, SONNET, KIMI, GROK}, REG, 0.5) is None
    # An omitted score is the high band; cheapest there is deepseek-v4-pro.
    assert reroute_candidate(pareto, {OPUS_47}, REG, None) == "deepseek/deepseek-v4-pro"


def test_reroute_honours_nitro_and_ignores_named_seats():
    nitro = seat("s3", f"{PARETO}:nitro", GROK)
    assert nitro.variant == "nitro"
    # ``:nitro`` orders the band by throughput: grok-4.3 (210), gpt-5.4-mini (180), ...
    assert reroute_candidate(nitro, {GROK}, REG, 0.5) == MINI
    assert reroute_candidate(seat("s1", MINI, MINI), {MINI}, REG, 0.5) is None
