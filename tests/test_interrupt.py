"""Interrupting a session keeps every paid call: in-process cancellation and a real SIGINT.

The session is stored with status ``interrupted``; calls that finished are kept as they
were, calls in flight are recorded as ``cancelled``, and the CLI says what it kept.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llm_council.audition.logger import AuditionLogger
from llm_council.audition.store import AuditionStore
from llm_council.council.result import SessionResult
from llm_council.registry import load_registry
from llm_council.sandbox import SandboxOptions, create_app
from tests.council_helpers import make_config, sandbox_council
from tests.sandbox_process import sandbox_process

PARETO = "openrouter/pareto-code"
POOL = ["anthropic/claude-sonnet-4.6", "openai/gpt-5.4", PARETO]
REPO = Path(__file__).resolve().parents[1]


class CancelDuringReview:
    """Cancels the session's task a little after stage 2 has started."""

    def __init__(self, task_holder: list[asyncio.Task[SessionResult]], after_s: float) -> None:
        self._tasks = task_holder
        self._after_s = after_s

    def stage_started(self, stage: str, calls: int) -> None:
        if stage == "review":
            asyncio.get_running_loop().call_later(self._after_s, self._tasks[0].cancel)

    def call_finished(self, *args: object) -> None:
        pass


async def test_cancel_in_stage_two_keeps_finished_calls_and_stores_the_session(tmp_path):
    registry = load_registry()
    app = create_app(registry, SandboxOptions(latency_ms=300, scale_latency=False))
    council, _ = sandbox_council(make_config({"balanced": POOL}), registry=registry, app=app)
    store = AuditionStore(f"sqlite:///{tmp_path / 'a.db'}")
    council.audition = AuditionLogger(store, registry, spill_to=[tmp_path / "unsent"])
    kept: list[SessionResult] = []
    tasks: list[asyncio.Task[SessionResult]] = []
    task = asyncio.create_task(
        council.run(
            "Write fizzbuzz.",
            "balanced",
            progress=CancelDuringReview(tasks, 0.1),
            on_interrupt=kept.append,
        )
    )
    tasks.append(task)
    with pytest.raises(asyncio.CancelledError):
        await task
    await council.aclose()

    (result,) = kept
    assert result.status == "interrupted"
    answers = [c for c in result.calls if c.stage == "answer"]
    reviews = [c for c in result.calls if c.stage == "review"]
    assert [c.status for c in answers] == ["ok"] * 3
    assert reviews and all(c.status == "cancelled" for c in reviews)
    assert all(s.status == "ok" and s.answer for s in result.seats)
    assert result.chairman.status == "cancelled" and result.synthesis is None
    assert any("interrupted during the review stage" in n for n in result.notices)
    # The cancellation still reached the caller unchanged, and the record is in the store.
    assert task.cancelled()
    stored = store.get_session(result.session_id)
    assert stored.status == "interrupted"
    with store.engine().connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT stage, status FROM calls WHERE session_id = ? ORDER BY seq",
            (result.session_id,),
        ).all()
    assert sorted(rows) == sorted((c.stage, c.status) for c in result.calls)
    assert result.usage.cost_usd > 0  # the paid answers are counted


async def test_cancel_in_stage_one_records_each_seat_as_finished_or_cancelled():
    registry = load_registry()
    # One seat answers at once, the others take long: the cancel lands between them.
    options = SandboxOptions(
        latency_ms=2000, scale_latency=False, per_model_latency_ms={"openai/gpt-5.4": 0}
    )
    app = create_app(registry, options)
    council, _ = sandbox_council(make_config({"balanced": POOL}), registry=registry, app=app)
    kept: list[SessionResult] = []
    task = asyncio.create_task(council.run("Write fizzbuzz.", "balanced", on_interrupt=kept.append))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await council.aclose()
    (result,) = kept
    statuses = {s.seat_id: s.status for s in result.seats}
    assert statuses == {"s1": "cancelled", "s2": "ok", "s3": "cancelled"}
    assert result.seat("s2").answer
    assert result.chairman.status == "cancelled" and not result.reviews
    assert sorted(c.status for c in result.calls) == ["cancelled", "cancelled", "ok"]


async def test_a_bug_in_one_call_does_not_crash_the_session_or_orphan_siblings():
    """An exception that is not a GatewayError is recorded as that seat's error."""
    council, _ = sandbox_council(make_config({"balanced": POOL}))
    real_complete = council.gateway.complete

    async def complete(request):
        if request.model == "openai/gpt-5.4":
            raise KeyError("boom")
        return await real_complete(request)

    council.gateway.complete = complete  # type: ignore[method-assign]
    result = await council.run("Write fizzbuzz.", "balanced")
    await council.aclose()
    assert result.status == "partial"
    bad = result.seat("s2")
    assert bad.status == "error" and "internal error: KeyError" in (bad.error or "")
    assert result.seat("s1").status == "ok" and result.seat("s3").status == "ok"


# --- a real Ctrl-C against a real socket -------------------------------------------------


@pytest.fixture
def slow_sandbox():
    """``llm-council sandbox serve`` in its own process, every model taking 1.5 s."""
    with sandbox_process(1500) as url:
        yield url


def _cli_env(tmp_path: Path, base_url: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "OPENROUTER_BASE_URL": base_url,
        "OPENROUTER_API_KEY": "sk-or-test-interrupt-0123456789",
        "LLM_COUNCIL_AUDITION_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "LLM_COUNCIL_MODELS_BALANCED": ",".join(POOL),
        "LLM_COUNCIL_LOG_LEVEL": "info",
        "PYTHONPATH": str(REPO),
    }
    return env


def test_sigint_in_stage_two_exits_130_and_stores_the_interrupted_session(tmp_path, slow_sandbox):
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_council", "run", "Write fizzbuzz.", "--json"],
        env=_cli_env(tmp_path, slow_sandbox),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Stage 1 takes 1.5 s; the Pareto seat's answer is logged when it arrives, and stage 2
    # (another 1.5 s) starts right after. Interrupt in the middle of it.
    assert proc.stderr is not None
    started = time.monotonic()
    for line in proc.stderr:
        if "pareto.resolved" in line:
            break
        assert time.monotonic() - started < 30, "stage 1 never finished"
    time.sleep(0.6)
    proc.send_signal(signal.SIGINT)
    stdout, rest = proc.communicate(timeout=30)
    assert proc.returncode == 130, rest
    assert "interrupted: kept 3 finished call(s)" in rest
    payload = json.loads(stdout)
    assert payload["status"] == "interrupted"
    store = AuditionStore(f"sqlite:///{tmp_path / 'store.db'}")
    stored = store.get_session(payload["session_id"])
    assert stored.status == "interrupted"
    with store.engine().connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT stage, status FROM calls WHERE session_id = ?", (payload["session_id"],)
        ).all()
    assert sorted(s for stage, s in rows if stage == "answer") == ["ok"] * 3
    assert sorted(s for stage, s in rows if stage == "review") == ["cancelled"] * 3


def test_a_second_sigint_exits_at_once(tmp_path, slow_sandbox):
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_council", "run", "Write fizzbuzz."],
        env=_cli_env(tmp_path, slow_sandbox),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "pareto.resolved" in line:
            break
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    _, rest = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert time.monotonic() - t0 < 5
    assert "interrupt" in rest
