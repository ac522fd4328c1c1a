"""Bad bytes, bad URLs and bad keys are one-line errors naming the input, exit 2.

Run as real subprocesses: the bytes reach the CLI exactly as a shell would pass them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from llm_council.api import Council
from tests.conftest import serve_asgi
from tests.scripted_openrouter import Reply, ScriptedServer, completion

REPO = Path(__file__).resolve().parents[1]


def run_cli(tmp_path: Path, *args: str, stdin: bytes | None = None, **env: str):
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "LLM_COUNCIL_AUDITION_URL": f"sqlite:///{tmp_path / 'a.db'}",
        "PYTHONPATH": str(REPO),
    }
    return subprocess.run(
        [sys.executable, "-m", "llm_council", *args],
        input=stdin,
        env={**base, **env},
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )


def assert_one_line_error(done: subprocess.CompletedProcess[bytes], *needles: str) -> None:
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0]


def test_non_utf8_prompt_on_stdin(tmp_path):
    done = run_cli(tmp_path, "run", "-", stdin=b"caf\xe9 au lait\n")
    assert_one_line_error(done, "the prompt on stdin is not valid UTF-8", "0xe9", "offset 3")


def test_non_utf8_prompt_file(tmp_path):
    (tmp_path / "q.md").write_bytes(b"\x80\x81 question")
    done = run_cli(tmp_path, "run", "--file", "q.md")
    assert_one_line_error(done, "--file q.md is not valid UTF-8", "0x80")


def test_undecodable_prompt_argument(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "llm_council", "run", b"bad \xff arg"],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(tmp_path)},
        capture_output=True,
        timeout=60,
    )
    assert_one_line_error(done, "the prompt argument is not valid UTF-8")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://[::1", "Invalid port"),
        ("ftp://example.com/api/v1", "must start with http:// or https://"),
        ("openrouter.ai/api/v1", "must start with http:// or https://"),
    ],
)
def test_bad_base_url(tmp_path, url, problem):
    done = run_cli(
        tmp_path, "run", "hello", OPENROUTER_BASE_URL=url, OPENROUTER_API_KEY="sk-or-abc"
    )
    assert_one_line_error(done, "OPENROUTER_BASE_URL is not a usable URL", problem)


def test_non_ascii_key_is_refused_without_echoing_it(tmp_path):
    key = "sk-or-v1-ünïcödé-secret"
    done = run_cli(tmp_path, "run", "hello", OPENROUTER_API_KEY=key)
    assert_one_line_error(done, "OPENROUTER_API_KEY contains non-ASCII")
    assert b"secret" not in done.stderr and b"secret" not in done.stdout


async def test_answers_without_a_model_are_kept_flagged_and_paid_once():
    """A billed answer that does not say which model wrote it stays in the session."""
    from llm_council.config import GatewaySettings
    from llm_council.gateway.openrouter import OpenRouterGateway
    from llm_council.registry import load_registry
    from tests.council_helpers import make_config

    nameless = completion("x", "def fizz(): ...", cost=0.002)
    del nameless["model"]
    server = ScriptedServer(Reply(body=nameless))
    config = make_config({"balanced": ["openai/gpt-5.4", "openrouter/pareto-code"]})
    with serve_asgi(server) as url:
        gateway = OpenRouterGateway(
            GatewaySettings(max_attempts=3), api_key="sk-or-k", base_url=f"{url}/api/v1"
        )
        council = Council(config, load_registry(), gateway)
        result = await council.run("Write fizzbuzz.", "balanced")
        await council.aclose()
    answers = [c for c in result.calls if c.stage == "answer"]
    assert len([e for e in server.log if e["path"].endswith("/chat/completions")]) == len(
        result.calls
    )  # one request per call: nothing was retried
    assert all(c.status == "ok" and c.resolved_model is None for c in answers)
    assert all(c.cost_usd == 0.002 and c.attempts == 1 for c in answers)
    for seat in result.seats:
        assert seat.status == "ok" and seat.answer == "def fizz(): ..."
        assert seat.resolved_model is None
        assert [f.model_dump() for f in seat.flags] == [{"kind": "unnamed"}]
        assert seat.duplicate_kind is None  # two unknowns are not a known duplicate
