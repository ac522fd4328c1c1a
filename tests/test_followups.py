"""Follow-ups (issue #13 item 6): a new session that continues a stored one, linked to it.

Through the Python API on the sandbox served by uvicorn: the follow-up is its own session,
stored with ``parent_session_id``, its tier defaults to the parent's, and every seat and the
chairman get the parent's question and synthesis as labelled data. Through the CLI
(``run --continue``, ``sessions show`` printing the thread), MCP (``consult_council`` with
``session_id``, over stdio with the SDK's client) and HTTP (``council_session_id`` as an
extra body field, sent by the official ``openai`` client through ``extra_body``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import openai
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from sqlalchemy import create_engine, inspect

from llm_council.api import FollowUpError
from llm_council.attachments import Attachment
from llm_council.audition import schema
from llm_council.audition.store import AuditionStore
from llm_council.council.prompts import CHAIRMAN_SYSTEM, answer_messages
from llm_council.http_server import create_http_app
from llm_council.service import CouncilService
from tests.audition_data import make_session, registry
from tests.conftest import serve_asgi
from tests.council_helpers import cli_in_subprocess, council_on_sandbox
from tests.pg import postgres_server, postgres_url  # noqa: F401  (fixtures)

REPO = Path(__file__).resolve().parents[1]
POOL = ["anthropic/claude-sonnet-4.6", "openai/gpt-5.4", "openrouter/pareto-code"]
ANSWER_SYSTEM = answer_messages("", "coding")[0].content


def earlier_blocks(user: str) -> dict[str, str]:
    """The earlier-turn blocks of a request's user message: header -> content."""
    boundary = re.search(r"both ending in (@@[0-9a-f]{16}@@)\.", user)
    assert boundary, user[:300]
    b = re.escape(boundary.group(1))
    pattern = rf"^BEGIN (earlier [a-z ]+) \(session \"([^\"]+)\"\) {b}\n(.*?)^END \1 {b}$"
    return {m.group(1): m.group(3) for m in re.finditer(pattern, user, re.M | re.S)}


async def test_a_follow_up_is_linked_defaults_to_the_parents_tier_and_carries_its_answer(
    tmp_path,
):
    with council_on_sandbox(tmp_path) as (council, sandbox, store):
        parent = await council.run("Write merge(a, b) for two sorted lists.", "quick")
        assert parent.synthesis and parent.parent_session_id is None
        sandbox.requests.clear()
        child = await council.run(
            "Now make it a generator.", parent_session_id=parent.session_id[:8]
        )
        bodies = list(sandbox.requests)
        grandchild = await council.run("And type hints?", parent_session_id=child.session_id)
        await council.aclose()

        assert child.parent_session_id == parent.session_id  # the prefix, resolved
        assert child.tier == "quick" and child.prompt == "Now make it a generator."
        answers = [b for b in bodies if b["messages"][0]["content"] == ANSWER_SYSTEM]
        assert len(answers) == len(child.seats)
        for body in answers:
            user = body["messages"][1]["content"]
            assert user.startswith("Now make it a generator.\n\n")
            assert "follows up an earlier council session" in user
            assert earlier_blocks(user) == {
                "earlier question": "Write merge(a, b) for two sorted lists.\n",
                "earlier council answer": parent.synthesis
                + ("" if parent.synthesis.endswith("\n") else "\n"),
            }
        (chair,) = [b for b in bodies if b["messages"][0]["content"] == CHAIRMAN_SYSTEM]
        to_chairman = chair["messages"][1]["content"]
        assert "<context>\n" in to_chairman and "BEGIN earlier council answer" in to_chairman

        # Stored linked; the thread reads both ways.
        assert store.get_session(child.session_id).parent_session_id == parent.session_id
        assert [e.session_id for e in store.thread(parent.session_id).children] == [
            child.session_id
        ]
        middle = store.thread(child.session_id)
        assert [e.session_id for e in middle.ancestors] == [parent.session_id]
        assert [e.session_id for e in middle.children] == [grandchild.session_id]
        assert middle.ancestors[0].prompt == "Write merge(a, b) for two sorted lists."
        top = store.thread(grandchild.session_id)
        assert [e.session_id for e in top.ancestors] == [parent.session_id, child.session_id]
        assert top.children == [] and top.missing_parent is None
        with store.engine().connect() as conn:
            linked = conn.exec_driver_sql(
                "SELECT session_id FROM sessions WHERE parent_session_id = ?", (parent.session_id,)
            ).all()
        assert [r[0] for r in linked] == [child.session_id]


async def test_an_unknown_parent_is_refused_before_any_call(tmp_path):
    with council_on_sandbox(tmp_path) as (council, sandbox, store):
        with pytest.raises(FollowUpError, match="cannot follow up: no session 'feedface'"):
            await council.run("More?", parent_session_id="feedface")
        with pytest.raises(FollowUpError, match="is not a session id"):
            await council.run("More?", parent_session_id="../etc")
        await council.aclose()
        assert list(sandbox.requests) == [] and store.count_sessions() == 0


# -- the store, SQLite and PostgreSQL ---------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audition.db'}"
    return request.getfixturevalue("postgres_url")


def test_a_v2_store_upgrades_to_v3_and_keeps_links_and_attachment_hashes(store_url):
    """A store at schema version 2 (written before this feature) is upgraded on first use:
    its sessions read back unlinked, new ones keep their parent and attachment records."""
    engine = create_engine(store_url)
    with engine.begin() as conn:
        schema.upgrade(conn, schema.MIGRATIONS[:2])
        # Version 2's sessions table had no parent_session_id: take it away again.
        conn.exec_driver_sql("ALTER TABLE sessions DROP COLUMN parent_session_id")
    engine.dispose()
    old = make_session(1)
    store = AuditionStore(store_url)
    with store.engine().connect() as conn:  # opening upgraded it: column and index back
        found = inspect(conn)
        assert "parent_session_id" in {c["name"] for c in found.get_columns("sessions")}
        assert "ix_sessions_parent" in {i["name"] for i in found.get_indexes("sessions")}
        assert "attachments" in found.get_table_names()
    assert store.schema_upgrades == (3, 4) and store.schema_version() == 4
    store.write_session(old, registry())
    child = make_session(2)
    child.parent_session_id = old.session_id
    child.attachments = [
        Attachment.of("src/a.py", "file", "SECRET-BODY\n").record(),
        Attachment.of("git diff HEAD", "diff", "+x\n").record(),
    ]
    assert store.write_session(child, registry()) is True
    assert store.get_session(old.session_id).parent_session_id is None
    back = store.get_session(child.session_id)
    assert back.parent_session_id == old.session_id and back.attachments == child.attachments
    assert [e.session_id for e in store.thread(old.session_id).children] == [child.session_id]
    assert [e.session_id for e in store.thread(child.session_id).ancestors] == [old.session_id]
    with store.engine().connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT session_id, position, name, kind, sha256, size FROM attachments "
            "ORDER BY position"
        ).all()
    assert [tuple(r) for r in rows] == [
        (child.session_id, i, a.name, a.kind, a.sha256, a.size)
        for i, a in enumerate(child.attachments)
    ]
    # A parent the store does not hold (another store, say) ends the chain visibly.
    orphan = make_session(3)
    orphan.parent_session_id = "0badc0de-0000-4000-8000-000000000000"
    store.write_session(orphan, registry())
    thread = store.thread(orphan.session_id)
    assert thread.ancestors == [] and thread.missing_parent == orphan.parent_session_id
    assert store.counts()["attachments"] == 2
    store.close()


# -- CLI ---------------------------------------------------------------------------------


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli_in_subprocess(tmp_path, *args, COLUMNS="200")


def test_run_continue_links_and_sessions_show_prints_the_thread(tmp_path):
    first = _cli(
        tmp_path, "run", "Write fizzbuzz.", "--tier", "high", "--gateway", "sandbox", "--json"
    )
    assert first.returncode == 0, first.stderr
    parent = json.loads(first.stdout)
    follow = _cli(tmp_path, "run", "Now in one line?", "--continue", parent["session_id"][:8],
                  "--gateway", "sandbox", "--json")  # fmt: skip
    assert follow.returncode == 0, follow.stderr
    child = json.loads(follow.stdout)
    assert child["parent_session_id"] == parent["session_id"] and child["tier"] == "high"
    assert f"follow-up of session {parent['session_id']}" in follow.stderr

    shown = _cli(tmp_path, "sessions", "show", parent["session_id"][:8])
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    head = lines.index("Thread (follow-ups: llm-council run --continue ID):")
    this, below = lines[head + 1], lines[head + 2]
    assert this.startswith(f"  ● {parent['session_id'][:8]}  ") and this.endswith(
        "Write fizzbuzz.  (this session)"
    )
    assert below.startswith(f"  ↓ {child['session_id'][:8]}  ") and below.endswith(
        "Now in one line?"
    )
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d  high ", below)

    as_json = _cli(tmp_path, "sessions", "show", child["session_id"], "--json")
    thread = json.loads(as_json.stdout)["thread"]
    assert [e["session_id"] for e in thread["ancestors"]] == [parent["session_id"]]
    assert thread["ancestors"][0]["prompt"] == "Write fizzbuzz." and thread["children"] == []
    assert json.loads(as_json.stdout)["parent_session_id"] == parent["session_id"]

    missing = _cli(tmp_path, "run", "More?", "--continue", "feedface", "--gateway", "sandbox")
    assert missing.returncode == 2
    (line,) = missing.stderr.strip().splitlines()
    assert line.startswith("error: --continue: no session 'feedface' in ")


# -- MCP ---------------------------------------------------------------------------------


async def test_mcp_consult_council_follows_up_with_session_id(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "LLM_COUNCIL_AUDITION_URL": f"sqlite:///{tmp_path / 'mcp.db'}",
        "PYTHONPATH": str(REPO),
    }
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "llm_council", "mcp", "--gateway", "sandbox"],
        env=env,
        cwd=tmp_path,
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
        await client.initialize()
        (consult,) = [t for t in (await client.list_tools()).tools if t.name == "consult_council"]
        assert (
            "Follow up on this earlier council session"
            in (consult.input_schema["properties"]["session_id"]["description"])
        )
        first = await client.call_tool(
            "consult_council", {"prompt": "Reverse a list.", "tier": "quick"}
        )
        parent = first.structured_content
        assert not first.is_error and parent["parent_session_id"] is None
        second = await client.call_tool(
            "consult_council", {"prompt": "In place?", "session_id": parent["session_id"][:8]}
        )
        assert not second.is_error, second.content
        child = second.structured_content
        assert child["parent_session_id"] == parent["session_id"] and child["tier"] == "quick"
        shown = await client.call_tool("council_session", {"session_id": parent["session_id"]})
        children = shown.structured_content["thread"]["children"]
        assert [c["session_id"] for c in children] == [child["session_id"]]
        bad = await client.call_tool("consult_council", {"prompt": "x", "session_id": "feedface"})
        assert bad.is_error
        (block,) = bad.content
        assert block.text.startswith("cannot follow up: no session 'feedface'")
    assert AuditionStore(env["LLM_COUNCIL_AUDITION_URL"]).count_sessions() == 2


# -- HTTP --------------------------------------------------------------------------------


def test_http_council_session_id_links_without_repeating_the_history(tmp_path):
    """The message history is the context: the link is recorded, the parent's answer is not
    sent a second time as a block."""
    with council_on_sandbox(tmp_path) as (council, sandbox, store):
        service = CouncilService(council)
        with serve_asgi(create_http_app(service), on_shutdown=service.aclose) as url:
            client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
            question = [{"role": "user", "content": "Write merge(a, b)."}]
            first = client.chat.completions.create(model="council/quick", messages=question)
            parent_id = first.model_dump()["council"]["session_id"]
            sandbox.requests.clear()
            history = [
                *question,
                {"role": "assistant", "content": first.choices[0].message.content},
                {"role": "user", "content": "Now as a generator."},
            ]
            second = client.chat.completions.create(
                model="council",
                messages=history,
                extra_body={"council_session_id": parent_id},
            )
            extra: dict[str, Any] = second.model_dump()["council"]
            assert extra["parent_session_id"] == parent_id
            assert second.model == "council/quick"  # the parent's tier, as with --continue
            answers = [b for b in sandbox.requests if b["messages"][0]["content"] == ANSWER_SYSTEM]
            assert answers and all(
                "earlier council answer" not in b["messages"][1]["content"] for b in answers
            )
            assert all("Now as a generator." in b["messages"][1]["content"] for b in answers)
            for body, param in (
                ({"council_session_id": "feedface"}, "council_session_id"),
                ({"council_session_id": 42}, "council_session_id"),
            ):
                with pytest.raises(openai.BadRequestError) as caught:
                    client.chat.completions.create(
                        model="council", messages=question, extra_body=body
                    )
                assert caught.value.body["param"] == param
        assert store.get_session(extra["session_id"]).parent_session_id == parent_id
        assert [e.session_id for e in store.thread(parent_id).children] == [extra["session_id"]]
