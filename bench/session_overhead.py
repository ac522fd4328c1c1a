"""What the council adds above a raw HTTP client making the same calls, measured side by side.

An OpenRouter-compatible server runs in its own process on 127.0.0.1, one per simulated
model latency: by default ``bench/stub_server.py`` (pre-encoded answers, a few microseconds
per call, so the client is the bottleneck), or ``--server sandbox`` (the real sandbox under
uvicorn, which writes answers and caps the absolute numbers near 1,300 calls/s). In the
same run, against the same server:

* **aiohttp** (the floor): one raw ``aiohttp.ClientSession`` (limit = max_connections)
  making the same 2N+1 calls per session as the council (N answers at once, N reviews at
  once, one chairman call; bodies of the same shape), nothing else;
* **council**: full sessions (``--tier``, default reasoning: 4 seats -> 4 answers, 4
  reviews, 1 chairman = 9 calls) through ``Council`` and the real ``OpenRouterGateway``,
  audition store off;
* optional: **council-store** (the same, each session written to a SQLite audition store
  in a temporary directory, off the event loop), **httpx-aiohttp** / **httpx** (an
  ``httpx.AsyncClient`` over ``httpx_aiohttp.AiohttpTransport`` / on its own pool, 200 / 20
  kept alive) and **council-httpx** (the council with the gateway on httpx's pool, i.e.
  before ADR-013).

Each client runs ``--sessions`` sessions one after another ("sequential"; at a non-zero
latency a thirtieth of them, at least 10) and ``--concurrent`` sessions at once
("concurrent"), ``--repeat`` times interleaved with the others, each batch in a fresh event
loop after one warm-up session; each figure is the median over the repeats. "sess/s" is sessions over the batch's
wall time; "cpu/sess" is this process's CPU time per session (the server runs elsewhere);
"critical" is, per session, the slowest stage-1 call + the slowest stage-2 call + the
chairman call as the client timed them, and "x crit" is wall / critical.

``--memory N`` (default 1000) then runs N concurrent sessions at 100 ms model latency in a
fresh process per client and reports the peak RSS above the process's RSS before the batch,
per session. Last, the issue's four targets, each with the floor beside it.

    python bench/session_overhead.py [--sessions 300] [--concurrent 200] [--latencies 0,100]
        [--repeat 3] [--clients aiohttp,council] [--memory 1000] [--server stub|sandbox]
        [--tier reasoning] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import httpx  # noqa: E402

from llm_council.api import Council  # noqa: E402
from llm_council.config import load_config  # noqa: E402
from llm_council.gateway.openrouter import OpenRouterGateway  # noqa: E402
from llm_council.log import configure_logging  # noqa: E402
from llm_council.registry import load_registry  # noqa: E402

PROMPT = "Write a Python function that merges two sorted lists, with tests."
CLIENTS = ("aiohttp", "council", "council-store", "httpx-aiohttp", "httpx", "council-httpx")
# The targets (benchmarks, not timed tests).
TARGET_CONCURRENT_RATIO = 0.5  # council sessions/s >= 0.5x the floor's, 200 at once, 0 ms
TARGET_SEQUENTIAL_RATIO = 1.3  # council wall <= 1.3x the floor's, one at a time, 0 ms
TARGET_CRITICAL_RATIO = 1.03  # council wall <= 1.03x its critical path at 100 ms
TARGET_MEMORY_BYTES = 1 << 30  # 1,000 concurrent sessions at 100 ms within 1 GiB

OneSession = Callable[[], Awaitable[tuple[float, float]]]  # -> (wall ms, critical ms)


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
    x_critical: float
    cpu_ms_per_session: float


# --- the server ------------------------------------------------------------------------------


@contextmanager
def serve(kind: str, latency_ms: float) -> Iterator[str]:
    """An OpenRouter-compatible server in its own process; yields its base URL."""
    port = _free_port()
    if kind == "stub":
        cmd = [sys.executable, str(Path(__file__).with_name("stub_server.py"))]
    else:
        cmd = [sys.executable, "-m", "llm_council", "sandbox", "serve", "--fixed-latency"]
    cmd += ["--port", str(port), "--latency-ms", str(latency_ms)]
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
                    assert proc.stderr is not None
                    detail = proc.stderr.read().decode()
                    raise RuntimeError(f"server did not start: {detail}") from None
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


# --- the clients -----------------------------------------------------------------------------


@contextmanager
def council_client(
    base_url: str, tier: str, *, httpx_pool: bool = False, store: bool = False
) -> Iterator[tuple[OneSession, Callable[[], Awaitable[None]], list[int]]]:
    """Full council sessions through the real gateway (and, with ``store``, a SQLite store)."""
    config = load_config()
    registry = load_registry()
    transport = None
    if httpx_pool:
        transport = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(
                max_connections=config.gateway.max_connections,
                max_keepalive_connections=config.gateway.max_keepalive_connections,
            )
        )
    gateway = OpenRouterGateway(
        config.gateway,
        api_key="sk-or-bench",
        kind="sandbox",
        transport=transport,
        base_url=base_url,
        tier_scores={t.value: s for t, s in config.pareto.tier_scores.items()},
    )
    with tempfile.TemporaryDirectory(prefix="llm-council-bench-") as tmp:
        audition = None
        if store:
            from llm_council.audition.logger import AuditionLogger
            from llm_council.audition.store import AuditionStore

            audition = AuditionLogger(AuditionStore(f"sqlite:///{tmp}/audition.db"), registry)
        council = Council(config, registry, gateway, audition=audition)
        calls = [0]

        async def one() -> tuple[float, float]:
            t0 = time.perf_counter()
            result = await council.run(PROMPT, tier)
            wall = (time.perf_counter() - t0) * 1000
            if result.status != "ok" or result.storage_problem:
                raise RuntimeError(f"bench session not ok: {result.status} {result.notices}")
            calls[0] = len(result.calls)
            slowest: dict[str, float] = {}
            for call in result.calls:
                slowest[call.stage] = max(slowest.get(call.stage, 0.0), call.latency_ms)
            return wall, sum(slowest.values())

        try:
            yield one, council.aclose, calls
        finally:
            if audition is not None:
                audition.store.close()


def _body(model: str, content: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": content}]}
    if model.startswith("openrouter/pareto-code"):
        body["plugins"] = [{"id": "pareto-router", "min_coding_score": 0.9}]
    return body


@contextmanager
def floor_client(
    base_url: str, tier: str, name: str
) -> Iterator[tuple[OneSession, Callable[[], Awaitable[None]], list[int]]]:
    """The same 2N+1 calls per session through a bare client, nothing else."""
    config = load_config()
    models = [e.model for e in config.pool(tier).models]
    limit = config.gateway.max_connections
    headers = {"Authorization": "Bearer sk-or-bench"}
    state: dict[str, Any] = {}

    async def post(body: dict[str, Any]) -> str:
        if name == "aiohttp":
            if "session" not in state:  # made inside the running loop
                state["session"] = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=limit), headers=headers
                )
            async with state["session"].post(base_url + "/chat/completions", json=body) as reply:
                reply.raise_for_status()
                return (await reply.json())["choices"][0]["message"]["content"]
        if "client" not in state:
            from httpx_aiohttp import AiohttpTransport

            limits = httpx.Limits(
                max_connections=limit,
                max_keepalive_connections=config.gateway.max_keepalive_connections,
            )
            state["client"] = httpx.AsyncClient(
                base_url=base_url + "/",
                headers=headers,
                timeout=httpx.Timeout(None, connect=10),
                transport=AiohttpTransport(limits=limits) if name == "httpx-aiohttp" else None,
                limits=limits,
            )
        response = await state["client"].post("chat/completions", json=body)
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
        stage2 = await asyncio.gather(
            *(call(m, f"{PROMPT}\n\n{blocks}\nrank them") for m in models)
        )
        _, chair_ms = await call(
            config.council.chairman, f"You are the chairman.\n{PROMPT}\n{blocks}"
        )
        wall = (time.perf_counter() - t0) * 1000
        return wall, max(t for _, t in stage1) + max(t for _, t in stage2) + chair_ms

    async def close() -> None:
        if "session" in state:
            await state["session"].close()
        if "client" in state:
            await state["client"].aclose()

    yield one, close, [2 * len(models) + 1]


@contextmanager
def client_for(
    name: str, base_url: str, tier: str
) -> Iterator[tuple[OneSession, Callable[[], Awaitable[None]], list[int]]]:
    if name.startswith("council"):
        with council_client(
            base_url, tier, httpx_pool=name == "council-httpx", store=name == "council-store"
        ) as made:
            yield made
    else:
        with floor_client(base_url, tier, name) as made:
            yield made


# --- running ---------------------------------------------------------------------------------


def run_batch(name: str, base_url: str, n: int, concurrent: bool, tier: str) -> Row:
    """One batch of ``n`` sessions in a fresh event loop, after one warm-up session."""

    async def drive() -> tuple[list[tuple[float, float]], float, float, int]:
        with client_for(name, base_url, tier) as (one, close, calls):
            try:
                await one()  # warm-up: connections, lazy imports, caches
                cpu0, t0 = time.process_time(), time.perf_counter()
                if concurrent:
                    samples = list(await asyncio.gather(*(one() for _ in range(n))))
                else:
                    samples = [await one() for _ in range(n)]
                return samples, time.perf_counter() - t0, time.process_time() - cpu0, calls[0]
            finally:
                await close()

    samples, batch_s, cpu_s, calls = asyncio.run(drive())
    walls = sorted(w for w, _ in samples)
    wall = statistics.fmean(walls)
    critical = statistics.fmean(c for _, c in samples)
    return Row(
        client=name,
        latency_ms=0.0,
        mode="concurrent" if concurrent else "sequential",
        sessions=n,
        calls_per_session=calls,
        sessions_per_s=n / batch_s,
        wall_ms_mean=wall,
        wall_ms_p95=walls[int(0.95 * (len(walls) - 1))],
        critical_ms_mean=critical,
        x_critical=wall / critical,
        cpu_ms_per_session=cpu_s * 1000 / n,
    )


def median_row(rows: list[Row]) -> Row:
    """Each figure the median over repeats (rounded for the table)."""
    first = rows[0]

    def med(field: str, digits: int) -> float:
        return round(statistics.median(getattr(r, field) for r in rows), digits)

    return Row(
        client=first.client,
        latency_ms=first.latency_ms,
        mode=first.mode,
        sessions=first.sessions,
        calls_per_session=first.calls_per_session,
        sessions_per_s=med("sessions_per_s", 1),
        wall_ms_mean=med("wall_ms_mean", 3),
        wall_ms_p95=med("wall_ms_p95", 3),
        critical_ms_mean=med("critical_ms_mean", 3),
        x_critical=med("x_critical", 4),
        cpu_ms_per_session=med("cpu_ms_per_session", 3),
    )


# --- peak memory per concurrent session ------------------------------------------------------


def memory_child(name: str, base_url: str, n: int, tier: str) -> dict[str, Any]:
    """In a fresh process: RSS before ``n`` concurrent sessions and the peak during them."""

    async def drive() -> dict[str, Any]:
        with client_for(name, base_url, tier) as (one, close, _calls):
            try:
                await one()
                before = _rss_bytes()
                reset = _reset_peak()
                t0 = time.perf_counter()
                await asyncio.gather(*(one() for _ in range(n)))
                wall = time.perf_counter() - t0
                peak = _peak_bytes() if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # fmt: skip
                return {"client": name, "sessions": n, "rss_before": before, "peak": peak,
                        "peak_reset": reset, "wall_s": wall}  # fmt: skip
            finally:
                await close()

    return asyncio.run(drive())


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) so it covers the batch only (Linux)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def measure_memory(name: str, base_url: str, n: int, tier: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--memory-child", name, "--memory-url", base_url]
    out = subprocess.run(
        [*cmd, "--memory", str(n), "--tier", tier],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


# --- the report ------------------------------------------------------------------------------


def targets(rows: list[Row], memory: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's four targets, measured, each with the floor beside it."""
    by = {(r.client, r.latency_ms, r.mode): r for r in rows}
    out: list[dict[str, Any]] = []
    floor, council = by.get(("aiohttp", 0.0, "concurrent")), by.get(("council", 0.0, "concurrent"))
    if floor and council:
        ratio = council.sessions_per_s / floor.sessions_per_s
        out.append({
            "target": f"{council.sessions} at once, 0 ms: council sessions/s >= {TARGET_CONCURRENT_RATIO}x floor",
            "council": f"{council.sessions_per_s:.1f} sessions/s", "floor": f"{floor.sessions_per_s:.1f} sessions/s",
            "measured": round(ratio, 3), "met": ratio >= TARGET_CONCURRENT_RATIO,
        })  # fmt: skip
    floor, council = by.get(("aiohttp", 0.0, "sequential")), by.get(("council", 0.0, "sequential"))
    if floor and council:
        ratio = council.wall_ms_mean / floor.wall_ms_mean
        out.append({
            "target": f"one session at a time, 0 ms: council wall <= {TARGET_SEQUENTIAL_RATIO}x floor",
            "council": f"{council.wall_ms_mean:.3f} ms", "floor": f"{floor.wall_ms_mean:.3f} ms",
            "measured": round(ratio, 3), "met": ratio <= TARGET_SEQUENTIAL_RATIO,
        })  # fmt: skip
    for mode in ("sequential", "concurrent"):
        floor, council = by.get(("aiohttp", 100.0, mode)), by.get(("council", 100.0, mode))
        if council:
            out.append({
                "target": f"100 ms, {mode}: council wall <= {TARGET_CRITICAL_RATIO}x its critical path",
                "council": f"{council.wall_ms_mean:.2f} ms vs critical {council.critical_ms_mean:.2f} ms",
                "floor": f"{floor.x_critical:.4f}x its critical path" if floor else "-",
                "measured": council.x_critical, "met": council.x_critical <= TARGET_CRITICAL_RATIO,
            })  # fmt: skip
    mem = {m["client"]: m for m in memory}
    if "council" in mem:
        m, f = mem["council"], mem.get("aiohttp")
        per = (m["peak"] - m["rss_before"]) / m["sessions"]
        out.append({
            "target": f"{m['sessions']} at once, 100 ms: peak RSS within 1 GiB",
            "council": f"peak {m['peak'] / 2**20:.0f} MiB, +{per / 1024:.1f} KiB/session",
            "floor": f"peak {f['peak'] / 2**20:.0f} MiB, +{(f['peak'] - f['rss_before']) / f['sessions'] / 1024:.1f} KiB/session" if f else "-",
            "measured": round(m["peak"] / 2**20, 1), "met": m["peak"] <= TARGET_MEMORY_BYTES,
        })  # fmt: skip
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=300, help="sequential sessions per batch")
    parser.add_argument("--concurrent", type=int, default=200, help="sessions at once")
    parser.add_argument("--latencies", default="0,100", help="simulated model latencies, ms")
    parser.add_argument("--clients", default="aiohttp,council", help=f"of {', '.join(CLIENTS)}")
    parser.add_argument("--modes", default="sequential,concurrent", help="which modes to run")
    parser.add_argument("--repeat", type=int, default=3, help="batches per client (median)")
    parser.add_argument("--memory", type=int, default=1000, help="sessions at once; 0 skips")
    parser.add_argument("--server", default="stub", choices=("stub", "sandbox"))
    parser.add_argument("--tier", default="reasoning", help="council tier (reasoning: 9 calls)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--memory-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    configure_logging("warning")
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, args.memory_url, args.memory, args.tier)))
        return 0
    clients = [c for c in args.clients.split(",") if c]
    unknown = sorted(set(clients) - set(CLIENTS))
    if unknown:
        parser.error(f"unknown clients {unknown}; choose from {', '.join(CLIENTS)}")
    modes = [m for m in ("sequential", "concurrent") if m in args.modes.split(",")]
    latencies = [float(x) for x in args.latencies.split(",") if x]

    rows: list[Row] = []
    memory: list[dict[str, Any]] = []
    for latency in latencies:
        with serve(args.server, latency) as url:
            for mode in modes:
                concurrent = mode == "concurrent"
                n = args.concurrent if concurrent else args.sessions
                if latency and not concurrent:
                    n = max(10, n // 30)  # 100 ms sessions: fewer, the figure is a ratio
                runs: dict[str, list[Row]] = {c: [] for c in clients}
                for _ in range(args.repeat):  # interleaved, so drift hits every client alike
                    for client in clients:
                        runs[client].append(run_batch(client, url, n, concurrent, args.tier))
                for client in clients:
                    row = median_row(runs[client])
                    row.latency_ms = latency
                    rows.append(row)
    if args.memory:
        with serve(args.server, 100.0) as url:
            for client in [c for c in ("aiohttp", "council") if c in clients]:
                memory.append(measure_memory(client, url, args.memory, args.tier))
    results = targets(rows, memory)
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "server": args.server,
        "aiohttp": aiohttp.__version__,
    }
    if args.json:
        print(json.dumps({"machine": machine, "rows": [asdict(r) for r in rows],
                          "memory": memory, "targets": results}, indent=2))  # fmt: skip
        return 0
    print(f"machine: {machine}")
    print(
        f"{'client':<14} {'ms':>4} {'mode':<11} {'n':>4} {'calls':>5} {'sess/s':>8} "
        f"{'wall ms':>9} {'p95':>9} {'critical':>9} {'x crit':>7} {'cpu/sess':>9}"
    )
    for r in rows:
        print(
            f"{r.client:<14} {r.latency_ms:>4g} {r.mode:<11} {r.sessions:>4} "
            f"{r.calls_per_session:>5} {r.sessions_per_s:>8.1f} {r.wall_ms_mean:>9.3f} "
            f"{r.wall_ms_p95:>9.3f} {r.critical_ms_mean:>9.3f} {r.x_critical:>7.4f} "
            f"{r.cpu_ms_per_session:>9.3f}"
        )
    by = {(r.client, r.latency_ms, r.mode): r for r in rows}
    for (client, latency, mode), row in by.items():
        floor = by.get(("aiohttp", latency, mode))
        if client.startswith("council") and floor is not None and row.calls_per_session:
            extra = (row.cpu_ms_per_session - floor.cpu_ms_per_session) / row.calls_per_session
            print(
                f"{client} {latency:g} ms {mode}: {extra * 1000:.0f} us CPU per call above the floor"
            )
    for m in memory:
        per = (m["peak"] - m["rss_before"]) / m["sessions"]
        print(
            f"memory {m['client']}: {m['sessions']} at once at 100 ms: RSS {m['rss_before'] / 2**20:.0f}"
            f" MiB before, peak {m['peak'] / 2**20:.0f} MiB, {per / 1024:.1f} KiB per session"
        )
    print()
    for t in results:
        print(
            f"[{'met' if t['met'] else 'MISSED'}] {t['target']}: {t['measured']} "
            f"(council {t['council']}; floor {t['floor']})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
