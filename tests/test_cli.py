"""The CLI as a user runs it: sessions list/show after real runs, and `sandbox serve` over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from typer.testing import CliRunner

from llm_council.cli import app
from tests.conftest import free_port

PROMPT = "Write a Python function that merges two sorted lists."


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    db = tmp_path / "audition.db"
    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", f"sqlite:///{db}")
    monkeypatch.chdir(tmp_path)
    return db


def test_ten_duplicate_sessions_are_listed_flagged_and_stored(env, monkeypatch):
    monkeypatch.setenv(
        "LLM_COUNCIL_MODELS_BALANCED",
        "openai/gpt-5.4-mini,anthropic/claude-sonnet-4.6,openrouter/pareto-code",
    )
    runner = CliRunner()
    ids = []
    for _ in range(10):
        result = runner.invoke(app, ["run", PROMPT, "--json"])
        assert result.exit_code == 0, result.output
        payload = json.loads(result.stdout)
        ids.append(payload["session_id"])
        assert payload["seats"][2]["duplicate_of"] == ["s1"]
    listed = runner.invoke(app, ["sessions", "list", "--json", "--last", "50"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)["sessions"]
    assert {r["session_id"] for r in rows} == set(ids)
    assert all(r["flags"] == 2 for r in rows)
    assert env.exists() and env.stat().st_size > 0
    table = runner.invoke(app, ["sessions", "list"])
    assert table.exit_code == 0 and ids[-1][:8] in table.stdout
    shown = runner.invoke(app, ["sessions", "show", ids[0][:10], "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["session_id"] == ids[0]
    human = runner.invoke(app, ["sessions", "show", ids[0]])
    assert human.exit_code == 0 and "exact with s1" in human.stdout


def test_run_prints_its_duplicate_flags(env, monkeypatch):
    monkeypatch.setenv(
        "LLM_COUNCIL_MODELS_QUICK", "deepseek/deepseek-v4-flash,openrouter/pareto-code"
    )
    result = CliRunner().invoke(app, ["run", PROMPT, "--tier", "quick"])
    assert result.exit_code == 0, result.output
    assert "exact with s1" in result.stdout and "exact with s2" in result.stdout


def test_sessions_errors(env):
    runner = CliRunner()
    missing = runner.invoke(app, ["sessions", "show", "deadbeef"])
    assert missing.exit_code == 1 and "no session" in missing.output
    bad_tier = runner.invoke(app, ["sessions", "list", "--tier", "huge"])
    assert bad_tier.exit_code == 2 and "unknown tier" in bad_tier.output
    empty = runner.invoke(app, ["sessions", "list"])
    assert empty.exit_code == 0 and "no sessions" in empty.stdout


def test_failed_session_exits_1_with_causes(env, monkeypatch):
    monkeypatch.setenv("LLM_COUNCIL_MODELS_QUICK", "nobody/unknown-model-1")
    result = CliRunner().invoke(app, ["run", PROMPT, "--tier", "quick"])
    assert result.exit_code == 1
    assert "no seat answered" in result.output and "not a valid model ID" in result.output


def test_prompt_from_stdin_and_file(env, tmp_path):
    runner = CliRunner()
    piped = runner.invoke(app, ["run", "--json", "--tier", "quick"], input=PROMPT)
    assert piped.exit_code == 0 and json.loads(piped.stdout)["prompt"] == PROMPT
    question = tmp_path / "q.md"
    question.write_text(PROMPT)
    from_file = runner.invoke(app, ["run", "--file", str(question), "--json", "--tier", "quick"])
    assert from_file.exit_code == 0 and json.loads(from_file.stdout)["prompt"] == PROMPT


def test_sandbox_serve_answers_like_openrouter(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "OPENROUTER_API_KEY"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_council", "sandbox", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.post(
                    f"http://127.0.0.1:{port}/api/v1/chat/completions",
                    json={
                        "model": "openrouter/pareto-code",
                        "plugins": [{"id": "pareto-router", "min_coding_score": 0.8}],
                        "messages": [{"role": "user", "content": PROMPT}],
                    },
                    timeout=5,
                )
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "sandbox serve did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        body = response.json()
        assert body["model"] == "deepseek/deepseek-v4-pro"
        assert body["choices"][0]["message"]["content"] and body["usage"]["cost"] > 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
