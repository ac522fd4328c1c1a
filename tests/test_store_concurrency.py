"""Four processes, 50 real sandbox sessions each, into one SQLite file and one PostgreSQL db."""

from __future__ import annotations

import asyncio
import multiprocessing

import pytest
from sqlalchemy import func, select

from llm_council.audition import schema
from llm_council.audition.logger import AuditionLogger
from llm_council.audition.store import AuditionStore
from tests.pg import postgres_server, postgres_url  # noqa: F401  (fixtures)

PROCESSES, SESSIONS = 4, 50


def _worker(url: str) -> tuple[list[str], int, list[str]]:
    """Run SESSIONS council sessions on the in-process sandbox, logging each to ``url``."""
    from llm_council.registry import load_registry
    from tests.council_helpers import make_config, sandbox_council

    async def main() -> tuple[list[str], int, list[str]]:
        registry = load_registry()
        pool = ["openai/gpt-5.4-mini", "anthropic/claude-sonnet-4.6", "openrouter/pareto-code"]
        council, _ = sandbox_council(make_config({"balanced": pool}), registry=registry)
        council.audition = AuditionLogger(AuditionStore(url), registry)
        ids, calls, problems = [], 0, []
        for _ in range(SESSIONS):
            result = await council.run(
                "Write a Python function that merges two sorted lists.", "balanced"
            )
            ids.append(result.session_id)
            calls += len(result.calls)
            problems += [n for n in result.notices if n.startswith("audition")]
        await council.aclose()
        return ids, calls, problems

    return asyncio.run(main())


@pytest.fixture(params=["sqlite", "postgres"])
def shared_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return request.getfixturevalue("postgres_url")


def test_four_writers_lose_and_duplicate_nothing(shared_url):
    AuditionStore(shared_url).schema_version()  # not required, but makes failures clearer
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        outcomes = pool.map(_worker, [shared_url] * PROCESSES)
    ids = [sid for got, _, _ in outcomes for sid in got]
    expected_calls = sum(calls for _, calls, _ in outcomes)
    assert not [p for _, _, ps in outcomes for p in ps]  # no write failed
    assert len(ids) == len(set(ids)) == PROCESSES * SESSIONS
    store = AuditionStore(shared_url)
    counts = store.counts()
    assert counts["sessions"] == PROCESSES * SESSIONS
    assert counts["seats"] == PROCESSES * SESSIONS * 3
    assert counts["calls"] == expected_calls
    with store.engine().connect() as conn:
        stored = set(conn.execute(select(schema.sessions.c.session_id)).scalars())
        duplicated_calls = conn.execute(
            select(func.count()).select_from(
                select(schema.calls.c.session_id, schema.calls.c.seq)
                .group_by(schema.calls.c.session_id, schema.calls.c.seq)
                .having(func.count() > 1)
                .subquery()
            )
        ).scalar()
        exact_sessions = conn.execute(
            select(func.count()).select_from(schema.sessions).where(schema.sessions.c.pareto_exact)
        ).scalar()
    assert stored == set(ids) and duplicated_calls == 0
    assert exact_sessions == PROCESSES * SESSIONS  # every session's Pareto seat duplicated s1
    store.close()
