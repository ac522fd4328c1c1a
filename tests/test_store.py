"""The audition store on SQLite and on a real PostgreSQL server, and the logger around it."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, func, insert, select, text

from llm_council.audition import schema
from llm_council.audition.logger import AuditionLogger, import_spilled
from llm_council.audition.store import (
    AuditionStore,
    AuditionStoreError,
    InvalidSessionIdError,
    SessionNotFoundError,
    default_store_url,
    open_store,
)
from llm_council.config import load_config
from tests.audition_data import GROK, KIMI, MINI, PARETO, SONNET, make_session, registry
from tests.pg import postgres_server, postgres_url  # noqa: F401  (fixtures)

REG = registry()
SANDBOX_KEY = "sk-or-test-key-123"  # the key tests.council_helpers gives the sandbox gateway


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audition.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url):
    opened = AuditionStore(store_url)
    yield opened
    opened.close()


def as_json(result) -> dict:
    return result.model_dump(mode="json")


# -- round trip ------------------------------------------------------------------------------


def test_round_trip_list_and_get(store):
    results = [
        make_session(1),
        make_session(2, pareto_model=KIMI, drift_to=SONNET),
        make_session(3, seats=3, tier="high", failed_seat="s2"),
    ]
    for result in results:
        assert store.write_session(result, REG) is True
    listed = store.list_sessions()
    assert [s.session_id for s in listed] == [r.session_id for r in reversed(results)]
    newest, middle, oldest = listed
    assert newest.tier == "high" and newest.status == "partial"
    assert [str(seat) for seat in newest.seats] == [
        f"s1 {MINI} → {MINI}",
        "s2 anthropic/claude-sonnet-4.6 → timeout",
        f"s3 {PARETO} → {MINI}",
    ]
    assert [(s.duplicate_kind, s.duplicate_of) for s in newest.seats] == [
        ("exact", ["s3"]),
        (None, []),
        ("exact", ["s1"]),
    ]
    assert oldest.flags == 2 and oldest.flag_counts == {"exact": 2}
    assert middle.flags == 1 and middle.flag_counts == {"drift": 1}
    assert middle.cost_usd == pytest.approx(results[1].usage.cost_usd)
    assert middle.created_at == results[1].created_at and middle.created_at.tzinfo is not None
    assert middle.prompt.startswith("Write a Python function")
    assert [s.session_id for s in store.list_sessions(last=1)] == [results[2].session_id]
    assert [s.tier for s in store.list_sessions(tier="balanced")] == ["balanced", "balanced"]
    for result in results:
        assert as_json(store.get_session(result.session_id)) == as_json(result)
        assert as_json(store.get_session(result.session_id[:8])) == as_json(result)


def test_writing_the_same_session_twice_is_a_no_op(store):
    result = make_session(1, routed=True)
    assert store.write_session(result, REG) is True
    before = store.counts()
    assert store.write_session(result, REG) is False
    assert store.write_session(result.model_copy(deep=True), REG) is False
    assert (
        store.counts()
        == before
        == {
            "schema_version": 4,  # rows for versions 1 to 4
            "sessions": 1,
            "seats": 4,
            "flags": 2,
            "calls": 9,
            # the Pareto seat's answer and review each listed 3 candidates; the answer
            # needed a fallback after one failed attempt
            "router_candidates": 6,
            "router_attempts": 3,
            "reviews": 4,  # each seat reviewed the three others
            "review_ranks": 12,
            "attachments": 0,
        }
    )


def test_calls_come_back_whole_with_their_router_metadata(store):
    result = make_session(3, routed=True, drift_to=SONNET)
    store.write_session(result, REG)
    calls = store.get_calls(result.session_id)
    assert calls == result.calls  # every field, router metadata (raw included) and provider
    answer = calls[3]
    assert answer.seat_id == "s4" and answer.provider == "openai" and answer.router is not None
    assert answer.router.selected == MINI and answer.router.strategy == "pareto"
    assert [(a.model, a.status) for a in answer.router.failed_attempts] == [(SONNET, 503)]
    assert answer.router.raw["endpoints"]["total"] == 3
    assert [c.router is None for c in calls] == [True] * 3 + [False] + [True] * 3 + [False, True]
    # The review drifted onto SONNET, so its router metadata says SONNET was selected.
    assert calls[7].router is not None and calls[7].router.selected == SONNET
    assert store.get_session(result.session_id[:8]).calls == calls
    ca, rc, ra = schema.calls, schema.router_candidates, schema.router_attempts
    with store.engine().connect() as conn:
        stored = conn.execute(select(ca.c.provider, ca.c.router_json).where(ca.c.seq == 3)).one()
        candidates = conn.execute(
            select(rc.c.call_seq, rc.c.tier, rc.c.model, rc.c.selected).order_by(rc.c.id)
        ).all()
        attempts = conn.execute(
            select(ra.c.call_seq, ra.c.model, ra.c.provider, ra.c.status).order_by(ra.c.id)
        ).all()
    assert stored[0] == "openai" and json.loads(stored[1])["summary"].endswith(MINI)
    assert [(c[0], c[2], c[3]) for c in candidates if c[0] == 3] == [
        (3, SONNET, False),
        (3, GROK, False),
        (3, MINI, True),
    ]
    assert {c[1] for c in candidates} == {"balanced"}
    assert attempts == [
        (3, SONNET, "Flaky", 503),
        (3, MINI, "openai", 200),
        (7, SONNET, "anthropic", 200),
    ]
    with pytest.raises(SessionNotFoundError, match="no session 'ffff'"):
        store.get_calls("ffff")
    with pytest.raises(InvalidSessionIdError):
        store.get_calls("a b")


def test_rows_carry_the_per_session_metrics_and_every_call(store):
    result = make_session(1, drift_to=SONNET)
    store.write_session(result, REG)
    s, st, ca = schema.sessions, schema.seats, schema.calls
    with store.engine().connect() as conn:
        row = conn.execute(select(s)).mappings().one()
        seats = {r["seat_id"]: r for r in conn.execute(select(st)).mappings()}
        calls = conn.execute(select(ca).order_by(ca.c.seq)).mappings().all()
        flags = conn.execute(select(schema.flags)).mappings().all()
    assert row["day"] == "2026-11-24" and row["tier"] == "balanced"
    assert row["pareto_seats"] == 1 and row["pareto_exact"] and row["pareto_drift"]
    assert not row["pareto_family"]
    # s1 and s4 are both gpt-5.4-mini: 3 distinct models from 3 providers over 4 seats.
    assert row["distinct_models"] == 3
    assert row["provider_entropy"] == pytest.approx(0.75, abs=1e-6)  # (1.5 ln 2) / ln 4
    assert row["chairman_status"] == "ok" and row["synthesis_is_fallback"] is False
    assert json.loads(row["result_json"])["session_id"] == result.session_id
    s4 = seats["s4"]
    assert s4["is_pareto"] and s4["resolved_model"] == MINI and s4["provider"] == "openai"
    assert s4["family"] == "openai/gpt-mini" and s4["duplicate_kind"] == "exact"
    assert s4["duplicate_of"] == "s1" and s4["min_coding_score"] == 0.5
    assert sum(r["is_first"] for r in seats.values()) == 1
    assert seats[result.ranking[0].seat_id]["is_first"]
    assert [c["seq"] for c in calls] == list(range(9))
    assert [c["stage"] for c in calls] == ["answer"] * 4 + ["review"] * 4 + ["chairman"]
    assert [c["is_pareto"] for c in calls if c["stage"] != "chairman"] == [False] * 3 + [True] + [
        False
    ] * 3 + [True]
    assert all(c["started_at"] is not None and c["tier"] == "balanced" for c in calls)
    assert {
        (f["seat_id"], f["kind"], f["with_seat"], f["model"], f["stage2_model"]) for f in flags
    } == {
        ("s1", "exact", "s4", MINI, None),
        ("s4", "exact", "s1", MINI, None),
        ("s4", "drift", None, None, SONNET),
    }


def test_a_missing_cost_is_estimated_and_marked(store):
    result = make_session(1, omit_cost_on=0)
    first = result.calls[0]
    already = result.calls[1].model_copy(update={"cost_estimated": True})
    result.calls[1] = already
    store.write_session(result, REG)
    ca = schema.calls
    with store.engine().connect() as conn:
        rows = conn.execute(select(ca).where(ca.c.seq < 3).order_by(ca.c.seq)).mappings().all()
    expected = REG.estimate_cost(first.resolved_model, first.prompt_tokens, first.completion_tokens)
    assert rows[0]["cost_usd"] == pytest.approx(expected) and rows[0]["cost_estimated"] is True
    assert rows[1]["cost_estimated"] is True  # the record's own mark is kept
    assert rows[1]["cost_usd"] == pytest.approx(already.cost_usd)
    assert rows[2]["cost_estimated"] is False


def test_a_broken_session_fails_whole_and_loudly(store, tmp_path):
    """Only the existence race counts as "already stored": a seat-id clash is a real error."""
    result = make_session(1, routed=True)
    result.seats.append(result.seats[0].model_copy())  # two seats with one id: a real bug
    with pytest.raises(AuditionStoreError, match=f"cannot write session {result.session_id} to"):
        store.write_session(result, REG)
    assert store.counts() == {
        "schema_version": 4,
        "sessions": 0,
        "seats": 0,
        "flags": 0,
        "calls": 0,
        "router_candidates": 0,
        "router_attempts": 0,
        "reviews": 0,
        "review_ranks": 0,
        "attachments": 0,
    }
    # Through the logger the broken session is not lost: it is spilled, and says why.
    message = AuditionLogger(store, REG, spill_to=[tmp_path / "spill"]).record(result)
    assert message and "seats" in message and str(tmp_path / "spill") in message
    saved = spilled(tmp_path / "spill" / f"{result.session_id}.json")
    assert len(saved["session"]["seats"]) == 5 and saved["calls"][3]["router"] is not None
    assert store.count_sessions() == 0


def test_a_broken_session_is_an_error_even_when_a_good_copy_is_stored(store):
    """The "already stored" answer comes from the existence check, never from a clash."""
    good = make_session(1)
    assert store.write_session(good, REG) is True
    broken = good.model_copy(deep=True)
    broken.seats.append(broken.seats[0].model_copy())
    assert store.write_session(broken, REG) is False  # the id is stored: nothing to add
    other = make_session(2)
    other.calls.append(other.calls[0])  # two calls, distinct seq: fine
    other.seats.append(other.seats[1].model_copy())
    with pytest.raises(AuditionStoreError, match="cannot write session"):
        store.write_session(other, REG)
    assert store.count_sessions() == 1


def test_two_writers_of_one_session_store_it_once(store_url):
    result = make_session(7)
    # Not opened first: the four also race to create the schema on the empty database.
    stores = [AuditionStore(store_url) for _ in range(4)]
    outcomes: list[bool] = []
    barrier = threading.Barrier(len(stores))

    def write(s: AuditionStore) -> None:
        barrier.wait()
        outcomes.append(s.write_session(result, REG))

    threads = [threading.Thread(target=write, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == [False, False, False, True]
    assert stores[0].counts()["calls"] == 9 and stores[0].counts()["schema_version"] == 4
    assert sorted(s.schema_upgrades for s in stores) == [(), (), (), (1, 2, 3, 4)]
    for s in stores:
        s.close()


# -- schema and migrations ----------------------------------------------------------------


def test_a_new_database_is_migrated_to_the_current_version(store):
    assert store.schema_version() == schema.SCHEMA_VERSION == 4
    assert store.schema_upgrades == (1, 2, 3, 4) and store.notices == []
    assert set(store.table_names()) >= {
        "schema_version",
        "sessions",
        "seats",
        "flags",
        "calls",
        "router_candidates",
        "router_attempts",
        "reviews",
        "review_ranks",
        "attachments",
    }
    assert store.has_column("calls", "router_json") and store.has_table("router_attempts")
    assert store.has_column("seats", "borda_peers") and store.has_table("review_ranks")
    with store.engine().connect() as conn:
        applied = conn.execute(select(schema.schema_version).order_by("version")).all()
    assert [v for v, _ in applied] == [1, 2, 3, 4] and all(at is not None for _, at in applied)


def test_an_empty_sqlite_file_and_foreign_tables_are_fine(tmp_path):
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    with create_engine(f"sqlite:///{path}").begin() as conn:
        conn.execute(text("CREATE TABLE notes (body TEXT)"))
        conn.execute(text("INSERT INTO notes VALUES ('keep me')"))
    store = AuditionStore(f"sqlite:///{path}")
    assert store.schema_version() == schema.SCHEMA_VERSION
    with store.engine().connect() as conn:
        assert conn.execute(text("SELECT body FROM notes")).scalar() == "keep me"
    store.close()


def test_an_older_database_is_upgraded_step_by_step(store):
    store.write_session(make_session(1), REG)
    added = []
    first, second = schema.SCHEMA_VERSION + 1, schema.SCHEMA_VERSION + 2

    def add_table(conn):
        conn.execute(text("CREATE TABLE extra_step (id INTEGER PRIMARY KEY)"))
        added.append(first)

    def add_row(conn):
        conn.execute(text(f"INSERT INTO extra_step (id) VALUES ({second})"))
        added.append(second)

    steps = [*schema.MIGRATIONS, (first, "extra table", add_table), (second, "extra row", add_row)]
    with store.engine().begin() as conn:
        assert schema.upgrade(conn, steps[:-1]) == [first]
    with store.engine().begin() as conn:
        assert schema.upgrade(conn, steps) == [second]
        assert schema.upgrade(conn, steps) == []
        assert schema.current_version(conn) == second
        assert conn.execute(text("SELECT id FROM extra_step")).scalar() == second
    assert added == [first, second] and store.counts()["sessions"] == 1  # data kept
    store.close()
    # This code only knows its own version: the upgraded database is now too new for it.
    with pytest.raises(AuditionStoreError, match=f"schema version {second}, newer than"):
        AuditionStore(store.url_for_humans).list_sessions()


def test_a_failed_migration_leaves_the_old_version(store):
    store.schema_version()

    def broken(conn):
        conn.execute(text("CREATE TABLE half_done (id INTEGER)"))
        raise RuntimeError("step failed")

    with pytest.raises(RuntimeError), store.engine().begin() as conn:
        schema.upgrade(conn, [*schema.MIGRATIONS, (schema.SCHEMA_VERSION + 1, "broken", broken)])
    assert (
        store.schema_version() == schema.SCHEMA_VERSION and "half_done" not in store.table_names()
    )


def test_a_database_from_a_newer_version_is_refused_clearly(store, store_url):
    with store.engine().begin() as conn:
        conn.execute(insert(schema.schema_version).values(version=99, applied_at=datetime.now(UTC)))
    store.close()
    again = AuditionStore(store_url)
    with pytest.raises(AuditionStoreError) as caught:
        again.write_session(make_session(1), REG)
    message = str(caught.value)
    assert "schema version 99" in message and "upgrade llm-council" in message
    assert again.url_for_humans in message


# -- lookups ----------------------------------------------------------------------------------


def test_unknown_ambiguous_and_malformed_ids(store):
    for sid in ("aaaa1111-0000-4000-8000-000000000001", "aaaa2222-0000-4000-8000-000000000002"):
        store.write_session(make_session(1, session_id=sid), REG)
    with pytest.raises(SessionNotFoundError, match="no session 'ffff'"):
        store.get_session("ffff")
    with pytest.raises(SessionNotFoundError, match="matches several sessions"):
        store.get_session("aaaa")
    assert store.get_session("aaaa2").session_id.startswith("aaaa2222")
    assert store.get_session("  aaaa1  ").session_id.startswith("aaaa1111")
    with pytest.raises(SessionNotFoundError):
        store.get_session("AAAA1")  # prefixes are case-sensitive on every backend
    with pytest.raises(SessionNotFoundError):
        store.get_session("aaaa_1")  # "_" is a character here, not LIKE's wildcard
    for bad in ("", "%", "aaaa%", "a b", "-aaaa", "x" * 65):
        with pytest.raises(InvalidSessionIdError, match="is not a session id"):
            store.get_session(bad)


# -- URLs, defaults and failures --------------------------------------------------------------


def test_default_url_and_open_store(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_store_url() == f"sqlite:///{tmp_path / 'xdg' / 'llm-council' / 'audition.db'}"
    config = load_config(None, {})
    assert open_store(config).url_for_humans == default_store_url()
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    assert open_store(load_config(None, {"LLM_COUNCIL_AUDITION_URL": url})).url_for_humans == url
    # Nothing is opened until first use; then the directory is created.
    store = open_store(config)
    assert not (tmp_path / "xdg").exists()
    store.write_session(make_session(1), REG)
    assert (tmp_path / "xdg" / "llm-council" / "audition.db").is_file()
    store.close()


def test_passwords_never_shown():
    store = AuditionStore("postgresql+psycopg://council:hunter2@db.example:5432/audition")
    assert "hunter2" not in store.url_for_humans and "hunter2" not in repr(store)
    assert "***" in store.url_for_humans
    store.close()


def test_an_invalid_url_is_a_clear_error():
    with pytest.raises(AuditionStoreError, match="invalid audition store URL"):
        AuditionStore("not a url at all")


def test_in_memory_sqlite_is_one_database_across_threads():
    store = AuditionStore("sqlite://")
    worker = threading.Thread(target=store.write_session, args=(make_session(1), REG))
    worker.start()
    worker.join()
    assert store.counts()["sessions"] == 1


def test_a_read_only_sqlite_store_reads_but_refuses_writes(tmp_path):
    path = tmp_path / "audition.db"
    writable = AuditionStore(f"sqlite:///{path}")
    writable.write_session(make_session(1), REG)
    writable.close()
    read_only = AuditionStore(f"sqlite:///file:{path}?mode=ro&uri=true")
    assert len(read_only.list_sessions()) == 1
    with pytest.raises(AuditionStoreError) as caught:
        read_only.write_session(make_session(2), REG)
    assert "readonly database" in str(caught.value) and str(path) in str(caught.value)
    read_only.close()


# -- the logger -------------------------------------------------------------------------------


def spilled(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_logger_stores_a_session():
    store = AuditionStore("sqlite://")
    assert AuditionLogger(store, REG).record(make_session(1)) is None
    assert store.counts()["calls"] == 9


def test_an_unwritable_store_keeps_the_record_and_says_where(tmp_path, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    store = AuditionStore(f"sqlite:///{blocker / 'sub' / 'audition.db'}")
    logger = AuditionLogger(store, REG, spill_to=[tmp_path / "spill"])
    result = make_session(1)
    with caplog.at_level(logging.ERROR, logger="llm_council"):
        message = logger.record(result)
    assert message is not None and "\n" not in message
    assert message.startswith("audition store unavailable") and str(blocker) in message
    path = tmp_path / "spill" / f"{result.session_id}.json"
    assert str(path) in message and path.is_file()
    assert path.stat().st_mode & 0o077 == 0  # prompts and answers: owner only
    saved = spilled(path)
    assert saved["session"] == as_json(result)
    assert len(saved["calls"]) == len(result.calls) == 9
    (event,) = [r for r in caplog.records if getattr(r, "event", "") == "audition.write_failed"]
    assert event.levelno == logging.ERROR and event.event_fields["spill"] == str(path)
    assert event.event_fields["session_id"] == result.session_id


def test_a_read_only_database_spills_too(tmp_path):
    path = tmp_path / "audition.db"
    AuditionStore(f"sqlite:///{path}").schema_version()
    store = AuditionStore(f"sqlite:///file:{path}?mode=ro&uri=true")
    logger = AuditionLogger(store, REG, spill_to=[tmp_path / "spill"])
    result = make_session(1)
    message = logger.record(result)
    assert message and "attempt to write a readonly database" in message and str(path) in message
    assert (tmp_path / "spill" / f"{result.session_id}.json").is_file()


def test_the_next_spill_directory_is_used_when_the_first_is_unusable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = AuditionStore(f"sqlite:///{blocker / 'a.db'}")
    logger = AuditionLogger(store, REG, spill_to=[blocker / "spill", tmp_path / "second"])
    result = make_session(1)
    message = logger.record(result)
    assert message and str(tmp_path / "second") in message
    nowhere = AuditionLogger(store, REG, spill_to=[blocker / "spill"])
    assert "could not be saved anywhere else" in (nowhere.record(result) or "")


def test_the_logger_never_raises_even_for_an_unexpected_error(tmp_path):
    class ExplodingStore(AuditionStore):
        def write_session(self, result, registry):
            raise RuntimeError("boom")

    logger = AuditionLogger(ExplodingStore("sqlite://"), REG, spill_to=[tmp_path])
    message = logger.record(make_session(1))
    assert message and "RuntimeError" in message and "boom" in message


def test_a_dead_database_server_is_reported_without_the_password(tmp_path, caplog):
    from tests.conftest import free_port

    url = f"postgresql+psycopg://council:s3cret@127.0.0.1:{free_port()}/audition"
    logger = AuditionLogger(AuditionStore(url), REG, spill_to=[tmp_path])
    result = make_session(1)
    with caplog.at_level(logging.DEBUG, logger="llm_council"):
        message = logger.record(result)
    assert message and "127.0.0.1" in message and "s3cret" not in message
    assert caplog.records and "s3cret" not in caplog.text
    assert (tmp_path / f"{result.session_id}.json").exists()


def test_spilled_records_are_imported_once_the_store_is_back(tmp_path, store_url):
    spill = tmp_path / "spill"
    blocker = tmp_path / "file"
    blocker.write_text("x")
    down = AuditionLogger(AuditionStore(f"sqlite:///{blocker / 'a.db'}"), REG, spill_to=[spill])
    results = [make_session(1), make_session(2)]
    for result in results:
        assert down.record(result)
    (spill / "garbage.json").write_text("{not json")
    store = AuditionStore(store_url)
    imported, problems = import_spilled(store, REG, (spill,))
    assert sorted(imported) == sorted(r.session_id for r in results)
    assert len(problems) == 1 and "garbage.json" in problems[0]
    assert store.counts()["calls"] == 18
    assert as_json(store.get_session(results[0].session_id)) == as_json(results[0])
    assert sorted(p.name for p in spill.iterdir()) == ["garbage.json"]
    store.close()


async def test_a_council_session_completes_when_its_store_is_unwritable(tmp_path):
    from tests.council_helpers import make_config, sandbox_council

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    council, _ = sandbox_council(make_config())
    council.audition = AuditionLogger(
        AuditionStore(f"sqlite:///{blocker / 'a.db'}"), REG, spill_to=[tmp_path / "spill"]
    )
    result = await council.run("Write a Python function that merges two sorted lists.", "balanced")
    await council.aclose()
    assert result.status == "ok"
    problem = next(n for n in result.notices if n.startswith("audition store unavailable"))
    assert str(blocker) in problem
    spill = tmp_path / "spill" / f"{result.session_id}.json"
    assert len(spilled(spill)["calls"]) == len(result.calls) > 0
    assert SANDBOX_KEY not in spill.read_text()


async def test_the_api_key_never_reaches_the_store(tmp_path):
    from tests.council_helpers import make_config, sandbox_council

    council, _ = sandbox_council(make_config())
    store = AuditionStore(f"sqlite:///{tmp_path / 'audition.db'}")
    council.audition = AuditionLogger(store, REG)
    result = await council.run("Write a Python function that merges two sorted lists.", "balanced")
    await council.aclose()
    assert store.get_session(result.session_id).session_id == result.session_id
    store.close()  # checkpoints the WAL into the main file
    for path in tmp_path.iterdir():
        assert SANDBOX_KEY.encode() not in path.read_bytes(), path


def test_counts_cover_all_tables(store):
    assert set(store.counts()) == {
        "schema_version",
        "sessions",
        "seats",
        "flags",
        "calls",
        "router_candidates",
        "router_attempts",
        "reviews",
        "review_ranks",
        "attachments",
    }
    with store.engine().connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.calls)).scalar() == 0


def test_unpaired_surrogates_are_stored_and_read_back_exactly(store):
    """A JSON reply may carry "\\ud800" (valid JSON, not UTF-8): the session is stored, the
    JSON columns keep the exact text, plain columns get U+FFFD instead of failing."""
    from llm_council.gateway.router_metadata import parse_router_metadata

    bad = "x\ud800y\udfffz"
    result = make_session(1, routed=True)
    result.prompt = f"why {bad}"
    s2 = result.seat("s2")
    s2.error = bad
    raw = {"strategy": bad, "endpoints": {"available": [{"model": bad, "selected": True}]}}
    result.calls[3] = result.calls[3].model_copy(
        update={"router": parse_router_metadata(raw), "provider": bad}
    )
    assert store.write_session(result, REG) is True
    back = store.get_session(result.session_id)
    assert back.prompt == result.prompt and back.seat("s2").error == bad
    assert (
        back.calls[3].router == result.calls[3].router
        and back.calls[3].provider == "x\ufffdy\ufffdz"
    )
    (summary,) = store.list_sessions()
    assert summary.prompt == "why x\ufffdy\ufffdz"
    with store.engine().connect() as conn:
        rc = schema.router_candidates
        (model,) = conn.execute(select(rc.c.model).order_by(rc.c.id)).scalars().all()[:1]
    assert model == "x\ufffdy\ufffdz"
