"""What the council adds above the models' own latency, against raw-client floors.

Starts the sandbox with uvicorn in a separate process on 127.0.0.1 (one per simulated model
latency), then in the same run:

* **council**: full sessions (``--tier``, default reasoning: 4 seats -> 4 answers, 4
  reviews, 1 chairman = 9 calls) through ``Council`` and the real ``OpenRouterGateway``
  (httpx over aiohttp's pool, ADR-013), audition store off;
* **council-httpx**: the same with the gateway on httpx's own pool (200 connections, 20
  kept alive: the transport before ADR-013), for a before/after in one run;
* **aiohttp**: one raw ``aiohttp.ClientSession`` (limit = max_connections) making the same
  2N+1 calls per session with bodies of the same shape, nothing else: the floor;
* **httpx-aiohttp**: one ``httpx.AsyncClient`` over ``httpx_aiohttp.AiohttpTransport``
  making the same calls (the gateway's transport with none of the council around it);
* **httpx**: one ``httpx.AsyncClient`` on its own pool (200 / 20 kept alive).

Each is run sequentially (``--sessions`` one after another) and with ``--concurrent``
sessions at once; "sess/s" is sessions over the wall time of the whole batch. Per session,
the critical path is the slowest stage-1 call + the slowest stage-2 call + the chairman
call, each as the client measured it; "above critical" is wall time minus that. "Above
model" is wall time minus the models' own simulated latency along the three stages (3 x
latency): everything the client stack adds, HTTP included.

    python bench/session_overhead.py [--sessions 40] [--concurrent 200] [--latencies 0,100]
        [--clients aiohttp,httpx-aiohttp,httpx,council,council-httpx] [--tier reasoning] [--json]
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

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llm_council.api import Council
from llm_council.config import load_config
from llm_council.gateway.openrouter import OpenRouterGateway
from llm_council.log import configure_logging
from llm_council.registry import load_registry

PROMPT = "Write a Python function that merges two sorted lists, with tests."
CLIENTS = ("aiohttp", "httpx-aiohttp", "httpx", "council", "council-httpx")


@dataclass
class Row:
    client: str
    latency_ms: float
    mode: str
    sessions: int
    calls_per_session: int
    sessions_per_s: float
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


Samples = tuple[list[tuple[float, float]], float, int]  # per session, batch wall s, calls


async def _drive(one, n: int, concurrent: bool) -> tuple[list[tuple[float, float]], float]:
    await one()  # warm-up: connections, imports
    t0 = time.perf_counter()
    if concurrent:
        samples = list(await asyncio.gather(*(one() for _ in range(n))))
    else:
        samples = [await one() for _ in range(n)]
    return samples, time.perf_counter() - t0


async def council_session_walls(
    base_url: str, n: int, concurrent: bool, tier: str, httpx_pool: bool
) -> Samples:
    config = load_config()
    registry = load_registry()
    tier_scores = {t.value: s for t, s in config.pareto.tier_scores.items()}
    transport = (
        httpx.AsyncHTTPTransport(
            limits=httpx.Limits(
                max_connections=config.gateway.max_connections,
                max_keepalive_connections=config.gateway.max_keepalive_connections,
            )
        )
        if httpx_pool
        else None
    )
    gateway = OpenRouterGateway(
        config.gateway,
        api_key="sk-or-bench",
        kind="sandbox",
        transport=transport,
        base_url=base_url,
        tier_scores=tier_scores,
    )
    council = Council(config, registry, gateway, audition=None)
    calls = [0]

    async def one() -> tuple[float, float]:
        t0 = time.perf_counter()
        result = await council.run(PROMPT, tier)
        wall = (time.perf_counter() - t0) * 1000
        if result.status != "ok":
            raise RuntimeError(f"bench session not ok: {result.status} {result.notices}")
        calls[0] = len(result.calls)
        by_stage: dict[str, float] = {}
        for call in result.calls:
            by_stage[call.stage] = max(by_stage.get(call.stage, 0.0), call.latency_ms)
        return wall, sum(by_stage.values())

    try:
        samples, batch_s = await _drive(one, n, concurrent)
        return samples, batch_s, calls[0]
    finally:
        await council.aclose()


def _body(model: str, content: str) -> dict:
    body = {"model": model, "messages": [{"role": "user", "content": content}]}
    if model.startswith("openrouter/pareto-code"):
        body["plugins"] = [{"id": "pareto-router", "min_coding_score": 0.5}]
    return body


async def floor_session_walls(
    base_url: str, n: int, concurrent: bool, tier: str, client_name: str
) -> Samples:
    """The same 2N+1 calls per session through a bare client, nothing else."""
    config = load_config()
    models = [e.model for e in config.pool(tier).models]
    limit = config.gateway.max_connections
    headers = {"Authorization": "Bearer sk-or-bench"}
    session: aiohttp.ClientSession | None = None
    client: httpx.AsyncClient | None = None
    if client_name == "aiohttp":
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=limit), headers=headers
        )
        url = base_url + "/chat/completions"

        async def post(body: dict) -> str:
            async with session.post(url, json=body) as response:
                response.raise_for_status()
                return (await response.json())["choices"][0]["message"]["content"]
    else:
        limits = httpx.Limits(
            max_connections=limit,
            max_keepalive_connections=config.gateway.max_keepalive_connections,
        )
        client = httpx.AsyncClient(
            base_url=base_url + "/",
            headers=headers,
            timeout=httpx.Timeout(None, connect=10),
            transport=AiohttpTransport(limits=limits) if client_name == "httpx-aiohttp" else None,
            limits=limits,
        )

        async def post(body: dict) -> str:
            response = await client.post("chat/completions", json=body)
            response.raise_for_status()
            return response.json()["choices"][0]["message"]["content"]

    async def call(model: str, content: str) -> tuple[str, float]:
        t0 = time.perf_counter()
        text = await post(_body(model, content))
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
        samples, batch_s = await _drive(one, n, concurrent)
        return samples, batch_s, 2 * len(models) + 1
    finally:
        if session is not None:
            await session.close()
        if client is not None:
            await client.aclose()


async def run_client(client: str, base_url: str, n: int, concurrent: bool, tier: str) -> Samples:
    if client.startswith("council"):
        return await council_session_walls(
            base_url, n, concurrent, tier, httpx_pool=client == "council-httpx"
        )
    return await floor_session_walls(base_url, n, concurrent, tier, client)


def summarise(client: str, latency: float, mode: str, samples: Samples) -> Row:
    per_session, batch_s, calls = samples
    walls = sorted(w for w, _ in per_session)
    wall = statistics.fmean(walls)
    critical = statistics.fmean(c for _, c in per_session)
    return Row(
        client=client,
        latency_ms=latency,
        mode=mode,
        sessions=len(per_session),
        calls_per_session=calls,
        sessions_per_s=round(len(per_session) / batch_s, 1),
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
    parser.add_argument("--clients", default=",".join(CLIENTS), help="which clients to run")
    parser.add_argument("--modes", default="sequential,concurrent", help="which modes to run")
    parser.add_argument("--tier", default="reasoning", help="council tier (reasoning: 9 calls)")
    parser.add_argument("--json", action="store_true", help="print rows as JSON")
    args = parser.parse_args()
    configure_logging("warning")
    clients = [c for c in args.clients.split(",") if c]
    unknown = sorted(set(clients) - set(CLIENTS))
    if unknown:
        parser.error(f"unknown clients {unknown}; choose from {', '.join(CLIENTS)}")
    modes = args.modes.split(",")

    rows: list[Row] = []
    for latency in (float(x) for x in args.latencies.split(",")):
        with sandbox_server(_free_port(), latency) as url:
            for mode, n, concurrent in (
                ("sequential", args.sessions, False),
                ("concurrent", args.concurrent, True),
            ):
                if mode not in modes:
                    continue
                for client in clients:
                    samples = asyncio.run(run_client(client, url, n, concurrent, args.tier))
                    rows.append(summarise(client, latency, mode, samples))
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return 0
    header = (
        f"{'client':<14} {'model ms':>8} {'mode':<11} {'n':>4} {'calls':>5} {'sess/s':>7} "
        f"{'wall':>9} {'p95':>9} {'critical':>9} {'>crit':>8} {'>model':>9} {'x crit':>7}"
    )
    print(header)
    for r in rows:
        print(
            f"{r.client:<14} {r.latency_ms:>8g} {r.mode:<11} {r.sessions:>4} "
            f"{r.calls_per_session:>5} {r.sessions_per_s:>7.1f} {r.wall_ms_mean:>9.2f} "
            f"{r.wall_ms_p95:>9.2f} {r.critical_ms_mean:>9.2f} {r.above_critical_ms:>8.2f} "
            f"{r.above_model_ms:>9.2f} {r.x_critical:>7.4f}"
        )
    print()
    for latency in sorted({r.latency_ms for r in rows}):
        for mode in modes:
            pair = {r.client: r for r in rows if r.latency_ms == latency and r.mode == mode}
            if "aiohttp" not in pair or "council" not in pair:
                continue
            floor, council = pair["aiohttp"], pair["council"]
            print(
                f"{latency:g} ms {mode}: council {council.sessions_per_s:.1f} sessions/s vs raw "
                f"aiohttp {floor.sessions_per_s:.1f} "
                f"({council.sessions_per_s / floor.sessions_per_s:.2f}x); above the models "
                f"{council.above_model_ms:.2f} vs {floor.above_model_ms:.2f} ms; council "
                f"{council.x_critical:.4f}x its critical path"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
