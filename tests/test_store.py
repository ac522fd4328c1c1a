"""The audition store on SQLite and on a real PostgreSQL server, and the logger around it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import insert, select

from llm_council.audition import schema
from llm_council.audition.logger import AuditionLogger
from llm_council.audition.store import AuditionStore, AuditionStoreError
from llm_council.registry import load_registry
from tests.council_helpers import make_config, sandbox_council
from tests.pg import postgres_server, postgres_url  # noqa: F401  (fixtures)

PARETO = "openrouter/pareto-code"
DUP_POOL = ["openai/gpt-5.4-mini", "anthropic/claude-sonnet-4.6", "x-ai/grok-4.3", PARETO]
REGISTRY = load_registry()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audition.db'}"
    return request.getfixturevalue("postgres_url")


async def run_sessions(n: int, pool=None, **kw):
    council, _ = sandbox_council(make_config({"balanced": pool or DUP_POOL}))
    results = [
        await council.run("Write a Python function that merges two sorted lists.", "balanced", **kw)
        for _ in range(n)
    ]
    await council.aclose()
    return results


async def test_round_trip_and_idempotent_write(store_url):
    (result,) = await run_sessions(1)
    store = AuditionStore(store_url)
    assert store.write_session(result, REGISTRY) is True
    assert store.write_session(result, REGISTRY) is False  # never duplicated
    counts = store.counts()
    assert counts["sessions"] == 1 and counts["seats"] == 4
    assert counts["calls"] == len(result.calls) == 4 + 4 + 1
    assert counts["flags"] == 2  # s1 <-> s4 exact
    listed = store.list_sessions()
    assert [s.session_id for s in listed] == [result.session_id]
    assert listed[0].flags == 2
    assert "s4 openrouter/pareto-code → openai/gpt-5.4-mini" in listed[0].seats
    again = store.get_session(result.session_id[:8])
    assert again.model_dump(mode="json") == result.model_dump(mode="json")
    with store.engine().connect() as conn:
        row = (
            conn.execute(
                select(schema.sessions).where(schema.sessions.c.session_id == result.session_id)
            )
            .mappings()
            .one()
        )
        assert row["pareto_exact"] and not row["pareto_drift"] and row["pareto_seats"] == 1
        assert row["distinct_models"] == 3 and row["gateway"] == "sandbox"
        calls = conn.execute(select(schema.calls).order_by(schema.calls.c.seq)).mappings().all()
    pareto_calls = [c for c in calls if c["is_pareto"]]
    assert len(pareto_calls) == 2 and all(c["min_coding_score"] == 0.5 for c in pareto_calls)
    assert {c["stage"] for c in calls} == {"answer", "review", "chairman"}
    assert all(c["started_at"] is not None for c in calls)
    store.close()


async def test_missing_cost_is_estimated_and_marked(store_url):
    (result,) = await run_sessions(1)
    first = result.calls[0]
    result.calls[0] = first.model_copy(update={"cost_usd": None, "cost_estimated": False})
    store = AuditionStore(store_url)
    store.write_session(result, REGISTRY)
    with store.engine().connect() as conn:
        row = conn.execute(select(schema.calls).where(schema.calls.c.seq == 0)).mappings().one()
    expected = REGISTRY.estimate_cost(
        first.resolved_model, first.prompt_tokens, first.completion_tokens
    )
    assert row["cost_estimated"] is True and row["cost_usd"] == pytest.approx(expected)
    store.close()


def test_schema_version_and_future_version(store_url):
    store = AuditionStore(store_url)
    assert store.schema_version() == schema.SCHEMA_VERSION == 1
    assert {"schema_version", "sessions", "seats", "flags", "calls"} <= set(store.table_names())
    with store.engine().begin() as conn:
        conn.execute(insert(schema.schema_version).values(version=99, applied_at=schema_now()))
    store.close()
    with pytest.raises(AuditionStoreError, match="newer than this"):
        AuditionStore(store_url).schema_version()


def schema_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_unknown_and_ambiguous_ids(tmp_path):
    store = AuditionStore(f"sqlite:///{tmp_path / 'a.db'}")
    with pytest.raises(KeyError, match="no session"):
        store.get_session("ffff")
    with pytest.raises(AuditionStoreError, match="not a session id"):
        store.get_session("%")


async def test_unwritable_store_keeps_the_session_and_says_where(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    store = AuditionStore(f"sqlite:///{blocker / 'sub' / 'audition.db'}")
    logger = AuditionLogger(store, REGISTRY, spill_dir=tmp_path / "spill")
    council, _ = sandbox_council(make_config())
    council.audition = logger
    result = await council.run("Write a Python function that merges two sorted lists.", "balanced")
    await council.aclose()
    assert result.status == "ok"  # the session still completes
    problem = next(n for n in result.notices if n.startswith("audition store unavailable"))
    assert str(blocker) in problem
    spill = tmp_path / "spill" / f"{result.session_id}.json"
    assert str(spill) in problem and spill.exists()
    saved = json.loads(spill.read_text())
    assert saved["session"]["session_id"] == result.session_id and len(saved["calls"]) == len(
        result.calls
    )


def test_invalid_url_is_a_clear_error():
    with pytest.raises(AuditionStoreError, match="invalid audition store URL"):
        AuditionStore("not a url at all")


def test_password_never_shown():
    store = AuditionStore("postgresql+psycopg://council:hunter2@db.example:5432/audition")
    assert "hunter2" not in store.url_for_humans and "hunter2" not in repr(store)


async def test_dead_database_server_is_reported_and_the_record_spilled(tmp_path):
    from tests.conftest import free_port

    url = f"postgresql+psycopg://council:s3cret@127.0.0.1:{free_port()}/audition"
    logger = AuditionLogger(AuditionStore(url), REGISTRY, spill_dir=tmp_path)
    (result,) = await run_sessions(1)
    message = logger.record(result)
    assert message and "127.0.0.1" in message and "s3cret" not in message
    assert (tmp_path / f"{result.session_id}.json").exists()


async def test_spilled_records_are_imported_once_the_store_is_back(tmp_path):
    from llm_council.audition.logger import import_spilled

    spill = tmp_path / "spill"
    blocker = tmp_path / "file"
    blocker.write_text("x")
    down = AuditionLogger(AuditionStore(f"sqlite:///{blocker / 'a.db'}"), REGISTRY, spill_dir=spill)
    results = await run_sessions(2)
    for result in results:
        assert down.record(result)
    (spill / "garbage.json").write_text("{not json")
    store = AuditionStore(f"sqlite:///{tmp_path / 'ok.db'}")
    imported, problems = import_spilled(store, REGISTRY, (spill,))
    assert sorted(imported) == sorted(r.session_id for r in results)
    assert len(problems) == 1 and "garbage.json" in problems[0]
    assert store.counts()["calls"] == sum(len(r.calls) for r in results)
    assert sorted(p.name for p in spill.iterdir()) == ["garbage.json"]
