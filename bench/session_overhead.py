"""What the council adds above the models' own latency, against a bare-httpx floor.

Starts the sandbox with uvicorn in a separate process on 127.0.0.1 (one per simulated model
latency), then in the same run:

* **council**: full sessions (balanced tier: 3 seats -> 3 answers, 3 reviews, 1 chairman)
  through ``Council`` and the real ``OpenRouterGateway``, audition store off;
* **bare**: one pooled ``httpx.AsyncClient`` making the same 2N+1 calls per session with
  bodies of the same shape (answers fed into the review and chairman prompts), nothing else.

Each is run sequentially (``--sessions`` one after another) and with ``--concurrent``
sessions at once. Per session, the critical path is the slowest stage-1 call + the slowest
stage-2 call + the chairman call, each as the client measured it; "above critical" is wall
time minus that. "Above model" is wall time minus the models' own simulated latency along
the three stages (3 x latency): everything the client stack adds, HTTP included. Targets:
the council's "above model" overhead within 1.5x of the bare floor's, and at 100 ms model
latency a session taking < 1.05x its critical path.

    python bench/session_overhead.py [--sessions 40] [--concurrent 200] [--latencies 0,100] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llm_council.api import Council
from llm_council.config import load_config
from llm_council.gateway.openrouter import OpenRouterGateway
from llm_council.log import configure_logging
from llm_council.registry import load_registry

PROMPT = "Write a Python function that merges two sorted lists, with tests."
TIER = "balanced"


@dataclass
class Row:
    client: str
    latency_ms: float
    mode: str
    sessions: int
    wall_ms_mean: float
    wall_ms_p95: float
    critical_ms_mean: float
    above_critical_ms: float
    above_model_ms: float
    x_critical: float


@contextmanager
def sandbox_server(port: int, latency_ms: float):
    cmd = [
        sys.executable, "-m", "llm_council", "sandbox", "serve",
        "--port", str(port), "--latency-ms", str(latency_ms), "--fixed-latency",
    ]  # fmt: skip
    env = {**os.environ, "LLM_COUNCIL_LOG_LEVEL": "error"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/v1/models", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"sandbox did not start: {proc.stderr.read().decode()}"
                    ) from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/api/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def council_session_walls(
    base_url: str, n: int, concurrent: bool
) -> list[tuple[float, float]]:
    config = load_config()
    registry = load_registry()
    tier_scores = {t.value: s for t, s in config.pareto.tier_scores.items()}
    gateway = OpenRouterGateway(
        config.gateway,
        api_key="sk-or-bench",
        kind="sandbox",
        base_url=base_url,
        tier_scores=tier_scores,
    )
    council = Council(config, registry, gateway, audition=None)

    async def one() -> tuple[float, float]:
        t0 = time.perf_counter()
        result = await council.run(PROMPT, TIER)
        wall = (time.perf_counter() - t0) * 1000
        if result.status != "ok":
            raise RuntimeError(f"bench session not ok: {result.status} {result.notices}")
        by_stage: dict[str, float] = {}
        for call in result.calls:
            by_stage[call.stage] = max(by_stage.get(call.stage, 0.0), call.latency_ms)
        return wall, sum(by_stage.values())

    try:
        await one()  # warm-up: connections, imports
        if concurrent:
            return list(await asyncio.gather(*(one() for _ in range(n))))
        return [await one() for _ in range(n)]
    finally:
        await council.aclose()


async def bare_session_walls(base_url: str, n: int, concurrent: bool) -> list[tuple[float, float]]:
    config = load_config()
    models = [e.model for e in config.pool(TIER).models]
    client = httpx.AsyncClient(
        base_url=base_url + "/",
        headers={"Authorization": "Bearer sk-or-bench"},
        timeout=httpx.Timeout(None, connect=10),
        # The same pool limits as the gateway, so the floor is comparable.
        limits=httpx.Limits(
            max_connections=config.gateway.max_connections,
            max_keepalive_connections=config.gateway.max_keepalive_connections,
        ),
    )

    async def call(model: str, content: str) -> tuple[str, float]:
        t0 = time.perf_counter()
        body = {"model": model, "messages": [{"role": "user", "content": content}]}
        if model.startswith("openrouter/pareto-code"):
            body["plugins"] = [{"id": "pareto-router", "min_coding_score": 0.5}]
        response = await client.post("chat/completions", json=body)
        response.raise_for_status()
        text = response.json()["choices"][0]["message"]["content"]
        return text, (time.perf_counter() - t0) * 1000

    async def one() -> tuple[float, float]:
        t0 = time.perf_counter()
        stage1 = await asyncio.gather(*(call(m, PROMPT) for m in models))
        blocks = "\n\n".join(
            f'<candidate label="Response {chr(65 + i)}">\n{a}\n</candidate>'
            for i, (a, _) in enumerate(stage1)
        )
        review = f"{PROMPT}\n\n{blocks}\nrank them"
        stage2 = await asyncio.gather(*(call(m, review) for m in models))
        chair = f"You are the chairman.\n{PROMPT}\n\n{blocks}"
        _, chair_ms = await call(config.council.chairman, chair)
        wall = (time.perf_counter() - t0) * 1000
        return wall, max(t for _, t in stage1) + max(t for _, t in stage2) + chair_ms

    try:
        await one()
        if concurrent:
            return list(await asyncio.gather(*(one() for _ in range(n))))
        return [await one() for _ in range(n)]
    finally:
        await client.aclose()


def summarise(client: str, latency: float, mode: str, samples: list[tuple[float, float]]) -> Row:
    walls = sorted(w for w, _ in samples)
    wall = statistics.fmean(walls)
    critical = statistics.fmean(c for _, c in samples)
    return Row(
        client=client,
        latency_ms=latency,
        mode=mode,
        sessions=len(samples),
        wall_ms_mean=round(wall, 2),
        wall_ms_p95=round(walls[int(0.95 * (len(walls) - 1))], 2),
        critical_ms_mean=round(critical, 2),
        above_critical_ms=round(wall - critical, 3),
        above_model_ms=round(wall - 3 * latency, 2),
        x_critical=round(wall / critical, 4),
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=40, help="sequential sessions per client")
    parser.add_argument("--concurrent", type=int, default=200, help="sessions at once")
    parser.add_argument("--latencies", default="0,100", help="simulated model latencies, ms")
    parser.add_argument("--json", action="store_true", help="print rows as JSON")
    args = parser.parse_args()
    configure_logging("warning")

    rows: list[Row] = []
    for latency in (float(x) for x in args.latencies.split(",")):
        with sandbox_server(_free_port(), latency) as url:
            for mode, n, concurrent in (
                ("sequential", args.sessions, False),
                ("concurrent", args.concurrent, True),
            ):
                bare = asyncio.run(bare_session_walls(url, n, concurrent))
                council = asyncio.run(council_session_walls(url, n, concurrent))
                rows.append(summarise("bare-httpx", latency, mode, bare))
                rows.append(summarise("council", latency, mode, council))
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return 0
    header = (
        f"{'client':<11} {'model ms':>8} {'mode':<11} {'n':>4} {'wall':>9} {'p95':>9} "
        f"{'critical':>9} {'>crit':>7} {'>model':>8} {'x crit':>7}"
    )
    print(header)
    for r in rows:
        print(
            f"{r.client:<11} {r.latency_ms:>8g} {r.mode:<11} {r.sessions:>4} {r.wall_ms_mean:>9.2f} "
            f"{r.wall_ms_p95:>9.2f} {r.critical_ms_mean:>9.2f} {r.above_critical_ms:>7.2f} "
            f"{r.above_model_ms:>8.2f} {r.x_critical:>7.4f}"
        )
    print()
    for latency in sorted({r.latency_ms for r in rows}):
        for mode in ("sequential", "concurrent"):
            pair = {r.client: r for r in rows if r.latency_ms == latency and r.mode == mode}
            bare, council = pair["bare-httpx"], pair["council"]
            ratio = council.above_model_ms / bare.above_model_ms
            print(
                f"{latency:g} ms {mode}: council adds {council.above_model_ms:.2f} ms above the "
                f"models vs bare {bare.above_model_ms:.2f} ms -> {ratio:.2f}x; "
                f"council {council.x_critical:.4f}x its critical path"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
