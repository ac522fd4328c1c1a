"""Four processes writing 50 sessions each into one SQLite file, and into one PostgreSQL db.

The database starts empty and nobody opens it first: the four processes leave a barrier
together and race to create the schema (SQLite's write lock, PostgreSQL's advisory lock),
exactly one of them must create it. Every one of them also writes one shared session,
which must end up stored exactly once.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest
from sqlalchemy import func, select

from llm_council.audition import schema
from llm_council.audition.store import AuditionStore
from tests.pg import postgres_server, postgres_url  # noqa: F401  (fixtures)

PROCESSES, SESSIONS = 4, 50
SHARED_ID = "5ba4ed00-0000-4000-8000-000000000000"

Expected = dict[str, tuple[int, int, int]]  # session id -> (seats, flags, calls)


def _worker(url: str, worker: int, barrier: Any, out: Any) -> None:
    """Write SESSIONS distinct sessions plus the shared one through the audition logger."""
    from llm_council.audition.logger import AuditionLogger
    from tests.audition_data import GROK, KIMI, MINI, SONNET, make_session, registry

    try:
        sessions = [make_session(0, session_id=SHARED_ID)]
        for i in range(SESSIONS):
            n = worker * 1000 + i
            sessions.append(
                make_session(
                    n,
                    seats=3 + n % 2,  # 3 or 4 seats, the last one Pareto
                    pareto_model=(MINI, KIMI, GROK, SONNET)[n % 4],
                    drift_to=SONNET if n % 5 == 0 else None,
                    failed_seat="s2" if n % 7 == 0 else None,
                    routed=n % 3 == 0,
                )
            )
        logger = AuditionLogger(AuditionStore(url), registry(), spill_to=[])
        expected: Expected = {
            s.session_id: (len(s.seats), sum(len(seat.flags) for seat in s.seats), len(s.calls))
            for s in sessions
        }
        barrier.wait(timeout=60)  # all four open the empty database together
        problems = [p for p in (logger.record(s) for s in sessions) if p]
        logger.store.close()
        out.put((worker, expected, problems, logger.store.schema_upgrades))
    except BaseException as exc:  # report, don't hang the parent
        out.put((worker, {}, [f"{type(exc).__name__}: {exc}"], ()))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return request.getfixturevalue("postgres_url")


def test_four_writers_lose_and_duplicate_nothing(shared_url):
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(shared_url, w, barrier, out)) for w in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    outcomes = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert [p for _, _, problems, _ in outcomes for p in problems] == []  # no write failed
    # Exactly one process created the schema; the others waited and found it done.
    assert sorted(upgrades for *_, upgrades in outcomes) == [(), (), (), (1, 2, 3, 4)]
    expected: Expected = {}
    for _, got, _, _ in outcomes:
        expected.update(got)
    assert len(expected) == PROCESSES * SESSIONS + 1

    store = AuditionStore(shared_url)
    s, st, fl, ca = schema.sessions, schema.seats, schema.flags, schema.calls
    with store.engine().connect() as conn:
        stored = list(conn.execute(select(s.c.session_id)).scalars())
        per_table = {
            name: dict(
                conn.execute(select(t.c.session_id, func.count()).group_by(t.c.session_id)).all()
            )
            for name, t in (("seats", st), ("flags", fl), ("calls", ca))
        }
        dup_calls = conn.execute(
            select(ca.c.session_id, ca.c.seq)
            .group_by(ca.c.session_id, ca.c.seq)
            .having(func.count() > 1)
        ).all()
        flag_key = (fl.c.session_id, fl.c.seat_id, fl.c.kind, fl.c.with_seat, fl.c.stage2_model)
        dup_flags = conn.execute(
            select(*flag_key).group_by(*flag_key).having(func.count() > 1)
        ).all()
    assert sorted(stored) == sorted(expected)  # every session once (it is the primary key)
    for index, name in enumerate(("seats", "flags", "calls")):
        want = {sid: counts[index] for sid, counts in expected.items() if counts[index]}
        assert per_table[name] == want, name
    assert dup_calls == [] and dup_flags == []
    assert store.counts()["schema_version"] == 4  # versions 1 to 4, each recorded once
    store.close()


def test_opening_a_file_another_writer_holds_waits_for_the_switch_to_wal(tmp_path):
    """SQLite refuses a contended switch to WAL with "database is locked" at once, without
    calling the busy handler; the store must wait for it as it waits for any other lock
    (seen as lost writes when several processes opened a new store together)."""
    import sqlite3
    import threading
    import time

    from tests.audition_data import make_session, registry

    path = tmp_path / "held.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE other (x)")  # a rollback-journal file, as a new one starts
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO other VALUES (1)")
    released = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    released.start()
    store = AuditionStore(f"sqlite:///{path}")
    t0 = time.monotonic()
    try:
        assert store.write_session(make_session(1), registry()) is True
    finally:
        released.join()
        holder.close()
        store.close()
    assert time.monotonic() - t0 >= 0.4  # it waited for the holder instead of failing
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
