"""Schema v1 -> v2, and stores this process may read but not write.

A writable store is upgraded on first use, its data kept. A store that cannot be written
(SQLite ``mode=ro``, a read-only file and directory, a PostgreSQL role with only SELECT, a
database turned read-only) is read as it is, with a notice when it is behind; whatever
cannot be written is spilled, never lost.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from llm_council.audition.logger import AuditionLogger
from llm_council.audition.store import AuditionStore, AuditionStoreError
from tests.audition_data import MINI, make_session, registry, write_v1_store
from tests.pg import add_role, admin_execute, postgres_server, postgres_url  # noqa: F401  (fixtures)

REG = registry()
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audition.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def pg_url(request):
    return request.getfixturevalue("postgres_url")


def behind_notice(url: str) -> str:
    return (
        f"the store at {url} is at schema version 1, this llm-council writes 4; "
        "open it writable once to upgrade"
    )


def columns(url: str, table: str) -> set[str]:
    """The columns of ``table`` as the database has them (looked at without the store)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {c["name"] for c in inspect(conn).get_columns(table)}
    finally:
        engine.dispose()


# -- v1 -> v2 on a writable store ----------------------------------------------------------


def test_a_v1_store_is_upgraded_on_first_use_and_keeps_its_data(store_url):
    old = [make_session(1), make_session(2, seats=3, tier="high", failed_seat="s2")]
    write_v1_store(store_url, old)
    store = AuditionStore(store_url)
    # Reading is enough: the store is writable, so it is brought current first.
    assert [s.session_id for s in store.list_sessions()] == [r.session_id for r in old[::-1]]
    assert store.schema_upgrades == (2, 3, 4) and store.notices == []
    assert store.schema_version() == 4
    assert {"provider", "router_json"} <= columns(store_url, "calls")
    assert "borda_peers" in columns(store_url, "seats")
    assert {"router_candidates", "router_attempts", "reviews", "review_ranks"} <= set(
        store.table_names()
    )
    for result in old:  # v1 rows read back whole; the v2 fields are simply empty
        stored = store.get_session(result.session_id)
        assert stored.model_dump(mode="json") == result.model_dump(mode="json")
        assert stored.calls == result.calls
        assert all(c.provider is None and c.router is None for c in stored.calls)
    # Reviews are kept from version 2 on: the v1 sessions have none (their JSON still does).
    assert store.get_reviews([r.session_id for r in old]) == {}
    new = make_session(3, routed=True, judges=1)
    assert store.write_session(new, REG) is True
    assert store.get_calls(new.session_id) == new.calls
    reviews = store.get_reviews([new.session_id])[new.session_id]
    assert [(r.reviewer, r.judge, r.order) for r in reviews] == [
        (r.reviewer_seat, r.judge, r.order) for r in new.reviews
    ]
    assert store.counts() == {
        "schema_version": 4,
        "sessions": 3,
        "seats": 11,
        "flags": 6,
        "calls": 9 + 6 + 10,  # the new session had a judge
        "router_candidates": 6,
        "router_attempts": 3,
        "reviews": 5,
        "review_ranks": 4 * 3 + 4,
        "attachments": 0,
    }
    store.close()
    again = AuditionStore(store_url)
    assert again.schema_version() == 4 and again.schema_upgrades == ()  # nothing left to do
    again.close()


def test_a_write_is_what_upgrades_a_v1_store_too(store_url):
    write_v1_store(store_url, [make_session(1)])
    store = AuditionStore(store_url)
    assert store.write_session(make_session(2, routed=True), REG) is True
    assert store.schema_upgrades == (2, 3, 4) and store.counts()["router_attempts"] == 3
    store.close()


# -- SQLite, read-only ---------------------------------------------------------------------


def test_a_read_only_sqlite_store_behind_is_read_as_it_is(tmp_path):
    path = tmp_path / "audition.db"
    old = [make_session(1), make_session(2)]
    write_v1_store(f"sqlite:///{path}", old)
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    store = AuditionStore(url)
    assert [s.session_id for s in store.list_sessions()] == [r.session_id for r in old[::-1]]
    assert store.notices == [behind_notice(url)] and store.read_only
    assert store.schema_version() == 1 and store.count_sessions() == 2
    assert not store.has_table("router_candidates") and not store.has_column("calls", "provider")
    assert not store.has_table("reviews") and not store.has_column("seats", "borda_peers")
    assert store.has_column("calls", "generation_id")
    assert store.get_reviews([r.session_id for r in old]) == {}
    stored = store.get_session(old[0].session_id[:8])
    assert stored.model_dump(mode="json") == old[0].model_dump(mode="json")
    assert store.get_calls(old[1].session_id) == old[1].calls
    assert store.counts()["router_candidates"] == 0 and store.counts()["calls"] == 18
    assert store.counts()["reviews"] == store.counts()["review_ranks"] == 0
    # Writing is refused and spilled; the file is not touched.
    logger = AuditionLogger(store, REG, spill_to=[tmp_path / "spill"])
    message = logger.record(make_session(3))
    assert message and "readonly database" in message and str(tmp_path / "spill") in message
    with pytest.raises(AuditionStoreError, match="readonly database"):
        store.write_session(make_session(4), REG)
    store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT max(version) FROM schema_version").fetchone() == (1,)
        columns = {row[1] for row in raw.execute("PRAGMA table_info(calls)")}
        assert "router_json" not in columns
    assert store.notices == [behind_notice(url)]  # said once, however often it was opened


def _other_user() -> list[str] | None:
    """The command prefix that runs a subprocess as a user who cannot write root's files."""
    if os.geteuid() != 0:
        return []  # file modes bind us already
    if shutil.which("setpriv") is None:
        return None
    try:
        import pwd

        nobody = pwd.getpwnam("nobody")
    except KeyError:
        return None
    return [
        "setpriv",
        f"--reuid={nobody.pw_uid}",
        f"--regid={nobody.pw_gid}",
        "--clear-groups",
    ]


@pytest.fixture
def locked_dir() -> Iterator[Path]:
    """A directory only its owner (root, or this user with mode 0555) can write."""
    directory = Path(tempfile.mkdtemp(prefix="llm-council-ro-"))
    directory.chmod(0o755)
    yield directory
    directory.chmod(0o755)
    for path in directory.iterdir():
        path.chmod(0o644)
    shutil.rmtree(directory, ignore_errors=True)


def _lock(directory: Path, db: Path) -> None:
    db.chmod(0o444)
    if os.geteuid() != 0:
        directory.chmod(0o555)


def _cli(prefix: list[str], home: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "LLM_"))}
    env |= {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "LLM_COUNCIL_AUDITION_URL": url,
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [*prefix, sys.executable, "-m", "llm_council", *args],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _home_for(prefix: list[str]) -> Path:
    home = Path(tempfile.mkdtemp(prefix="llm-council-home-"))
    if prefix:  # root runs the subprocess as nobody: give nobody its home
        import pwd

        nobody = pwd.getpwnam("nobody")
        os.chown(home, nobody.pw_uid, nobody.pw_gid)
    return home


def test_a_read_only_file_in_a_read_only_directory_is_listed_shown_and_reported(locked_dir):
    """chmod 0444 and a directory the user cannot write: the WAL store still reads."""
    prefix = _other_user()
    if prefix is None:
        pytest.skip("running as root without setpriv and a 'nobody' user to drop to")
    db = locked_dir / "audition.db"
    url = f"sqlite:///{db}"
    results = [make_session(1, routed=True), make_session(2)]
    store = AuditionStore(url)
    for result in results:
        store.write_session(result, REG)
    store.close()
    _lock(locked_dir, db)
    home = _home_for(prefix)
    try:
        listed = _cli(prefix, home, url, "sessions", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        page = json.loads(listed.stdout)
        assert [s["session_id"] for s in page["sessions"]] == [r.session_id for r in results[::-1]]
        assert page["total"] == 2 and page["notices"] == []
        shown = _cli(prefix, home, url, "sessions", "show", results[0].session_id[:8], "--json")
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["calls"][3]["router"]["candidates"][-1] == {
            "model": MINI,
            "provider": "openai",
            "selected": True,
        }
        report = _cli(prefix, home, url, "report", "--format", "json")
        assert report.returncode == 0, report.stderr
        assert json.loads(report.stdout)["window"]["sessions"] == 2
        assert sorted(p.name for p in locked_dir.iterdir()) == ["audition.db"]  # nothing made
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_a_read_only_v1_file_is_read_with_a_notice_and_a_run_spills(locked_dir):
    prefix = _other_user()
    if prefix is None:
        pytest.skip("running as root without setpriv and a 'nobody' user to drop to")
    db = locked_dir / "audition.db"
    url = f"sqlite:///{db}"
    old = make_session(1)
    write_v1_store(url, [old])
    _lock(locked_dir, db)
    home = _home_for(prefix)
    try:
        listed = _cli(prefix, home, url, "sessions", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        page = json.loads(listed.stdout)
        assert [s["session_id"] for s in page["sessions"]] == [old.session_id]
        assert page["notices"] == [behind_notice(url)]
        assert "open it writable once to upgrade" in listed.stderr
        shown = _cli(prefix, home, url, "sessions", "show", old.session_id, "--json")
        assert shown.returncode == 0, shown.stderr
        assert [c["router"] for c in json.loads(shown.stdout)["calls"]] == [None] * 9
        # A session run against it completes; its record goes to unsent/ and says so.
        run = _cli(prefix, home, url, "run", "Merge two sorted lists.", "--gateway", "sandbox")
        assert run.returncode == 0, run.stderr
        spilled = list((home / "data" / "llm-council" / "unsent").glob("*.json"))
        assert len(spilled) == 1, run.stdout + run.stderr
        said = " ".join((run.stdout + run.stderr).split())
        assert "audition store unavailable" in said and "readonly database" in said
        assert len(json.loads(spilled[0].read_text())["calls"]) > 0
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as raw:
            assert raw.execute("SELECT count(*) FROM sessions").fetchone() == (1,)
    finally:
        shutil.rmtree(home, ignore_errors=True)


# -- PostgreSQL, read-only ------------------------------------------------------------------


def _db(url: str) -> str:
    return url.rsplit("/", 1)[1]


@pytest.mark.postgres
def test_a_select_only_role_reads_and_its_writes_are_spilled(pg_url, tmp_path):
    results = [make_session(1, routed=True), make_session(2)]
    owner = AuditionStore(pg_url)
    for result in results:
        owner.write_session(result, REG)
    owner.close()
    reader_url = add_role(pg_url, f"reader_{_db(pg_url)}")
    reader = AuditionStore(reader_url)
    assert [s.session_id for s in reader.list_sessions()] == [r.session_id for r in results[::-1]]
    assert reader.get_calls(results[0].session_id) == results[0].calls
    assert reader.notices == [] and reader.schema_version() == 4
    logger = AuditionLogger(reader, REG, spill_to=[tmp_path])
    message = logger.record(make_session(3))
    assert message and "permission denied" in message and str(tmp_path) in message
    assert reader.count_sessions() == 2
    reader.close()


@pytest.mark.postgres
def test_a_select_only_role_reads_a_v1_database_as_it_is(pg_url):
    old = [make_session(1), make_session(2)]
    write_v1_store(pg_url, old)
    reader_url = add_role(pg_url, f"reader_{_db(pg_url)}")
    reader = AuditionStore(reader_url)
    assert reader.count_sessions() == 2
    assert reader.notices == [behind_notice(reader.url_for_humans)]
    assert reader.get_session(old[1].session_id).calls == old[1].calls
    assert not reader.has_table("router_attempts") and reader.schema_upgrades == ()
    reader.close()
    assert "router_json" not in columns(pg_url, "calls")  # the reader changed nothing
    owner = AuditionStore(pg_url)
    assert owner.count_sessions() == 2 and "router_json" in columns(pg_url, "calls")
    assert owner.schema_upgrades == (2, 3, 4) and owner.notices == []  # the owner upgraded it
    owner.close()


@pytest.mark.postgres
async def test_a_database_turned_read_only_after_open_spills_the_next_session(pg_url, tmp_path):
    """Opened, then failed over read-only: the session still completes, its record is spilled."""
    from tests.council_helpers import make_config, sandbox_council

    council, _ = sandbox_council(make_config())
    store = AuditionStore(pg_url)
    council.audition = AuditionLogger(store, REG, spill_to=[tmp_path / "spill"])
    prompt = "Write a Python function that merges two sorted lists."
    first = await council.run(prompt, "balanced")
    assert not any("audition store" in n for n in first.notices)
    db = _db(pg_url)
    admin_execute(
        pg_url,
        f'ALTER DATABASE "{db}" SET default_transaction_read_only = on',
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}' "
        "AND pid <> pg_backend_pid()",
    )
    second = await council.run(prompt, "balanced")
    await council.aclose()
    assert second.status == "ok"
    spill = tmp_path / "spill" / f"{second.session_id}.json"
    (problem,) = [n for n in second.notices if n.startswith("audition store unavailable")]
    assert "read-only transaction" in problem and str(spill) in problem
    assert len(json.loads(spill.read_text())["calls"]) == len(second.calls) > 0
    assert store.count_sessions() == 1 and store.get_session(first.session_id)
    store.close()


# -- v3 stores from a build whose step 2 lacked seats.tier and seats.day -------------------


def test_a_v3_store_missing_what_step_2_later_declared_is_repaired_by_v4(store_url):
    """Step 2 gained seats.tier and seats.day after some stores had run it: such a store is
    at version 3 without them and every write failed ("table seats has no column named
    tier"; found on a developer's machine). Version 4 adds and backfills them."""
    store = AuditionStore(store_url)
    old = [make_session(1), make_session(2, tier="high")]
    for result in old:
        assert store.write_session(result, REG) is True
    store.close()
    engine = create_engine(store_url)
    with engine.begin() as conn:  # the shape such a store has
        for index in ("ix_seats_report", "ix_seats_days"):
            conn.exec_driver_sql(f"DROP INDEX {index}")
        for column in ("tier", "day"):
            conn.exec_driver_sql(f"ALTER TABLE seats DROP COLUMN {column}")
        conn.exec_driver_sql("DELETE FROM schema_version WHERE version = 4")
    engine.dispose()
    assert not {"tier", "day"} & columns(store_url, "seats")

    store = AuditionStore(store_url)
    assert store.write_session(make_session(3), REG) is True  # refused before the repair
    assert store.schema_upgrades == (4,) and store.schema_version() == 4
    assert {"tier", "day"} <= columns(store_url, "seats")
    engine = create_engine(store_url)
    with engine.connect() as conn:
        indexes = {i["name"] for i in inspect(conn).get_indexes("seats")}
        mismatched = conn.exec_driver_sql(
            "SELECT count(*) FROM seats JOIN sessions USING (session_id) "
            "WHERE seats.tier IS DISTINCT FROM sessions.tier "
            "OR seats.day IS DISTINCT FROM sessions.day"
        ).scalar()
    engine.dispose()
    assert {"ix_seats_report", "ix_seats_days"} <= indexes
    assert mismatched == 0  # the old seats were backfilled from their sessions
    assert store.count_sessions() == 3
    store.close()
