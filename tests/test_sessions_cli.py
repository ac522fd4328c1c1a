"""``llm-council sessions list|show`` over a SQLite store named by LLM_COUNCIL_AUDITION_URL."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from llm_council.audition.sessions_cli import sessions_app
from llm_council.audition.store import AuditionStore
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
    rows = json.loads(out.stdout)
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
    assert [r["session_id"] for r in only_high] == [IDS[2]]
    assert len(json.loads(invoke("list", "--json", "--last", "2").stdout)) == 2


def test_list_table_shows_requested_resolved_and_flags(sessions):
    out = invoke("list")
    assert out.exit_code == 0, out.output
    for sid in IDS:
        assert sid[:8] in out.stdout
    assert "2 exact" in out.stdout and "1 drift" in out.stdout and "partial" in out.stdout
    wide = invoke("list", columns=200).stdout
    assert "s2 anthropic/claude-sonnet-4.6 timeout" in wide
    assert f"s4 openrouter/pareto-code → {MINI} exact: s1" in wide
    assert f"s1 {MINI} exact: s4" in wide and f"s4 openrouter/pareto-code → {KIMI}" in wide


def test_show_by_full_id_and_by_unique_prefix(sessions):
    out = invoke("show", IDS[1], "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == sessions[1].model_dump(mode="json")
    prefix = invoke("show", "aaaa2", "--json")
    assert json.loads(prefix.stdout) == sessions[1].model_dump(mode="json")
    human = invoke("show", "aaaa1", columns=200)
    assert human.exit_code == 0, human.output
    text = human.stdout
    assert IDS[0] in text and "exact with s4" in text and "exact with s1" in text
    assert "chairman anthropic/claude-opus-4.7 → anthropic/claude-opus-4.7 · ok" in text
    assert "Use heapq.merge" in text and "ranking" in text and "Response" in text


def test_show_a_drifted_and_a_failed_seat(sessions):
    drifted = invoke("show", IDS[1], columns=200).stdout
    assert f"drift: its review ran on {SONNET}" in drifted
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
    assert json.loads(invoke("list", "--json").stdout) == []


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
