"""Time ``llm-council report`` over an audition store with 1,000,000 recorded calls (SQLite).

Generates a synthetic store through the real schema: ~100,000 sessions over 30 days across
the five tiers (the default pools, one Pareto seat each resolving inside its band, sometimes
onto a named seat), each with its answer, review and chairman calls, plus retries and
reroutes, up to ``--calls`` calls; each answered Pareto call carries router metadata (its
band's candidates, sometimes a failed attempt first) in ``router_candidates`` /
``router_attempts``; stage 2 is in ``reviews`` / ``review_ranks`` (every answered seat ranks
the others by a noisy view of a hidden quality, a judge in some duplicated sessions) with
Borda with and without judges derived from those ballots. Rows go in with executemany in large transactions. Then
it builds the JSON report in-process a few times and once through the CLI in a fresh
process (imports included), and prints the timings. Target: under 2 s on a 2-core machine.

    python bench/report_scale.py [--calls 1000000] [--db PATH] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llm_council.audition import schema  # noqa: E402
from llm_council.audition.report import build_report  # noqa: E402
from llm_council.audition.report_stats import (  # noqa: E402
    normalised_entropy,
    paired_diff,
    session_agreement,
)
from llm_council.audition.store import AuditionStore  # noqa: E402
from llm_council.audition.store_read import TABLES  # noqa: E402
from llm_council.config import load_config  # noqa: E402
from llm_council.defaults import shipped_file  # noqa: E402
from llm_council.pareto import is_pareto_model, route  # noqa: E402
from llm_council.registry import Registry, load_registry  # noqa: E402

PARETO = "openrouter/pareto-code"
# Real rows carry the prompt and the whole SessionResult (answers, reviews, synthesis): a few
# KB and ~10-20 KB. Tiny placeholders would flatter any query that touches the sessions table.
_FILLER = (
    "def solve(xs):\n    return sorted(set(xs))  # explanation of the approach follows. " * 400
)
CHAIRMAN = "anthropic/claude-opus-4.7"
BATCH_CALLS = 100_000
_TABLES = TABLES  # every table a session writes, in the store's write order
JUDGE_SHARE = 0.3  # of sessions whose Pareto seat duplicated a named seat exactly


Rows = dict[str, list[dict[str, Any]]]
TierSetup = tuple[list[str], float | None, list[str]]  # pool, score, route candidates


def generate(store: AuditionStore, registry: Registry, target_calls: int, seed: int = 7) -> int:
    """Write sessions until ``target_calls`` calls exist; return the number of sessions."""
    config = load_config(shipped_file("unified_config.yaml"), env={})
    rng = random.Random(seed)
    start = datetime(2026, 10, 25, tzinfo=UTC)
    engine = store.engine()
    tiers: dict[str, TierSetup] = {}
    for tier in ("quick", "balanced", "high", "reasoning", "frontier"):
        score = config.tier_score(tier)
        pool = [e.model for e in config.pool(tier).models]
        tiers[tier] = (pool, score, list(route(registry, score).candidates))
    batch: Rows = {name: [] for name in _TABLES}

    def flush() -> None:
        with engine.begin() as conn:
            for name, rows in batch.items():
                if rows:
                    conn.execute(insert(getattr(schema, name)), rows)
                rows.clear()

    calls_total = sessions = 0
    while calls_total < target_calls:
        tier = rng.choice(list(tiers))
        created = start + timedelta(seconds=rng.randrange(30 * 86400))
        rows = one_session(rng, registry, f"{sessions:08x}-bench", tier, tiers[tier], created)
        for name, new in rows.items():
            batch[name] += new
        calls_total += len(rows["calls"])
        sessions += 1
        if len(batch["calls"]) >= BATCH_CALLS:
            flush()
    flush()
    return sessions


def one_session(
    rng: random.Random,
    registry: Registry,
    sid: str,
    tier: str,
    setup: TierSetup,
    created: datetime,
) -> Rows:
    """The rows of one synthetic session, shaped like what the store writes."""
    pool, score, candidates = setup
    named = [m for m in pool if not is_pareto_model(m)]
    # Mostly the band's cheapest member; sometimes a fallback, sometimes a named seat's model.
    roll = rng.random()
    if roll < 0.15 and any(m in candidates for m in named):
        pick = rng.choice([m for m in named if m in candidates])
    elif roll < 0.35:
        pick = rng.choice(candidates)
    else:
        pick = candidates[0]
    resolved = [pick if is_pareto_model(m) else m for m in pool]
    failed = {j for j in range(len(pool)) if rng.random() < 0.02}
    pareto_j = next(j for j, m in enumerate(pool) if is_pareto_model(m))
    drift_to = rng.choice(candidates) if rng.random() < 0.05 else None
    answered = [m for j, m in enumerate(resolved) if j not in failed]
    providers = Counter(registry.provider_of(m) for m in answered)
    flags: list[tuple[str, str, str | None, str | None]] = []
    if pareto_j not in failed:
        for j, m in enumerate(resolved):
            if j == pareto_j or j in failed:
                continue
            kind = None
            if m == pick:
                kind = "exact"
            elif registry.family_of(m) == registry.family_of(pick):
                kind = "family"
            if kind:
                flags.append((f"s{pareto_j + 1}", kind, f"s{j + 1}", m))
                flags.append((f"s{j + 1}", kind, f"s{pareto_j + 1}", pick))
        if drift_to and drift_to != pick:
            flags.append((f"s{pareto_j + 1}", "drift", None, None))
    kinds = {k for seat, k, _w, _m in flags if seat == f"s{pareto_j + 1}"}
    rows: Rows = {name: [] for name in _TABLES}
    judged = "exact" in kinds and rng.random() < JUDGE_SHARE
    bordas, peers, votes, agreement = review_rows(rng, sid, tier, len(pool), failed, judged, rows)
    ranked = [j for j in range(len(pool)) if bordas[j] is not None]
    first = max(ranked, key=lambda j: (bordas[j] or 0.0, -j)) if ranked else None
    rows["sessions"].append(
        {
            "session_id": sid, "created_at": created, "day": created.strftime("%Y-%m-%d"),
            "tier": tier, "mode": "coding", "status": "ok" if len(failed) < len(pool) else "failed",
            "gateway": "sandbox", "prompt": _FILLER[: rng.randrange(200, 2000)],
            "chairman_model": CHAIRMAN,
            "chairman_resolved": CHAIRMAN, "chairman_status": "ok", "chairman_error": None,
            "synthesis_is_fallback": False, "duplicate_policy": "flag", "config_hash": "bench",
            "prompt_tokens": 9000, "completion_tokens": 4000, "cost_usd": 0.02,
            "distinct_models": len(set(answered)),
            "provider_entropy": normalised_entropy(providers.values(), len(answered)),
            "pareto_seats": 1, "pareto_exact": "exact" in kinds,
            "pareto_family": "family" in kinds, "pareto_drift": "drift" in kinds,
            "kendall_w": agreement[0] if agreement else None,
            "kendall_w_chance": agreement[1] if agreement else None,
            "paired_diff": paired_diff(
                (bordas[pareto_j],), (b for j, b in enumerate(bordas) if j != pareto_j)
            ),
            "result_json": json.dumps({"session_id": sid, "answers": _FILLER[: rng.randrange(8000, 20000)]}),
        }
    )  # fmt: skip
    for j, model in enumerate(pool):
        is_pareto, ok = j == pareto_j, j not in failed
        own = [k for seat, k, _w, _m in flags if seat == f"s{j + 1}" and k != "drift"]
        rows["seats"].append(
            {
                "session_id": sid, "seat_id": f"s{j + 1}", "requested_model": model,
                "is_pareto": is_pareto, "variant": None,
                "min_coding_score": score if is_pareto else None,
                "resolved_model": resolved[j] if ok else None,
                "provider": registry.provider_of(resolved[j]) if ok else None,
                "family": registry.family_of(resolved[j]) if ok else None,
                "status": "ok" if ok else "timeout", "error": None if ok else "deadline",
                "latency_ms": 900.0, "cost_usd": 0.003, "label": f"Response {chr(65 + j)}",
                "borda": bordas[j], "votes": votes[j], "borda_peers": peers[j],
                "is_first": j == first,
                "duplicate_kind": own[0] if own else None, "duplicate_of": None,
                "rerouted_from": None, "tier": tier, "day": created.strftime("%Y-%m-%d"),
            }
        )  # fmt: skip
    rows["flags"] = [
        {"session_id": sid, "seat_id": seat, "kind": kind, "with_seat": with_seat,
         "model": model, "stage2_model": drift_to if kind == "drift" else None}
        for seat, kind, with_seat, model in flags
    ]  # fmt: skip

    def add_call(stage: str, j: int | None, model: str, resolved_model: str | None) -> None:
        is_pareto = j == pareto_j
        p_tok, c_tok = rng.randrange(1500, 6000), rng.randrange(300, 1500)
        entry = registry.get(resolved_model or "")
        cost = entry.cost_usd(p_tok, c_tok) if entry else None
        if cost is not None and is_pareto and rng.random() < 0.01:
            cost *= 8  # a rare upstream price change: billed above the band
        seq = len(rows["calls"])
        router_json = None
        if is_pareto and resolved_model:
            # What OpenRouter's openrouter_metadata records: the band's available endpoints
            # and, now and then, a failed attempt before the one that answered.
            failed = (
                candidates[0] if rng.random() < 0.05 and candidates[0] != resolved_model else None
            )
            listed = [*candidates, *([] if resolved_model in candidates else [resolved_model])]
            rows["router_candidates"] += [
                {"session_id": sid, "call_seq": seq, "tier": tier, "is_pareto": True, "model": m,
                 "provider": registry.provider_of(m), "selected": m == resolved_model}
                for m in listed
            ]  # fmt: skip
            rows["router_attempts"] += [
                {"session_id": sid, "call_seq": seq, "tier": tier, "is_pareto": True, "model": m,
                 "provider": registry.provider_of(m), "status": status}
                for m, status in ((failed, 503), (resolved_model, 200)) if m
            ]  # fmt: skip
            router_json = json.dumps({"strategy": "pareto", "candidates": listed})
        rows["calls"].append(
            {
                "session_id": sid, "seq": seq, "tier": tier, "stage": stage,
                "seat_id": "chairman" if j is None else f"s{j + 1}", "requested_model": model,
                "is_pareto": is_pareto, "resolved_model": resolved_model,
                "min_coding_score": score if is_pareto else None, "variant": None,
                "generation_id": f"gen-{sid}-{seq}", "status": "ok" if resolved_model else "timeout",
                "error": None, "started_at": created, "latency_ms": 800.0,
                "prompt_tokens": p_tok, "completion_tokens": c_tok, "cost_usd": cost,
                "cost_estimated": False, "attempts": 1,
                "provider": registry.provider_of(resolved_model) if resolved_model else None,
                "router_json": router_json,
            }
        )  # fmt: skip

    for j, model in enumerate(pool):
        if rng.random() < 0.1:  # a failed first attempt logged as its own call
            add_call("answer", j, model, None)
        add_call("answer", j, model, None if j in failed else resolved[j])
    for j, model in enumerate(pool):
        if j not in failed:
            add_call("review", j, model, drift_to if (j == pareto_j and drift_to) else resolved[j])
    add_call("chairman", None, CHAIRMAN, CHAIRMAN)
    return rows


def review_rows(
    rng: random.Random, sid: str, tier: str, seats: int, failed: set[int], judged: bool, rows: Rows
) -> tuple[list[float | None], list[float | None], list[int], tuple[float, float] | None]:
    """Stage 2 as the council runs it: every answered seat ranks the others (shown in its own
    rotation of the label order), by a noisy view of a hidden quality; a judge ranks all
    when ``judged``. Writes ``reviews`` / ``review_ranks`` rows; returns Borda with judges,
    without them, votes per seat (None / 0 for seats nobody ranked) and the session's
    Kendall's W with its chance level (as the store computes them)."""
    answered = [j for j in range(seats) if j not in failed]
    quality = {j: rng.random() for j in answered}
    shown = rng.sample(answered, len(answered))
    ballots: list[tuple[str, bool, list[int], list[int]]] = []  # reviewer, judge, order, ranking
    for turn, j in enumerate(answered if len(answered) > 1 else ()):
        order = [o for o in shown[turn:] + shown[:turn] if o != j]
        ballot = sorted(order, key=lambda o: -(quality[o] + rng.gauss(0, 0.35)))
        ballots.append((f"s{j + 1}", False, order, ballot))
    if judged and len(answered) > 1:
        order = shown[len(answered) % len(shown) :] + shown[: len(answered) % len(shown)]
        ballots.append(("judge1", True, order, sorted(order, key=lambda o: -quality[o])))

    def borda(with_judges: bool) -> tuple[dict[int, float], dict[int, int]]:
        total: Counter[int] = Counter()
        count: Counter[int] = Counter()
        for _r, judge, _o, ballot in ballots:
            if (judge and not with_judges) or len(ballot) < 2:
                continue
            for pos, o in enumerate(ballot):
                total[o] += (len(ballot) - 1 - pos) / (len(ballot) - 1)
                count[o] += 1
        return {o: round(total[o] / count[o], 6) for o in count}, dict(count)

    full, votes = borda(True)
    peer, _ = borda(False)
    final = sorted(full, key=lambda o: (-full[o], o))
    for seq, (reviewer, judge, order, ballot) in enumerate(ballots):
        common = {"session_id": sid, "reviewer": reviewer, "tier": tier, "judge": judge}
        rows["reviews"].append(
            {**common, "seq": seq, "requested_model": None, "resolved_model": None,
             "status": "ok", "abstained": False, "parse": "json",
             "shown_first": f"s{order[0] + 1}", "top_choice": f"s{ballot[0] + 1}",
             "candidates": len(order), "order_json": json.dumps([f"s{o + 1}" for o in order]),
             "ranking_json": json.dumps([f"s{o + 1}" for o in ballot])}
        )  # fmt: skip
        rows["review_ranks"] += [
            {**common, "position": pos, "seat_id": f"s{o + 1}"} for pos, o in enumerate(ballot)
        ]
    return (
        [full.get(j) for j in range(seats)],
        [peer.get(j) for j in range(seats)],
        [votes.get(j, 0) for j in range(seats)],
        session_agreement(
            ([f"s{o + 1}" for o in ballot] for *_, ballot in ballots),
            [f"s{o + 1}" for o in final],
        ),
    )


def time_cli(db: Path) -> float:
    """Wall time of ``llm-council report --format json`` in a fresh interpreter."""
    env = {**os.environ, "LLM_COUNCIL_AUDITION_URL": f"sqlite:///{db}"}
    env.pop("OPENROUTER_API_KEY", None)
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "llm_council", "report", "--format", "json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"report CLI failed: {done.stderr.decode(errors='replace')[-2000:]}")
    json.loads(done.stdout)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="reuse (or create) this SQLite file")
    parser.add_argument("--repeat", type=int, default=5, help="in-process runs (median shown)")
    parser.add_argument("--cli-repeat", type=int, default=3, help="CLI runs (median shown)")
    args = parser.parse_args()
    db = args.db or Path(tempfile.mkdtemp(prefix="llm-council-bench-")) / "audition.db"
    store = AuditionStore(f"sqlite:///{db}")
    registry = load_registry()
    if store.counts()["calls"] == 0:
        t0 = time.perf_counter()
        generate(store, registry, args.calls)
        print(f"generated {store.counts()} in {time.perf_counter() - t0:.1f}s at {db}")
    counts = store.counts()
    timings = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        report = build_report(store, registry)
        text = json.dumps(report.model_dump(mode="json"))
        timings.append(time.perf_counter() - t0)
    store.close()
    cli = statistics.median(time_cli(db) for _ in range(args.cli_repeat))
    print(
        f"report over {counts['calls']:,} calls / {counts['sessions']:,} sessions "
        f"({counts['seats']:,} seats, {counts['flags']:,} flags, "
        f"{counts.get('router_candidates', 0):,} router candidates, {counts.get('reviews', 0):,} "
        f"reviews, {counts.get('review_ranks', 0):,} review ranks): in-process median "
        f"{statistics.median(timings):.2f}s, best {min(timings):.2f}s of {len(timings)}; CLI in a "
        f"fresh process median {cli:.2f}s of {args.cli_repeat} ({len(text):,} bytes of JSON; target < 2 s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
