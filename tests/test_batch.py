"""The batch runner: prompts files, the budget stop, a 429 shared by every session, the
journal, and resuming after a real Ctrl-C without running a finished prompt twice.

Every session goes through ``Council.run`` against the sandbox on a real socket and lands
in a real SQLite audition store.
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
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from llm_council.audition.logger import AuditionLogger
from llm_council.audition.store import AuditionStore
from llm_council.batch import BatchResult, BatchState, ItemOutcome, run_batch
from llm_council.batch_input import (
    BatchInputError,
    Journal,
    JournalEntry,
    PromptItem,
    load_prompts,
    prompt_sha256,
)
from llm_council.cli import app
from llm_council.registry import load_registry
from llm_council.sandbox import SandboxOptions, create_app
from llm_council.sandbox.faults import Fault
from tests.conftest import serve_asgi
from tests.council_helpers import make_config, sandbox_council
from tests.sandbox_process import sandbox_process
from tests.test_rate_gate import Stamped

REPO = Path(__file__).resolve().parents[1]
NAMED = ["anthropic/claude-sonnet-4.6", "openai/gpt-5.4", "google/gemini-3-flash-preview"]
POOL = ["anthropic/claude-sonnet-4.6", "openai/gpt-5.4", "openrouter/pareto-code"]
PROMPTS = [
    "Write fizzbuzz in Python.",
    "Reverse a singly linked list in Python.",
    "Merge two sorted lists in Python.",
    "Parse an ISO date in Python without libraries.",
    "Write a binary search in Python.",
]


def _items(n: int = len(PROMPTS)) -> list[PromptItem]:
    return [PromptItem(id=f"p{i}", prompt=p, tier=None, line=i) for i, p in enumerate(PROMPTS[:n])]


def _store(tmp_path: Path) -> AuditionStore:
    return AuditionStore(f"sqlite:///{tmp_path / 'store.db'}")


def _stored_statuses(store: AuditionStore) -> dict[str, list[str]]:
    """prompt text -> the statuses of its stored sessions."""
    with store.engine().connect() as conn:
        rows = conn.exec_driver_sql("SELECT prompt, status FROM sessions").all()
    found: dict[str, list[str]] = {}
    for prompt, status in rows:
        found.setdefault(prompt, []).append(status)
    return found


class Recorder:
    """A BatchProgress that keeps what it was told."""

    def __init__(self) -> None:
        self.starts: list[tuple[str, float]] = []  # (id, projected spend at that moment)
        self.finished: list[ItemOutcome] = []
        self.stops: list[str] = []

    def session_started(self, item: PromptItem, session_id: str, state: BatchState) -> None:
        projected = state.spent_before_usd + state.spent_usd + sum(state.running.values())
        self.starts.append((item.id, projected))

    def session_finished(self, outcome: ItemOutcome, state: BatchState) -> None:
        self.finished.append(outcome)

    def stopped(self, reason: str, state: BatchState) -> None:
        self.stops.append(reason)


# -- prompts files ----------------------------------------------------------------------


def test_txt_prompts_are_one_per_non_empty_line(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("\ufeffWrite fizzbuzz.\n\n   \n  Reverse a list.  \r\nSort it.\n", "utf-8")
    items = load_prompts(path)
    assert [(i.id, i.prompt, i.tier) for i in items] == [
        ("line-1", "Write fizzbuzz.", None),
        ("line-4", "Reverse a list.", None),
        ("line-5", "Sort it.", None),
    ]


def test_jsonl_prompts_take_id_prompt_and_tier_and_ignore_other_keys(tmp_path):
    path = tmp_path / "p.jsonl"
    rows = [
        {"id": "merge", "prompt": "Merge\n\ntwo lists.", "tier": "high", "tests": "assert 1"},
        {"id": 7, "prompt": "Sort."},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", "utf-8")
    items = load_prompts(path)
    assert [(i.id, i.prompt, i.tier, i.line) for i in items] == [
        ("merge", "Merge\n\ntwo lists.", "high", 1),
        ("7", "Sort.", None, 2),
    ]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("p.jsonl", '{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": "y"}\n', "already used"),
        ("p.jsonl", '{"id": "a", "prompt": "x"}\n{"id": "b"\n', "line 2: not valid JSON"),
        ("p.jsonl", '{"id": "a", "prompt": "  "}\n', "'prompt' must be a non-empty string"),
        ("p.jsonl", '{"prompt": "x"}\n', "'id' must be a non-empty string"),
        ("p.jsonl", '["a", "x"]\n', "must be a JSON object"),
        ("p.jsonl", '{"id": "a", "prompt": "x", "tier": "turbo"}\n', "unknown tier 'turbo'"),
        ("p.txt", "\n  \n", "holds no prompts"),
        ("p.csv", "a,b\n", "must end in .txt"),
    ],
)
def test_bad_prompts_files_name_file_line_and_problem(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content, "utf-8")
    with pytest.raises(BatchInputError, match=expected) as info:
        load_prompts(path)
    assert str(path) in str(info.value)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([".txt", ".jsonl"]))
def test_any_bytes_load_or_fail_with_batch_input_error(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("hostile") / f"p{suffix}"
    path.write_bytes(data)
    try:
        items = load_prompts(path)
    except BatchInputError as exc:
        assert "\n" not in str(exc).strip()
        return
    assert items and all(i.prompt.strip() and i.id for i in items)
    assert len({i.id for i in items}) == len(items)


# -- the budget -------------------------------------------------------------------------


async def test_budget_stop_starts_nothing_past_the_cap_and_lets_running_sessions_finish(
    tmp_path,
):
    registry = load_registry()
    sandbox = create_app(registry, SandboxOptions(latency_ms=80, scale_latency=False))
    store = _store(tmp_path)
    journal = Journal(tmp_path / "j.jsonl")
    journal.open()
    recorder = Recorder()
    with serve_asgi(sandbox) as url:
        council, _ = sandbox_council(
            make_config({"balanced": POOL}), registry=registry, base_url=f"{url}/api/v1"
        )
        council.audition = AuditionLogger(store, registry, spill_to=[tmp_path / "unsent"])
        cap = 0.2
        try:
            result = await run_batch(
                council,
                _items(),
                concurrency=2,
                max_usd=cap,
                journal=journal,
                progress=recorder,
            )
        finally:
            await council.aclose()
            journal.close()
    assert result.stopped == "budget" and recorder.stops == [result.stop_reason]
    assert "--max-usd 0.2" in (result.stop_reason or "")
    ran = [o.id for o in result.outcomes]
    assert ran and result.not_started and ran + result.not_started == [i.id for i in _items()]
    # No session started while the projected spend (real costs + running estimates + its
    # own estimate) was above the cap; and the stop came when the next one would pass it.
    assert all(projected <= cap for _, projected in recorder.starts)
    first_left = result.not_started[0]
    assert result.spent_usd + _estimate_of(first_left, council) > cap
    # The running sessions finished: none was cut short, each is in the store as ok.
    assert [o.status for o in result.outcomes] == ["ok"] * len(ran)
    stored = _stored_statuses(store)
    assert sorted(stored) == sorted(PROMPTS[: len(ran)])
    assert all(statuses == ["ok"] for statuses in stored.values())
    assert result.spent_usd == pytest.approx(sum(o.cost_usd for o in result.outcomes))
    # The journal holds nothing for prompts that never started, so --resume runs them.
    ids = {e.id for e in journal.read()}
    assert ids == set(ran)


def _estimate_of(item_id: str, council: Any) -> float:
    from llm_council.council.estimate import estimate_session

    item = next(i for i in _items() if i.id == item_id)
    return estimate_session(council.plan("balanced"), council.registry, item.prompt).cost_usd


def test_cli_budget_stop_exits_1_and_the_summary_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.txt").write_text("\n".join(PROMPTS) + "\n", "utf-8")
    result = CliRunner().invoke(
        app, ["batch", "p.txt", "--max-usd", "0.1", "--concurrency", "1", "--json"]
    )
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert summary["stopped"] == "budget" and summary["not_started"]
    assert summary["done"] == len(summary["outcomes"]) >= 1
    assert summary["spent_usd"] <= 0.1
    assert "stopped at the budget" in result.stderr and "--resume" in result.stderr
    assert _stored_statuses(AuditionStore(f"sqlite:///{tmp_path / 'a.db'}")).keys() == {
        PROMPTS[i] for i in range(summary["done"])
    }


def test_cli_refuses_an_unpriced_model_under_a_cap_and_a_stale_journal(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.txt").write_text("Write fizzbuzz.\n", "utf-8")
    runner = CliRunner()
    # The sandbox refuses unknown ids, so price-checking happens before any call.
    monkeypatch.setenv("LLM_COUNCIL_MODELS_BALANCED", "openai/gpt-5.4,acme/unknown-coder")
    unpriced = runner.invoke(app, ["batch", "p.txt", "--max-usd", "1"])
    assert unpriced.exit_code == 2 and "no price for acme/unknown-coder" in unpriced.stderr
    monkeypatch.delenv("LLM_COUNCIL_MODELS_BALANCED")
    first = runner.invoke(app, ["batch", "p.txt"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["batch", "p.txt"])
    assert again.exit_code == 2 and "pass --resume" in again.stderr
    (tmp_path / "p.txt").write_text("Write something else.\n", "utf-8")
    changed = runner.invoke(app, ["batch", "p.txt", "--resume"])
    assert changed.exit_code == 2 and "another prompt under id 'line-1'" in changed.stderr
    missing = runner.invoke(app, ["batch", "nope.jsonl"])
    assert missing.exit_code == 2 and "cannot read nope.jsonl" in missing.stderr


# -- a 429 slows the whole batch --------------------------------------------------------


async def test_one_429_with_retry_after_holds_back_every_session(tmp_path):
    """Docs: OpenRouter "Limits" (rate limits are per account; headers on the error).

    Three sessions run at once; one stage-1 call gets 429 with Retry-After: 1. The other two
    sessions' stage-1 answers come back 0.3 s later and would go on to stage 2 at once; with
    the shared gate no request reaches the server until the second is over.
    """
    registry = load_registry()
    sandbox = create_app(registry, SandboxOptions(latency_ms=300, scale_latency=False))
    sandbox.set_fault(NAMED[1], Fault(kind="status", status=429, retry_after=1, times=1))
    stamped = Stamped(sandbox)
    store = _store(tmp_path)
    with serve_asgi(stamped) as url:
        council, _ = sandbox_council(
            make_config({"balanced": NAMED}), registry=registry, base_url=f"{url}/api/v1"
        )
        council.audition = AuditionLogger(store, registry, spill_to=[tmp_path / "unsent"])
        try:
            result = await run_batch(
                council, _items(3), concurrency=3, rate_gate=council.gateway.rate_gate
            )
        finally:
            await council.aclose()
    (limited,) = stamped.limited()
    after = [e["t"] - limited["answered"] for e in stamped.log if e["t"] > limited["t"]]
    # Server side: nothing arrived in the held second (a request already on the wire when
    # the 429 went out may land within a few ms of it).
    assert not [d for d in after if 0.05 < d < 0.95], sorted(after)
    # ...and then everything else did: the retry, and stages 2 and 3 of all three sessions.
    assert len([d for d in after if d >= 0.95]) >= 1 + 3 * (3 + 1)
    assert [o.status for o in result.outcomes] == ["ok"] * 3
    assert result.rate_limit_holds == 1
    assert sorted(_stored_statuses(store)) == sorted(PROMPTS[:3])


# -- interruption and resume ------------------------------------------------------------


async def test_cancelling_a_batch_marks_running_sessions_and_resume_runs_only_those(tmp_path):
    registry = load_registry()
    sandbox = create_app(registry, SandboxOptions(latency_ms=150, scale_latency=False))
    store = _store(tmp_path)
    path = tmp_path / "j.jsonl"
    kept: list[BatchResult] = []
    with serve_asgi(sandbox) as url:

        def council_() -> Any:
            council, _ = sandbox_council(
                make_config({"balanced": POOL}), registry=registry, base_url=f"{url}/api/v1"
            )
            council.audition = AuditionLogger(store, registry, spill_to=[tmp_path / "unsent"])
            return council

        council = council_()
        journal = Journal(path)
        journal.open()
        recorder = Recorder()
        task = asyncio.create_task(
            run_batch(
                council,
                _items(4),
                concurrency=2,
                journal=journal,
                progress=recorder,
                on_interrupt=kept.append,
            )
        )
        while not recorder.finished:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # the next session is in its first stage
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await council.aclose()
        journal.close()
        (partial,) = kept
        assert partial.stopped == "interrupted" and partial.interrupted >= 1
        finished_first = {o.id for o in partial.outcomes if o.status == "ok"}
        interrupted = {o.id for o in partial.outcomes if o.status == "interrupted"}
        last = {e.id: e.status for e in Journal(path).read()}
        assert {i for i, s in last.items() if s == "interrupted"} == interrupted
        assert {i for i, s in last.items() if s == "ok"} == finished_first

        council = council_()
        journal = Journal(path)
        journal.open()
        try:
            resumed = await run_batch(council, _items(4), concurrency=2, journal=journal)
        finally:
            await council.aclose()
            journal.close()
    assert set(resumed.skipped) == finished_first
    assert {o.id for o in resumed.outcomes} == {i.id for i in _items(4)} - finished_first
    assert resumed.spent_before_usd == pytest.approx(partial.spent_usd)
    stored = _stored_statuses(store)
    for item in _items(4):
        assert [s for s in stored[item.prompt] if s != "interrupted"] == ["ok"], item.id


async def test_a_session_the_journal_saw_start_but_not_end_is_settled_from_the_store(tmp_path):
    """A second Ctrl-C (or a kill) can leave ``running`` as the last line of a prompt."""
    registry = load_registry()
    store = _store(tmp_path)
    council, _ = sandbox_council(make_config({"balanced": POOL}), registry=registry)
    council.audition = AuditionLogger(store, registry, spill_to=[tmp_path / "unsent"])
    items = _items(2)
    done = await council.run(items[0].prompt, "balanced")  # stored, journal never told
    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    journal.open()
    for item, session_id in ((items[0], done.session_id), (items[1], "never-stored-0001")):
        journal.append(
            JournalEntry(
                id=item.id,
                prompt_sha256=prompt_sha256(item.prompt),
                session_id=session_id,
                status="running",
                estimate_usd=0.05,
            )
        )
    try:
        result = await run_batch(council, items, journal=journal)
    finally:
        await council.aclose()
        journal.close()
    assert result.skipped == ["p0"]  # found finished in the store: not run again
    assert [o.id for o in result.outcomes] == ["p1"]
    # The lost session counts at its estimate: it may have been paid for.
    assert result.spent_before_usd == pytest.approx(done.usage.cost_usd + 0.05)
    statuses = [(e.id, e.status) for e in Journal(path).read()]
    assert ("p0", "ok") in statuses and ("p1", "lost") in statuses
    assert _stored_statuses(store)[items[0].prompt] == ["ok"]


@pytest.fixture
def sandbox_server():
    """``llm-council sandbox serve`` in its own process; every model takes 0.25 s."""
    with sandbox_process(250) as url:
        yield url


def _env(tmp_path: Path, base_url: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "OPENROUTER_BASE_URL": base_url,
        "OPENROUTER_API_KEY": "sk-or-test-batch-0123456789",
        "LLM_COUNCIL_AUDITION_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "LLM_COUNCIL_MODELS_BALANCED": ",".join(POOL),
        "PYTHONPATH": str(REPO),
    }


def test_resume_after_sigint_runs_each_prompt_to_exactly_one_finished_session(
    tmp_path, sandbox_server
):
    prompts = tmp_path / "prompts.jsonl"
    rows = [{"id": f"q{i}", "prompt": p} for i, p in enumerate(PROMPTS[:4])]
    prompts.write_text("\n".join(json.dumps(r) for r in rows) + "\n", "utf-8")
    env = _env(tmp_path, sandbox_server)
    command = [sys.executable, "-m", "llm_council", "batch", str(prompts), "--concurrency", "2"]
    proc = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    started = time.monotonic()
    for line in proc.stderr:  # plain progress lines: stderr is not a terminal
        if line.startswith("batch: [1/"):
            break
        assert time.monotonic() - started < 30, "no session finished"
    time.sleep(0.3)  # the next sessions are under way
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=30)
    assert proc.returncode == 130, rest
    assert "--resume" in rest
    journal = Journal(prompts.with_name("prompts.jsonl.journal.jsonl"))
    first = journal.read()
    last = {e.id: e for e in first}
    finished = {i for i, e in last.items() if e.status == "ok"}
    cut = {i for i, e in last.items() if e.status == "interrupted"}
    assert finished and cut and finished.isdisjoint(cut)
    assert all(e.status != "running" for e in last.values())

    resumed = subprocess.run(
        [*command, "--resume", "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert set(summary["skipped"]) == finished
    assert {o["id"] for o in summary["outcomes"]} == {r["id"] for r in rows} - finished
    assert summary["done"] == len(rows) - len(finished)

    store = AuditionStore(f"sqlite:///{tmp_path / 'store.db'}")
    stored = _stored_statuses(store)
    for row in rows:
        statuses = stored[row["prompt"]]
        assert [s for s in statuses if s != "interrupted"] == ["ok"], row["id"]
        expect_cut = 1 if row["id"] in cut else 0
        assert statuses.count("interrupted") == expect_cut, row["id"]
    # The prompts finished before Ctrl-C kept their first session: no second one was made.
    for prompt_id in finished:
        assert store.get_session(last[prompt_id].session_id or "").status == "ok"
