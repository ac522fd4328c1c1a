"""Realistic SessionResults for the audition tests, built directly (no gateway, no sandbox).

A balanced-tier council: named seats plus a Pareto seat, each answering and reviewing, and a
chairman call; flags come from the real duplicate detector so they match what a run records.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from llm_council.council.duplicates import apply_flags, drift_flag, stage1_flags
from llm_council.council.result import (
    CallRecord,
    ChairmanResult,
    RankingEntry,
    ReviewResult,
    SeatResult,
    SessionResult,
    UsageTotals,
)
from llm_council.gateway.router_metadata import parse_router_metadata
from llm_council.registry import Registry, load_registry

PARETO = "openrouter/pareto-code"
MINI = "openai/gpt-5.4-mini"
SONNET = "anthropic/claude-sonnet-4.6"
GROK = "x-ai/grok-4.3"
KIMI = "moonshotai/kimi-k2.6"
OPUS = "anthropic/claude-opus-4.7"
NAMED = (MINI, SONNET, GROK)
START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

_registry: Registry | None = None


def registry() -> Registry:
    """The shipped registry, loaded once per process."""
    global _registry
    if _registry is None:
        _registry = load_registry()
    return _registry


def make_session(
    index: int = 0,
    *,
    seats: int = 4,
    pareto_model: str = MINI,
    drift_to: str | None = None,
    failed_seat: str | None = None,
    tier: str = "balanced",
    session_id: str | None = None,
    created_at: datetime | None = None,
    omit_cost_on: int | None = None,
    routed: bool = False,
    judges: int = 0,
) -> SessionResult:
    """One session of ``seats`` seats (the last one Pareto) with 2 calls per seat + chairman.

    ``pareto_model`` is what the Pareto seat resolves to (the default duplicates s1 exactly);
    ``drift_to`` makes its review call resolve elsewhere; ``failed_seat`` times out that seat;
    ``omit_cost_on`` drops the billed cost of that call (by position) so the store estimates it.
    ``routed``: every answered Pareto call carries OpenRouter-shaped router metadata (see
    ``router_metadata``), with one failed fallback attempt on the answer call.
    Stage 2 is shown as the council shows it: answers in label order, rotated one step per
    reviewer, the reviewer's own answer left out (``order``). ``judges`` adds that many
    independent judges (OPUS, ``judge1``..) after the seats; ``borda`` then counts their
    votes and ``borda_peers`` only the seats'.
    """
    rng = random.Random(index)
    reg = registry()
    created = created_at or START + timedelta(minutes=index)
    requested = [*NAMED[: seats - 1], PARETO]
    resolved = [*NAMED[: seats - 1], pareto_model]
    results: list[SeatResult] = []
    calls: list[CallRecord] = []
    clock = created
    for n, (req, res) in enumerate(zip(requested, resolved, strict=True), start=1):
        sid = f"s{n}"
        failed = sid == failed_seat
        score = 0.5 if req == PARETO else None
        latency = round(rng.uniform(300, 3000), 3)
        call = _call("answer", sid, req, None if failed else res, score, clock, latency, rng)
        calls.append(call)
        results.append(
            SeatResult(
                seat_id=sid,
                requested_model=req,
                min_coding_score=score,
                resolved_model=call.resolved_model,
                status=call.status,
                error=call.error,
                latency_ms=latency,
                answer=None if failed else f"answer {index}/{sid}",
                generation_id=call.generation_id,
                attempts=call.attempts,
                answered_via="router" if req == PARETO and not failed else None,
            )
        )
    apply_flags(results, stage1_flags(results, reg))
    answered = [s for s in results if s.status == "ok"]
    labels = rng.sample(range(len(answered)), len(answered))
    for seat, label in zip(answered, labels, strict=True):
        seat.label = f"Response {chr(ord('A') + label)}"
    reviews = []
    shown = sorted(answered, key=lambda seat: seat.label or "")
    for turn, seat in enumerate(answered):
        stage2 = drift_to if (seat.is_pareto and drift_to) else seat.resolved_model
        clock += timedelta(seconds=1)
        calls.append(
            _call(
                "review",
                seat.seat_id,
                seat.requested_model,
                stage2,
                seat.min_coding_score,
                clock,
                900.0,
                rng,
            )
        )
        if flag := drift_flag(seat, stage2):
            apply_flags([seat], {seat.seat_id: [flag]})
        others = [o.seat_id for o in answered if o.seat_id != seat.seat_id]
        rng.shuffle(others)
        reviews.append(
            ReviewResult(
                reviewer_seat=seat.seat_id,
                resolved_model=stage2,
                ranking=others,
                abstained=False,
                parse="json",
                order=[o.seat_id for o in _rotated(shown, turn) if o is not seat],
            )
        )
    for seat in answered:
        seat.votes = len(answered) - 1
        seat.borda = seat.borda_peers = round(rng.random(), 6)
    for n in range(1, judges + 1):
        # Drawn after every other value, so sessions without judges stay as they were.
        clock += timedelta(seconds=1)
        calls.append(_call("judge", f"judge{n}", OPUS, OPUS, None, clock, 1200.0, rng))
        order = [o.seat_id for o in _rotated(shown, len(answered) + n - 1)]
        ballot = order[::-1]  # this judge prefers the answer it was shown last
        reviews.append(
            ReviewResult(
                reviewer_seat=f"judge{n}",
                resolved_model=OPUS,
                ranking=ballot,
                abstained=False,
                parse="json",
                judge=True,
                requested_model=OPUS,
                order=order,
            )
        )
        for pos, seat_id in enumerate(ballot if len(ballot) > 1 else ()):
            # Borda is the mean of per-ballot scores (n-1-pos)/(n-1): fold this one in.
            seat = next(o for o in answered if o.seat_id == seat_id)
            score = (len(ballot) - 1 - pos) / (len(ballot) - 1)
            seat.borda = round(((seat.borda or 0.0) * seat.votes + score) / (seat.votes + 1), 6)
            seat.votes += 1
    ranking = [
        RankingEntry(seat_id=s.seat_id, borda=s.borda or 0.0, votes=s.votes) for s in answered
    ]
    ranking.sort(key=lambda e: -e.borda)
    clock += timedelta(seconds=2)
    calls.append(_call("chairman", "chairman", OPUS, OPUS, None, clock, 4000.0, rng))
    if routed:
        calls = [_with_router(c, index) for c in calls]
    if omit_cost_on is not None:
        calls[omit_cost_on] = calls[omit_cost_on].model_copy(update={"cost_usd": None})
    for seat in results:
        costs = [c.cost_usd for c in calls if c.seat_id == seat.seat_id and c.cost_usd is not None]
        seat.cost_usd = round(sum(costs), 8) if costs else None
    return SessionResult(
        session_id=session_id or str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        created_at=created,
        tier=tier,
        mode="coding",
        status="partial" if failed_seat else "ok",
        gateway="sandbox",
        prompt=f"Write a Python function that merges two sorted lists. (#{index})",
        seats=results,
        ranking=ranking,
        reviews=reviews,
        chairman=ChairmanResult(requested_model=OPUS, resolved_model=OPUS, status="ok"),
        synthesis=f"Use heapq.merge. (session {index})",
        usage=UsageTotals(
            prompt_tokens=sum(c.prompt_tokens for c in calls),
            completion_tokens=sum(c.completion_tokens for c in calls),
            cost_usd=round(sum(c.cost_usd or 0.0 for c in calls), 8),
        ),
        config_hash="cafe" * 4,
        calls=calls,
    )


def router_metadata(selected: str, index: int = 0, *, failed_first: bool = False) -> dict:
    """An ``openrouter_metadata`` object as OpenRouter documents it (docs: Router Metadata,
    https://openrouter.ai/docs/guides/features/router-metadata): the endpoints the router
    listed with the one it selected, and its attempts (a failed one first when asked).
    """
    others = [m for m in (SONNET, GROK, KIMI, MINI) if m != selected][: 1 + index % 2]
    available = [
        {"model": m, "provider": registry().provider_of(m), "selected": m == selected}
        for m in [*others, selected]
    ]
    attempts = [{"model": selected, "provider": registry().provider_of(selected), "status": 200}]
    if failed_first:
        attempts.insert(0, {"model": others[0], "provider": "Flaky", "status": 503})
    return {
        "requested": PARETO,
        "strategy": "pareto",
        "endpoints": {"available": available, "total": len(available)},
        "attempts": attempts,
        "attempt": len(attempts),
        "summary": f"available={len(available)}, selected={selected}",
        "generation_time": 812,
        "is_byok": False,
        "region": None,
    }


def _with_router(call: CallRecord, index: int) -> CallRecord:
    if call.requested_model != PARETO or call.resolved_model is None:
        return call
    raw = router_metadata(call.resolved_model, index, failed_first=call.stage == "answer")
    return call.model_copy(
        update={
            "provider": registry().provider_of(call.resolved_model),
            "router": parse_router_metadata(raw),
        }
    )


def _rotated(order: list[SeatResult], shift: int) -> list[SeatResult]:
    """``order`` rotated left by ``shift``, as the council rotates it per reviewer."""
    shift %= len(order) or 1
    return [*order[shift:], *order[:shift]]


def _call(
    stage: str,
    seat_id: str,
    requested: str,
    resolved: str | None,
    score: float | None,
    started: datetime,
    latency: float,
    rng: random.Random,
) -> CallRecord:
    if resolved is None:
        return CallRecord(
            stage=stage,  # type: ignore[arg-type]
            seat_id=seat_id,
            requested_model=requested,
            resolved_model=None,
            min_coding_score=score,
            status="timeout",
            error="no answer within 60 s",
            started_at=started,
            latency_ms=latency,
            attempts=2,
        )
    prompt_tokens, completion_tokens = rng.randint(200, 3000), rng.randint(100, 1500)
    cost = registry().estimate_cost(resolved, prompt_tokens, completion_tokens)
    return CallRecord(
        stage=stage,  # type: ignore[arg-type]
        seat_id=seat_id,
        requested_model=requested,
        resolved_model=resolved,
        min_coding_score=score,
        generation_id=f"gen-{rng.getrandbits(48):012x}",
        status="ok",
        started_at=started,
        latency_ms=latency,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=round(cost, 8) if cost is not None else None,
    )


def write_v1_store(url: str, results: list[SessionResult]) -> None:
    """A store exactly as llm-council wrote it at schema version 1: ``calls`` without
    ``provider``/``router_json``, ``seats`` without ``borda_peers``, ``sessions`` without
    the stage 2 figures, no ``router_*`` or ``review*`` tables, version row 1.
    """
    from sqlalchemy import Index, MetaData, Table, UniqueConstraint, create_engine, insert

    from llm_council.audition import schema
    from llm_council.audition.rows import session_rows

    v1 = MetaData()
    tables = {schema.schema_version.name: schema.schema_version.to_metadata(v1)}
    tables["flags"] = schema.flags.to_metadata(v1)
    for name, added in V2_COLUMNS.items():
        table = getattr(schema, name)
        tables[name] = Table(
            name,
            v1,
            *(c._copy() for c in table.columns if c.name not in added),
            *(
                UniqueConstraint(*k.columns.keys(), name=k.name)
                for k in table.constraints
                if isinstance(k, UniqueConstraint)
            ),
            *(
                Index(i.name, *i.columns.keys())
                for i in table.indexes
                if not set(added) & set(i.columns.keys())
            ),
        )
    engine = create_engine(url)
    with engine.begin() as conn:
        v1.create_all(conn)
        conn.execute(insert(tables["schema_version"]).values(version=1, applied_at=START))
        for result in results:
            rows = session_rows(result, registry())
            for name in ("sessions", "seats", "flags", "calls"):
                added = V2_COLUMNS.get(name, ())
                kept = [{k: v for k, v in row.items() if k not in added} for row in rows[name]]
                if kept:
                    conn.execute(insert(tables[name]), kept)
    engine.dispose()


# What schema versions 2 and 3 added to version 1's tables (new tables aside).
V2_COLUMNS = {
    "calls": ("provider", "router_json"),
    "seats": ("borda_peers", "tier", "day"),
    "sessions": ("kendall_w", "kendall_w_chance", "paired_diff", "parent_session_id"),
}
