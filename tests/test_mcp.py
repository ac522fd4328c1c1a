"""``llm-council mcp`` driven by the MCP SDK's own client, the server a real subprocess.

Over stdio: the four tools are listed, ``consult_council`` runs a session on the sandbox with
one progress notification per finished call, and the store tools read it back. A slow
session (the sandbox served with a fixed 1.5 s latency) cancelled by the client is stored as
``interrupted``, and so is one whose client closes the pipe mid-session. Over streamable
HTTP on 127.0.0.1 the same tools answer. The progress counter is tested on its own below;
attachments themselves in tests/test_attachments.py, follow-ups in tests/test_followups.py.

MCP behaviour relied on (https://modelcontextprotocol.io/specification, "Progress",
"Cancellation", "Tools: structured content"): progress notifications carry the caller's
progress token, their ``progress`` increases with each one; a cancelled request gets no
response; ``structuredContent`` is validated against the tool's ``outputSchema``.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from llm_council.audition.store import AuditionStore
from llm_council.mcp_server import ProgressPump
from tests.conftest import free_port
from tests.sandbox_process import sandbox_process

REPO = Path(__file__).resolve().parents[1]
SERVER = [sys.executable, "-m", "llm_council", "mcp"]
POOL = "anthropic/claude-sonnet-4.6,openai/gpt-5.4,openrouter/pareto-code"
CLIENT = {"name": "test_mcp", "version": "0"}
TOOLS = {"consult_council", "council_sessions", "council_session", "council_report"}
RUN_CONTRACT_KEYS = {
    "session_id", "created_at", "tier", "mode", "status", "gateway", "prompt", "seats",
    "ranking", "reviews", "chairman", "synthesis", "synthesis_is_fallback", "verdict", "usage",
}  # fmt: skip


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "LLM_COUNCIL_AUDITION_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "PYTHONPATH": str(REPO),
        **extra,
    }


def _one_error_line(result: Any) -> str:
    assert result.is_error, result
    (block,) = result.content
    assert "\n" not in block.text and "Traceback" not in block.text, block.text
    return block.text


def _wait_for_port(port: int, proc: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("the server did not start listening") from None
            time.sleep(0.05)


async def test_stdio_tools_progress_attachments_and_the_store(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("def add(a, b):\n    return a - b\n", encoding="utf-8")
    (project / "blob.bin").write_bytes(b"\x89PNG\x00\x01")
    (tmp_path / "secret.txt").write_text("not for models", encoding="utf-8")
    (project / "escape.txt").symlink_to(tmp_path / "secret.txt")
    params = StdioServerParameters(
        command=SERVER[0],
        args=[*SERVER[1:], "--gateway", "sandbox", "--root", str(project)],
        env=_env(tmp_path),
        cwd=tmp_path,  # files resolve against --root, not the working directory
    )
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
        await client.initialize()
        listed = {t.name: t for t in (await client.list_tools()).tools}
        assert set(listed) == TOOLS
        consult = listed["consult_council"]
        assert set(consult.input_schema["properties"]) == {
            "prompt", "tier", "mode", "files", "diff", "duplicate_policy", "session_id",
        }  # fmt: skip
        assert consult.input_schema["required"] == ["prompt"]
        assert consult.output_schema is not None
        assert set(consult.output_schema["properties"]) >= RUN_CONTRACT_KEYS

        diff = "--- a/app.py\n+++ b/app.py\n-    return a + b\n+    return a - b\n"
        result = await client.call_tool(
            "consult_council",
            {"prompt": "Why does add fail?", "tier": "balanced", "files": ["app.py"], "diff": diff},
            progress_callback=on_progress,
        )
        assert not result.is_error, result.content
        run = result.structured_content
        assert run is not None and set(run) >= RUN_CONTRACT_KEYS
        assert run["status"] == "ok" and run["tier"] == "balanced" and run["gateway"] == "sandbox"
        assert result.content[0].text == run["synthesis"]
        assert run["session_id"] in result.content[1].text
        # The file and the diff went to the council as data (tests/test_attachments.py);
        # the session keeps the bare question and each attachment's name, hash and size.
        assert run["prompt"] == "Why does add fail?"
        assert [(a["name"], a["kind"], a["size"]) for a in run["attachments"]] == [
            ("app.py", "file", 32), ("diff", "diff", len(diff)),
        ]  # fmt: skip

        # One notification per finished call, progress 1..N, the last one complete.
        shown = await client.call_tool("council_session", {"session_id": run["session_id"][:8]})
        assert not shown.is_error
        calls = shown.structured_content["calls"]
        assert {c["stage"] for c in calls} == {"answer", "review", "chairman"}
        assert [p for p, _, _ in progress] == list(range(1, len(calls) + 1))
        assert progress[-1][1] == len(calls)
        assert all(total is not None and total >= value for value, total, _ in progress)
        assert progress[0][2] and progress[0][2].startswith("answer ")
        assert progress[-1][2] and progress[-1][2].startswith("chairman chairman: ok")
        assert json.loads(shown.content[0].text) == shown.structured_content

        page = await client.call_tool("council_sessions", {"last": 5})
        assert not page.is_error
        assert page.structured_content["total"] == 1
        assert page.structured_content["sessions"][0]["session_id"] == run["session_id"]
        assert page.structured_content["sessions"][0]["status"] == "ok"

        report = await client.call_tool("council_report", {"tier": "balanced"})
        assert not report.is_error
        assert report.structured_content["window"]["sessions"] == 1
        assert set(report.structured_content["tiers"]) == {"balanced"}
        assert report.content[0].text.startswith("# llm-council audition report")

        # Refusals are tool errors of one line, and nothing was run for them.
        bad_tier = await client.call_tool("consult_council", {"prompt": "x", "tier": "huge"})
        assert "unknown tier 'huge'" in _one_error_line(bad_tier)
        bad_type = await client.call_tool("consult_council", {"prompt": "x", "files": "app.py"})
        assert _one_error_line(bad_type).startswith("invalid arguments for consult_council: files")
        binary = await client.call_tool("consult_council", {"prompt": "x", "files": ["blob.bin"]})
        assert "binary or not UTF-8" in _one_error_line(binary)
        outside = await client.call_tool(
            "consult_council", {"prompt": "x", "files": ["../secret.txt"]}
        )
        assert "outside the server's working directory" in _one_error_line(outside)
        escape = await client.call_tool("consult_council", {"prompt": "x", "files": ["escape.txt"]})
        assert "outside the server's working directory" in _one_error_line(escape)
        missing = await client.call_tool("council_session", {"session_id": "ffffffff"})
        assert "no session 'ffffffff'" in _one_error_line(missing)
        since = await client.call_tool("council_report", {"since": "last tuesday"})
        assert _one_error_line(since).startswith("since takes a span")
        policy = await client.call_tool(
            "consult_council", {"prompt": "x", "duplicate_policy": "merge"}
        )
        assert "unknown duplicate policy 'merge'" in _one_error_line(policy)

    store = AuditionStore(f"sqlite:///{tmp_path / 'store.db'}")
    assert [s.session_id for s in store.list_sessions()] == [run["session_id"]]


# --- cancelling a slow session ---------------------------------------------------------


@pytest.fixture(scope="module")
def slow_sandbox() -> Iterator[str]:
    """The sandbox served in its own process, every model taking 1.5 s (stateless, so the
    tests of this module share it)."""
    with sandbox_process(1500) as url:
        yield url


async def test_a_cancelled_slow_session_is_stored_as_interrupted(tmp_path, slow_sandbox):
    env = _env(
        tmp_path,
        OPENROUTER_BASE_URL=slow_sandbox,
        OPENROUTER_API_KEY="sk-or-test-mcp-cancel-0123456789",
        LLM_COUNCIL_LOG_LEVEL="info",
        LLM_COUNCIL_MODELS_BALANCED=POOL,
    )
    params = StdioServerParameters(command=SERVER[0], args=SERVER[1:], env=env, cwd=tmp_path)
    server_log = tmp_path / "server.log"
    progress: list[tuple[float, float | None]] = []
    answered = anyio.Event()
    returned: list[Any] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total))
        if value >= 3:  # the three answers are in: stage 2 (another 1.5 s) has started
            answered.set()

    with server_log.open("w", encoding="utf-8") as errlog:
        await _consult_and_cancel(params, errlog, on_progress, answered, returned)
    assert not returned  # a cancelled request gets no answer
    assert progress == [(1, 7), (2, 7), (3, 7)]
    log = server_log.read_text(encoding="utf-8")
    # The interruption ran to its end (stored, then handed on) despite the SDK's cancel.
    assert '"event": "mcp.session_interrupted"' in log
    assert "mcp-cancel-0123" not in log

    store = AuditionStore(f"sqlite:///{tmp_path / 'store.db'}")
    (summary,) = store.list_sessions()
    stored = store.get_session(summary.session_id)
    assert stored.status == "interrupted"
    by_stage = {
        stage: sorted(c.status for c in stored.calls if c.stage == stage)
        for stage in ("answer", "review")
    }
    assert by_stage == {"answer": ["ok"] * 3, "review": ["cancelled"] * 3}


async def _consult_and_cancel(
    params: StdioServerParameters,
    errlog: Any,
    on_progress: Any,
    answered: anyio.Event,
    returned: list[Any],
) -> None:
    """Call consult_council, cancel it once stage 1 is done, then wait for the store."""
    async with (
        stdio_client(params, errlog=errlog) as (read, write),
        ClientSession(read, write) as client,
    ):
        await client.initialize()
        async with anyio.create_task_group() as group:

            async def consult() -> None:
                returned.append(
                    await client.call_tool(
                        "consult_council",
                        {"prompt": "Write fizzbuzz.", "tier": "balanced"},
                        progress_callback=on_progress,
                    )
                )

            group.start_soon(consult)
            with anyio.fail_after(30):
                await answered.wait()
            await anyio.sleep(0.5)
            group.cancel_scope.cancel()  # the SDK sends notifications/cancelled for the call

        # The server stores the session as interrupted and keeps serving.
        sessions: list[dict[str, Any]] = []
        with anyio.fail_after(20):
            while not sessions:
                page = await client.call_tool("council_sessions", {})
                sessions = page.structured_content["sessions"]
                await anyio.sleep(0.1)
        assert [s["status"] for s in sessions] == ["interrupted"]


def test_a_client_that_goes_away_mid_session_leaves_it_stored_as_interrupted(
    tmp_path, slow_sandbox
):
    """Raw JSON-RPC over the pipes: the client closes stdin during stage 2 and exits."""
    env = _env(
        tmp_path,
        OPENROUTER_BASE_URL=slow_sandbox,
        OPENROUTER_API_KEY="sk-or-test-mcp-goaway-0123456789",
        LLM_COUNCIL_MODELS_BALANCED=POOL,
    )
    proc = subprocess.Popen(
        SERVER, env=env, cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdin is not None and proc.stdout is not None

    def send(message: dict[str, Any]) -> None:
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
        proc.stdin.flush()

    hello = {"protocolVersion": "2025-06-18", "capabilities": {}}
    send({"id": 1, "method": "initialize", "params": {**hello, "clientInfo": CLIENT}})
    assert json.loads(proc.stdout.readline())["id"] == 1
    send({"method": "notifications/initialized"})
    arguments = {"prompt": "Write fizzbuzz.", "tier": "balanced"}
    meta = {"progressToken": "p1"}
    send({"id": 2, "method": "tools/call", "params": {"name": "consult_council",
          "arguments": arguments, "_meta": meta}})  # fmt: skip
    notes = [json.loads(proc.stdout.readline()) for _ in range(3)]  # the three answers
    assert [n["params"]["progress"] for n in notes] == [1, 2, 3]
    time.sleep(0.5)
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    (summary,) = AuditionStore(f"sqlite:///{tmp_path / 'store.db'}").list_sessions()
    assert summary.status == "interrupted"


# --- streamable HTTP ----------------------------------------------------------------------


async def test_streamable_http_on_loopback_serves_the_same_tools(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [*SERVER, "--http", str(port), "--gateway", "sandbox"],
        env=_env(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_port(port, proc)
        async with (
            streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write, *_),
            ClientSession(read, write) as client,
        ):
            await client.initialize()
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS
            seen: list[float] = []

            async def on_progress(value: float, total: float | None, message: str | None) -> None:
                seen.append(value)

            result = await client.call_tool(
                "consult_council", {"prompt": "Reverse a list."}, progress_callback=on_progress
            )
            assert not result.is_error and result.structured_content["status"] == "ok"
            assert seen == list(range(1, len(seen) + 1)) and len(seen) >= 7
    finally:
        proc.terminate()
        stdout, stderr = proc.communicate(timeout=20)
    assert stdout == ""  # stdout is never written to, whichever the transport
    assert f"http://127.0.0.1:{port}/mcp" in stderr


def test_a_bad_config_exits_2_with_one_line_and_nothing_on_stdout(tmp_path):
    done = subprocess.run(
        [*SERVER, "--config", "missing.yaml"],
        env=_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "missing.yaml" in lines[0]


# --- the progress counter --------------------------------------------------------------


async def test_progress_counts_finished_calls_and_refines_the_total_as_stages_start():
    sent: list[tuple[float, float | None, str]] = []

    async def send(value: float, total: float | None, message: str) -> None:
        if value == 2:
            raise RuntimeError("client gone")  # one lost notification loses nothing else
        sent.append((value, total, message))

    pump = ProgressPump(send)
    pumping = asyncio.ensure_future(pump.pump())
    pump.stage_started("answer", 3)  # 3 answers, 3 reviews, 1 chairman expected
    pump.call_finished("answer", "s1", "ok", "a/x", 1200.0)
    pump.call_finished("answer", "s2", "timeout", None, 30000.0)
    pump.call_finished("answer", "s3", "ok", "a/x", 900.0)
    pump.call_finished("reroute", "s3", "ok", "b/y", 800.0)  # unannounced: one more call
    pump.stage_started("review", 3)  # two voices and a judge
    for reviewer in ("s1", "s3", "judge1"):
        pump.call_finished("review" if reviewer != "judge1" else "judge", reviewer, "ok", "a/x", 5)
    pump.stage_started("chairman", 1)
    pump.call_finished("chairman", "chairman", "ok", "c/z", 2000.0)
    pump.close()
    await asyncio.wait_for(pumping, 5)
    assert [(v, t) for v, t, _ in sent] == [(1, 7), (3, 7), (4, 8), (5, 8), (6, 8), (7, 8), (8, 8)]
    assert sent[0][2] == "answer s1: ok -> a/x (1.2s)"
    assert sent[-1][2] == "chairman chairman: ok -> c/z (2.0s)"
