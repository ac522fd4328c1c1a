"""Time ``llm-council report`` over an audition store with 1,000,000 recorded calls (SQLite).

Generates a synthetic store through the real schema (100,000 sessions over 30 days, 3-4
seats each with one Pareto seat, 10 calls per session), then builds the JSON report a few
times and prints the timings. Target: under 2 s on a 2-core machine.

    python bench/report_scale.py [--calls 1000000] [--db PATH] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llm_council.audition import schema
from llm_council.audition.report import build_report
from llm_council.audition.store import AuditionStore
from llm_council.registry import load_registry

TIERS = {
    "quick": (["google/gemini-3-flash-preview", "anthropic/claude-haiku-4.5"], 0.2, "low"),
    "balanced": (["anthropic/claude-sonnet-4.6", "openai/gpt-5.4"], 0.5, "medium"),
    "high": (["anthropic/claude-opus-4.7", "openai/gpt-5.5"], 0.8, "high"),
    "reasoning": (
        ["openai/gpt-5.5", "google/gemini-3.1-pro-preview", "anthropic/claude-opus-4.7"],
        0.9,
        "high",
    ),
    "frontier": (
        ["anthropic/claude-opus-4.7", "openai/gpt-5.5", "google/gemini-3.1-pro-preview"],
        None,
        "high",
    ),
}
CALLS_PER_SESSION = 10


def generate(store: AuditionStore, calls: int, seed: int = 7) -> None:
    registry = load_registry()
    rng = random.Random(seed)
    sessions_n = calls // CALLS_PER_SESSION
    start = datetime(2026, 10, 25, tzinfo=UTC)
    engine = store.engine()
    batch: dict[str, list[dict]] = {"sessions": [], "seats": [], "flags": [], "calls": []}

    def flush() -> None:
        with engine.begin() as conn:
            for name, rows in batch.items():
                if rows:
                    conn.execute(insert(getattr(schema, name)), rows)
                rows.clear()

    for i in range(sessions_n):
        sid = f"{i:08x}-bench"
        tier = rng.choice(list(TIERS))
        named, score, band = TIERS[tier]
        members = [m.id for m in registry.band_members(band)]
        resolved_pareto = members[0] if rng.random() < 0.7 else rng.choice(members)
        created = start + timedelta(seconds=rng.randrange(30 * 86400))
        seat_models = [*named, resolved_pareto]
        exact = resolved_pareto in named
        drift = rng.random() < 0.05
        bordas = [rng.random() for _ in seat_models]
        first = max(range(len(bordas)), key=bordas.__getitem__)
        batch["sessions"].append(
            {
                "session_id": sid, "created_at": created, "day": created.strftime("%Y-%m-%d"),
                "tier": tier, "mode": "coding", "status": "ok", "gateway": "sandbox", "prompt": "q",
                "chairman_model": "anthropic/claude-opus-4.7", "chairman_resolved": "anthropic/claude-opus-4.7",
                "chairman_status": "ok", "chairman_error": None, "synthesis_is_fallback": False,
                "duplicate_policy": "flag", "config_hash": "bench", "prompt_tokens": 9000,
                "completion_tokens": 4000, "cost_usd": 0.02, "distinct_models": len(set(seat_models)),
                "provider_entropy": 0.9, "pareto_seats": 1, "pareto_exact": exact,
                "pareto_family": False, "pareto_drift": drift, "result_json": "{}",
            }
        )  # fmt: skip
        for j, model in enumerate(seat_models):
            is_pareto = j == len(seat_models) - 1
            batch["seats"].append(
                {
                    "session_id": sid, "seat_id": f"s{j + 1}",
                    "requested_model": "openrouter/pareto-code" if is_pareto else model,
                    "is_pareto": is_pareto, "variant": None, "min_coding_score": score if is_pareto else None,
                    "resolved_model": model, "provider": registry.provider_of(model),
                    "family": registry.family_of(model), "status": "ok", "error": None,
                    "latency_ms": 900.0, "cost_usd": 0.003, "label": f"Response {chr(65 + j)}",
                    "borda": bordas[j], "votes": len(seat_models) - 1, "is_first": j == first,
                    "duplicate_kind": "exact" if exact and is_pareto else None, "duplicate_of": None,
                    "rerouted_from": None,
                }
            )  # fmt: skip
        if exact:
            other = named.index(resolved_pareto) + 1
            pareto_seat = f"s{len(seat_models)}"
            batch["flags"] += [
                {"session_id": sid, "seat_id": pareto_seat, "kind": "exact", "with_seat": f"s{other}", "model": resolved_pareto, "stage2_model": None},
                {"session_id": sid, "seat_id": f"s{other}", "kind": "exact", "with_seat": pareto_seat, "model": resolved_pareto, "stage2_model": None},
            ]  # fmt: skip
        for k in range(CALLS_PER_SESSION):
            j = k % len(seat_models)
            is_pareto = j == len(seat_models) - 1 and k < 2 * len(seat_models)
            model = seat_models[j]
            entry = registry.get(model)
            cost = entry.cost_usd(3000, 800) if entry else 0.01
            batch["calls"].append(
                {
                    "session_id": sid, "seq": k, "tier": tier, "stage": "answer" if k < len(seat_models) else "review",
                    "seat_id": f"s{j + 1}", "requested_model": "openrouter/pareto-code" if is_pareto else model,
                    "is_pareto": is_pareto, "resolved_model": model, "min_coding_score": score if is_pareto else None,
                    "variant": None, "generation_id": None, "status": "ok", "error": None, "started_at": created,
                    "latency_ms": 800.0, "prompt_tokens": 3000, "completion_tokens": 800, "cost_usd": cost,
                    "cost_estimated": False, "attempts": 1,
                }
            )  # fmt: skip
        if len(batch["calls"]) >= 50_000:
            flush()
    flush()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="reuse or create this SQLite file")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    db = args.db or Path(tempfile.mkdtemp(prefix="llm-council-bench-")) / "audition.db"
    store = AuditionStore(f"sqlite:///{db}")
    if not db.exists() or store.counts()["calls"] == 0:
        t0 = time.perf_counter()
        generate(store, args.calls)
        print(f"generated {store.counts()} in {time.perf_counter() - t0:.1f}s at {db}")
    counts = store.counts()
    registry = load_registry()
    timings = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        report = build_report(store, registry)
        text = json.dumps(report.model_dump(mode="json"))
        timings.append(time.perf_counter() - t0)
    print(
        f"report over {counts['calls']:,} calls / {counts['sessions']:,} sessions: "
        f"median {statistics.median(timings):.2f}s, best {min(timings):.2f}s "
        f"({len(text):,} bytes of JSON; target < 2 s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
