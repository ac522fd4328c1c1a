"""A session's audition write never holds up the event loop, and concurrent sessions'
writes go out together (one transaction, one writer thread) instead of queueing one by one
on SQLite's write lock.

Real SQLite files (WAL) and a real second connection holding the write lock; the logger's
store is subclassed only where a test needs a write to wait or fail on cue.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from llm_council.audition import schema
from llm_council.audition.logger import AuditionLogger
from llm_council.audition.store import AuditionStore, AuditionStoreError
from llm_council.council.result import SessionResult
from tests.audition_data import make_session, registry

REG = registry()
SESSIONS = 50


def _store(path: Path) -> AuditionStore:
    store = AuditionStore(f"sqlite:///{path}")
    store.count_sessions()  # creates the schema, so the lock below is only about writes
    return store


class _Commits:
    """Counts committed transactions on the store's engine and the threads that ran them."""

    def __init__(self, store: AuditionStore) -> None:
        self.threads: list[str] = []
        event.listen(store.engine(), "commit", self._on_commit)

    def _on_commit(self, _conn: object) -> None:
        self.threads.append(threading.current_thread().name)


async def _with_heartbeat(work, period_s: float = 0.002) -> tuple[object, float, int]:
    """Run ``work()`` while a task ticks every ``period_s``; the longest gap between ticks
    is how long the event loop was unavailable."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def beat() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(period_s)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(beat())
    try:
        out = await work()
    finally:
        done.set()
        await ticker
    return out, max(gaps), len(gaps)


def _stored(store: AuditionStore) -> int:
    with store.engine().connect() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.sessions)).scalar() or 0)


def test_fifty_sessions_write_off_the_loop_in_one_or_two_transactions(tmp_path):
    path = tmp_path / "audition.db"
    store = _store(path)
    commits = _Commits(store)
    logger = AuditionLogger(store, REG, spill_to=[tmp_path / "spill"])
    results = [make_session(i) for i in range(SESSIONS)]
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process is writing: the store must wait

    async def work() -> list[str | None]:
        writes = asyncio.gather(*(logger.arecord(r) for r in results))
        # The writer now waits on the lock; the loop must stay free all that time.
        await asyncio.sleep(0.5)
        assert _stored(store) == 0  # nothing slipped past the lock
        other.execute("COMMIT")
        return await writes

    problems, max_gap, beats = asyncio.run(_with_heartbeat(work))
    other.close()
    assert problems == [None] * SESSIONS
    assert _stored(store) == SESSIONS
    # Blocking writes would stall the loop for the whole 0.5 s wait; off the loop, the
    # ticker keeps its 2 ms beat (a generous bound for a loaded 2-core machine).
    assert max_gap < 0.1, max_gap
    assert beats > 100
    # Not 50 commits queued on the lock: the first write waited, everything that arrived
    # meanwhile went out together, all of it from the logger's one writer thread.
    assert 1 <= len(commits.threads) <= 2, commits.threads
    assert all(name.startswith("llm-council-audition") for name in commits.threads)
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    logger.close()
    store.close()


def test_blocking_record_from_many_threads_goes_through_the_one_writer(tmp_path):
    path = tmp_path / "audition.db"
    store = _store(path)
    commits = _Commits(store)
    logger = AuditionLogger(store, REG, spill_to=[tmp_path / "spill"])
    results = [make_session(i) for i in range(20)]
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    out: list[str | None] = []
    threads = [threading.Thread(target=lambda r=r: out.append(logger.record(r))) for r in results]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    other.execute("COMMIT")
    other.close()
    for thread in threads:
        thread.join(timeout=30)
    assert out == [None] * 20 and _stored(store) == 20
    assert len(commits.threads) <= 2 and {n[:20] for n in commits.threads} == {
        "llm-council-audition"
    }
    store.close()


class _GatedStore(AuditionStore):
    """Holds its first write until released, so later sessions pile up behind it."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.entered = threading.Event()
        self.release = threading.Event()
        self.batches: list[int] = []

    def write_session(self, result: SessionResult, reg: object) -> bool:
        self.entered.set()
        self.release.wait(10)
        self.batches.append(1)
        return super().write_session(result, reg)  # type: ignore[arg-type]

    def write_sessions(self, results, reg):  # type: ignore[no-untyped-def]
        self.entered.set()
        self.release.wait(10)
        self.batches.append(len(results))
        return super().write_sessions(results, reg)


def _pile_up(logger: AuditionLogger, store: _GatedStore, results: list[SessionResult]):
    async def go() -> list[str | None]:
        first = asyncio.ensure_future(logger.arecord(results[0]))
        # The writer holds the first session; the rest arrive while it waits.
        assert await asyncio.to_thread(store.entered.wait, 10)
        rest = asyncio.gather(*(logger.arecord(r) for r in results[1:]))
        await asyncio.sleep(0.05)
        store.release.set()
        return [await first, *await rest]

    return asyncio.run(go())


def test_a_session_that_breaks_a_constraint_fails_alone(tmp_path):
    store = _GatedStore(f"sqlite:///{tmp_path / 'a.db'}")
    logger = AuditionLogger(store, REG, spill_to=[tmp_path / "spill"])
    bad = make_session(99)
    bad.seats.append(bad.seats[0].model_copy())  # the same seat id twice: a primary key clash
    results = [make_session(0), make_session(1), bad, make_session(2), make_session(3)]
    problems = _pile_up(logger, store, results)
    # The first write went alone; the other four were tried as one batch, refused for the
    # bad one, then written one by one: the good ones are kept, the bad one is spilled.
    assert store.batches[:2] == [1, 4]
    assert [p is None for p in problems] == [True, True, False, True, True]
    assert "audition store unavailable" in (problems[2] or "")
    assert (tmp_path / "spill" / f"{bad.session_id}.json").exists()
    assert _stored(store) == 4
    store.close()


def test_a_session_handed_over_twice_is_stored_once(tmp_path):
    store = _GatedStore(f"sqlite:///{tmp_path / 'a.db'}")
    logger = AuditionLogger(store, REG, spill_to=[tmp_path / "spill"])
    first, again = make_session(5), make_session(6)
    problems = _pile_up(logger, store, [make_session(0), first, again, first, again])
    assert problems == [None] * 5
    assert store.batches[:2] == [1, 4]
    assert _stored(store) == 3
    store.close()


def test_when_the_store_is_down_every_session_of_a_batch_is_spilled_once(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")

    class DownStore(_GatedStore):
        def write_sessions(self, results, reg):  # type: ignore[no-untyped-def]
            self.entered.set()
            self.release.wait(10)
            self.batches.append(len(results))
            raise AuditionStoreError(f"cannot open the audition store at {self.url_for_humans}")

    store = DownStore(f"sqlite:///{blocker / 'a.db'}")
    logger = AuditionLogger(store, REG, spill_to=[tmp_path / "spill"])
    results = [make_session(i) for i in range(6)]
    problems = _pile_up(logger, store, results)
    # Down for the batch: not retried one by one (each would wait out the busy timeout).
    assert store.batches == [1, 5]
    assert all(p and "audition store unavailable" in p for p in problems)
    assert sorted(p.name for p in (tmp_path / "spill").iterdir()) == sorted(
        f"{r.session_id}.json" for r in results
    )


@pytest.mark.parametrize("sessions", [1, 3])
def test_write_sessions_returns_which_were_new(tmp_path, sessions):
    store = _store(tmp_path / "a.db")
    results = [make_session(i) for i in range(sessions)]
    assert store.write_sessions(results, REG) == [True] * sessions
    assert store.write_sessions([*results, make_session(50)], REG) == [False] * sessions + [True]
    assert store.write_sessions([], REG) == []
    assert _stored(store) == sessions + 1
    assert store.get_session(results[-1].session_id).model_dump(mode="json") == results[
        -1
    ].model_dump(mode="json")
    store.close()
