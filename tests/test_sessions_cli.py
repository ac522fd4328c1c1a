"""``llm-council sessions list|show|import-unsent`` over SQLite stores the environment names."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from llm_council.audition.store import AuditionStore
from llm_council.cli.sessions import sessions_app
from tests.audition_data import KIMI, MINI, SONNET, make_session, registry

IDS = (
    "aaaa1111-0000-4000-8000-000000000001",
    "aaaa2222-0000-4000-8000-000000000002",
    "bbbb3333-0000-4000-8000-000000000003",
)


@pytest.fixture
def sessions(tmp_path, monkeypatch):
    """Three stored sessions (oldest first); the environment points only at tmp_path."""
    for var in ("LLM_COUNCIL_CONFIG", "OPENROUTER_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'audition.db'}"
    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", url)
    results = [
        make_session(1, session_id=IDS[0]),
        make_session(2, session_id=IDS[1], pareto_model=KIMI, drift_to=SONNET),
        make_session(3, session_id=IDS[2], seats=3, tier="high", failed_seat="s2"),
    ]
    store = AuditionStore(url)
    for result in results:
        store.write_session(result, registry())
    store.close()
    return results


def invoke(*args: str, columns: int = 80):
    return CliRunner().invoke(sessions_app, list(args), env={"COLUMNS": str(columns)})


def test_list_json_is_only_json_newest_first(sessions):
    out = invoke("list", "--json")
    assert out.exit_code == 0, out.output
    page = json.loads(out.stdout)
    assert set(page) == {"sessions", "shown", "total", "truncated", "notices"}
    assert (page["shown"], page["total"], page["truncated"], page["notices"]) == (3, 3, False, [])
    rows = page["sessions"]
    assert [r["session_id"] for r in rows] == list(reversed(IDS))
    oldest = rows[-1]
    assert oldest["flags"] == 2 and oldest["flag_counts"] == {"exact": 2}
    assert oldest["seats"][3] == {
        "seat_id": "s4",
        "requested_model": "openrouter/pareto-code",
        "resolved_model": MINI,
        "status": "ok",
        "duplicate_kind": "exact",
        "duplicate_of": ["s1"],
    }
    assert oldest["created_at"] == "2026-11-24T12:01:00Z"
    assert set(oldest) >= {"tier", "mode", "status", "gateway", "cost_usd", "prompt"}
    only_high = json.loads(invoke("list", "--json", "--tier", "high").stdout)
    assert [r["session_id"] for r in only_high["sessions"]] == [IDS[2]]
    assert (only_high["total"], only_high["truncated"]) == (1, False)
    two = json.loads(invoke("list", "--json", "--last", "2").stdout)
    assert [r["session_id"] for r in two["sessions"]] == [IDS[2], IDS[1]]
    assert (two["shown"], two["total"], two["truncated"]) == (2, 3, True)


def test_list_table_shows_requested_resolved_and_flags(sessions):
    out = invoke("list")
    assert out.exit_code == 0, out.output
    for sid in IDS:
        assert sid[:8] in out.stdout
    assert "2 exact" in out.stdout and "1 drift" in out.stdout and "partial" in out.stdout
    wide = invoke("list", columns=200).stdout
    assert "s2 anthropic/claude-sonnet-4.6 → timeout" in wide
    assert f"s4 pareto → {MINI} exact: s1" in wide
    assert f"s1 {MINI} exact: s4" in wide and f"s4 pareto → {KIMI}" in wide


def test_show_by_full_id_and_by_unique_prefix(sessions):
    out = invoke("show", IDS[1], "--json")
    assert out.exit_code == 0, out.output
    shown = json.loads(out.stdout)
    calls = shown.pop("calls")
    thread = shown.pop("thread")  # the follow-up thread (tests/test_followups.py)
    assert thread == {"ancestors": [], "children": [], "missing_parent": None}
    assert shown == sessions[1].model_dump(mode="json")
    assert calls == [c.model_dump(mode="json") for c in sessions[1].calls]
    prefix = invoke("show", "aaaa2", "--json")
    assert json.loads(prefix.stdout) == {
        **sessions[1].model_dump(mode="json"),
        "calls": calls,
        "thread": thread,
    }
    human = invoke("show", "aaaa1", columns=200)
    assert human.exit_code == 0, human.output
    text = human.stdout
    assert IDS[0] in text and "exact with s4" in text and "exact with s1" in text
    assert "chairman anthropic/claude-opus-4.7 → anthropic/claude-opus-4.7 · ok" in text
    assert "Use heapq.merge" in text and "ranking" in text and "Response" in text


def test_show_a_drifted_and_a_failed_seat(sessions):
    drifted = invoke("show", IDS[1], columns=200).stdout
    assert f"its review ran on {SONNET}: drift" in drifted
    failed = invoke("show", IDS[2]).stdout
    assert "timeout" in failed and "partial" in failed


def test_unknown_ambiguous_and_malformed_ids(sessions):
    unknown = invoke("show", "ffff")
    assert unknown.exit_code == 1 and "no session 'ffff'" in unknown.output
    ambiguous = invoke("show", "aaaa")
    assert ambiguous.exit_code == 1 and "matches several sessions" in ambiguous.output
    malformed = invoke("show", "a b%")
    assert malformed.exit_code == 2 and "is not a session id" in malformed.output
    assert unknown.stdout == "" and ambiguous.stdout == ""  # errors go to stderr


def test_an_empty_store_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.chdir(tmp_path)
    out = invoke("list")
    assert out.exit_code == 0 and "no sessions recorded in" in out.stdout
    assert json.loads(invoke("list", "--json").stdout) == {
        "sessions": [],
        "shown": 0,
        "total": 0,
        "truncated": False,
        "notices": [],
    }


def test_config_and_store_errors_have_their_exit_codes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("council: [unclosed\n")
    out = invoke("list", "--config", str(bad))
    assert out.exit_code == 2 and "bad.yaml" in out.output
    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", "not a url")
    assert invoke("list").exit_code == 2
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", f"sqlite:///{blocker / 'a.db'}")
    out = invoke("list")
    assert out.exit_code == 1 and str(blocker) in out.output
    # A store that cannot be opened is a failed command (1), not bad input, for show too;
    # the exit code comes from the exception's type (store_errors), never its wording.
    shown = invoke("show", "aaaa")
    assert shown.exit_code == 1 and str(blocker) in shown.output
    assert invoke("show", "a b").exit_code == 2  # the id is checked before the store opens
    assert invoke("list", "--tier", "huge").exit_code == 2


def test_show_says_when_the_chairman_failed(sessions, tmp_path):
    failed = make_session(9, session_id="cccc4444-0000-4000-8000-000000000004")
    failed.chairman = failed.chairman.model_copy(
        update={"status": "timeout", "resolved_model": None, "error": "no answer in 120 s"}
    )
    failed.status, failed.synthesis_is_fallback = "partial", True
    store = AuditionStore(f"sqlite:///{tmp_path / 'audition.db'}")
    store.write_session(failed, registry())
    store.close()
    text = invoke("show", "cccc", columns=200).stdout
    assert "chairman anthropic/claude-opus-4.7 → — · timeout (no answer in 120 s)" in text
    assert "fallback (chairman failed)" in text


# -- list: how many, and --all -----------------------------------------------------------------


def test_list_says_when_it_shows_only_the_newest(sessions, tmp_path):
    store = AuditionStore(f"sqlite:///{tmp_path / 'audition.db'}")
    for n in range(20):
        store.write_session(make_session(100 + n), registry())
    store.close()
    table = invoke("list", columns=200)
    assert table.exit_code == 0, table.output
    assert "showing 20 of 23; --all for every session" in table.stdout
    assert IDS[0][:8] not in table.stdout  # the oldest is beyond the first 20
    every = invoke("list", "--all", columns=200)
    assert IDS[0][:8] in every.stdout and "showing" not in every.stdout
    page = json.loads(invoke("list", "--json").stdout)
    assert (page["shown"], page["total"], page["truncated"]) == (20, 23, True)
    assert len(page["sessions"]) == 20
    everything = json.loads(invoke("list", "--json", "--all").stdout)
    assert (everything["shown"], everything["total"], everything["truncated"]) == (23, 23, False)
    assert everything["sessions"][-1]["session_id"] == IDS[0]
    high = json.loads(invoke("list", "--json", "--tier", "high").stdout)
    assert (high["shown"], high["total"], high["truncated"]) == (1, 1, False)
    both = invoke("list", "--last", "5", "--all")
    assert both.exit_code == 2 and "cannot be combined" in both.output


# -- show: calls[] and routing ------------------------------------------------------------------

ROUTED_ID = "dddd5555-0000-4000-8000-000000000005"


@pytest.fixture
def routed(sessions, tmp_path):
    """A session whose Pareto seat s4 went through the router (one failed fallback on its
    answer) and whose s3 was rerouted to a concrete model."""
    result = make_session(4, session_id=ROUTED_ID, routed=True)
    s3 = result.seat("s3")
    s3.rerouted_from, s3.resolved_model = "x-ai/grok-4.3", KIMI
    store = AuditionStore(f"sqlite:///{tmp_path / 'audition.db'}")
    store.write_session(result, registry())
    store.close()
    return result


def test_show_json_carries_every_call_as_the_contract_says(routed):
    """``calls[]`` of ``sessions show --json`` (DESIGN.md), ``router`` parsed from OpenRouter's
    ``openrouter_metadata`` (docs: Router Metadata,
    https://openrouter.ai/docs/guides/features/router-metadata)."""
    out = invoke("show", ROUTED_ID, "--json")
    assert out.exit_code == 0, out.output
    calls = json.loads(out.stdout)["calls"]
    contract = {"stage", "seat_id", "requested_model", "resolved_model", "provider", "status"}
    assert all(contract | {"attempts", "router"} <= set(c) for c in calls)
    assert [(c["stage"], c["seat_id"]) for c in calls] == [
        *(("answer", f"s{n}") for n in range(1, 5)),
        *(("review", f"s{n}") for n in range(1, 5)),
        ("chairman", "chairman"),
    ]
    answer = calls[3]
    assert answer["requested_model"] == "openrouter/pareto-code" and answer["provider"] == "openai"
    assert (answer["resolved_model"], answer["status"], answer["attempts"]) == (MINI, "ok", 1)
    router = answer["router"]
    assert {"strategy", "candidates", "attempts", "summary", "raw"} <= set(router)
    assert router["strategy"] == "pareto" and router["summary"].endswith(MINI)
    assert router["candidates"] == [
        {"model": SONNET, "provider": "anthropic", "selected": False},
        {"model": MINI, "provider": "openai", "selected": True},
    ]
    assert [(a["model"], a["status"]) for a in router["attempts"]] == [(SONNET, 503), (MINI, 200)]
    assert router["raw"]["endpoints"]["total"] == 2 and router["raw"]["generation_time"] == 812
    assert all(c["router"] is None for c in calls if c["seat_id"] != "s4")
    assert {"error", "latency_ms", "cost_usd", "started_at"} <= set(answer)


def test_show_table_says_how_each_seat_answered_and_what_the_router_did(routed):
    out = invoke("show", ROUTED_ID, columns=200)
    assert out.exit_code == 0, out.output
    lines = [line.rstrip() for line in out.stdout.splitlines()]
    routing = lines[lines.index("routing") :]
    assert routing[1:8] == [
        f"  s1 direct: {MINI}",
        f"  s2 direct: {SONNET}",
        f"  s3 direct: {KIMI} (rerouted from x-ai/grok-4.3)",
        f"  s4 via the router → {MINI}",
        f"    answer: {SONNET}, {MINI} → {MINI}",
        f"    answer fallbacks: {SONNET} 503",
        f"    review: {SONNET}, {MINI} → {MINI}",
    ]


def test_hostile_router_metadata_is_drawn_inert_and_kept_exact_in_json(sessions, tmp_path):
    from llm_council.gateway.router_metadata import parse_router_metadata

    evil_model = "evil/[/x]\x1b]0;pwned\x07\u202e:fire:"
    evil_provider = "[bold]Prov\x1b[31mider"
    result = make_session(6, session_id="eeee6666-0000-4000-8000-000000000006", routed=True)
    raw = {
        "strategy": "pareto\x1b[2J",
        "endpoints": {"available": [{"model": evil_model, "provider": evil_provider}]},
        "attempts": [{"model": evil_model, "provider": evil_provider, "status": 429}],
        "summary": "[/]",
    }
    result.calls[3] = result.calls[3].model_copy(
        update={"router": parse_router_metadata(raw), "provider": evil_provider}
    )
    result.prompt = "why [/x] \x1b[31mred\x1b[0m\nsecond line"
    store = AuditionStore(f"sqlite:///{tmp_path / 'audition.db'}")
    store.write_session(result, registry())
    store.close()
    for args in (("show", "eeee"), ("list",)):
        out = invoke(*args, columns=200)
        assert out.exit_code == 0, out.output
        assert not any(ch in out.stdout for ch in "\x1b\x07\u202e"), args
    shown = invoke("show", "eeee", columns=200).stdout
    assert "evil/[/x]\\x1b]0;pwned\\x07\\u202e:fire: 429" in shown  # literal, escaped
    assert f"answer: evil/[/x]\\x1b]0;pwned\\x07\\u202e:fire: → {MINI}" in shown
    stored = json.loads(invoke("show", "eeee", "--json").stdout)
    assert stored["prompt"] == result.prompt
    assert stored["calls"][3]["provider"] == evil_provider
    assert stored["calls"][3]["router"]["candidates"][0]["model"] == evil_model
    assert stored["calls"][3]["router"]["raw"] == raw


# -- statuses from cancelled runs ---------------------------------------------------------------


def test_an_interrupted_session_with_cancelled_calls_stores_lists_and_shows(sessions, tmp_path):
    result = make_session(7, session_id="ffff7777-0000-4000-8000-000000000007")
    result.status = "interrupted"
    s3 = result.seat("s3")
    s3.status, s3.error, s3.answer = "cancelled", "cancelled by the user", None
    result.calls[2] = result.calls[2].model_copy(
        update={"status": "cancelled", "error": "cancelled by the user", "resolved_model": None}
    )
    store = AuditionStore(f"sqlite:///{tmp_path / 'audition.db'}")
    assert store.write_session(result, registry()) is True
    assert store.get_calls(result.session_id)[2].status == "cancelled"
    store.close()
    page = json.loads(invoke("list", "--json").stdout)
    newest = page["sessions"][0]
    assert newest["session_id"] == result.session_id and newest["status"] == "interrupted"
    assert newest["seats"][2]["status"] == "cancelled"
    table = invoke("list", columns=200).stdout
    assert "interrupted" in table and "s3 x-ai/grok-4.3 → cancelled" in table
    shown = json.loads(invoke("show", "ffff", "--json").stdout)
    assert shown["status"] == "interrupted" and shown["calls"][2]["status"] == "cancelled"
    human = invoke("show", "ffff", columns=200).stdout
    assert "s3 no answer (cancelled)" in human


# -- a read-only store that is behind -----------------------------------------------------------


def test_a_read_only_store_behind_is_listed_with_a_notice(tmp_path, monkeypatch):
    from tests.audition_data import write_v1_store

    path = tmp_path / "old.db"
    old = make_session(1, session_id=IDS[0])
    write_v1_store(f"sqlite:///{path}", [old])
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", url)
    monkeypatch.chdir(tmp_path)
    notice = (
        f"the store at {url} is at schema version 1, this llm-council writes 4; "
        "open it writable once to upgrade"
    )
    out = invoke("list", columns=400)
    assert out.exit_code == 0, out.output
    assert IDS[0][:8] in out.stdout and notice in " ".join(out.stderr.split())
    page = json.loads(invoke("list", "--json").stdout)
    assert page["notices"] == [notice] and page["total"] == 1
    shown = invoke("show", IDS[0][:6], columns=200)
    assert shown.exit_code == 0 and "routing" in shown.stdout and "note:" in shown.stderr


# -- import-unsent, through the installed command line --------------------------------------------


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llm_council", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=env["HOME"],
    )


def test_import_unsent_stores_a_spilled_run_which_sessions_show_then_has(tmp_path):
    """``run`` with a store it cannot open spills the session to <data dir>/unsent; while the
    store is still down ``import-unsent`` keeps the file and exits 1; once it is back the
    session is stored, its file removed, and ``sessions show`` has it with every call. A file
    that is not a record is kept and named (exit 1). TMPDIR is private: the temp-dir spill
    fallback is scanned too, and other runs' records there are not this test's to import.
    """
    (tmp_path / "tmp").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "LLM_"))}
    env |= {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    env |= {"TMPDIR": str(tmp_path / "tmp")}
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    down = env | {"LLM_COUNCIL_AUDITION_URL": f"sqlite:///{blocker / 'audition.db'}"}
    up_url = f"sqlite:///{tmp_path / 'audition.db'}"
    up = env | {"LLM_COUNCIL_AUDITION_URL": up_url}

    ran = _cli(down, "run", "Merge two sorted lists.", "--gateway", "sandbox", "--json")
    assert ran.returncode == 0, ran.stderr
    session = json.loads(ran.stdout)
    unsent = tmp_path / "data" / "llm-council" / "unsent"
    spill = unsent / f"{session['session_id']}.json"
    assert any("sessions import-unsent" in n and str(spill) in n for n in session["notices"])
    assert stat.S_IMODE(spill.stat().st_mode) == 0o600  # it holds the prompt and the answers
    spilled_calls = json.loads(spill.read_text())["calls"]
    assert spilled_calls and not list((tmp_path / "tmp").glob("llm-council-unsent-*"))

    still_down = _cli(down, "sessions", "import-unsent")
    assert still_down.returncode == 1
    assert (
        still_down.stdout.strip()
        == f"imported 0 session(s) into {down['LLM_COUNCIL_AUDITION_URL']}"
    )
    assert "kept:" in still_down.stderr and spill.is_file()

    (unsent / "notes.json").write_text("{not a record")
    back = _cli(up, "sessions", "import-unsent")
    assert back.returncode == 1, back.stderr  # the stray file is a problem worth an exit 1
    assert back.stdout.strip() == f"imported 1 session(s) into {up_url}"
    assert "notes.json" in back.stderr and "kept:" in back.stderr
    assert sorted(p.name for p in unsent.iterdir()) == ["notes.json"]  # the record is gone

    shown = _cli(up, "sessions", "show", session["session_id"][:8], "--json")
    assert shown.returncode == 0, shown.stderr
    stored = json.loads(shown.stdout)
    calls = stored.pop("calls")
    assert stored.pop("thread")["ancestors"] == []
    assert [(c["stage"], c["seat_id"], c["resolved_model"]) for c in calls] == [
        (c["stage"], c["seat_id"], c["resolved_model"]) for c in spilled_calls
    ]
    # The run's own JSON also carries the spill notice, added after the record was written.
    assert {**stored, "notices": []} == {**session, "notices": []}
