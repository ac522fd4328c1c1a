"""``llm-council --help`` loads only what help needs (issue: a fast CLI start).

The heavy parts (the store's SQLAlchemy, the HTTP client, pydantic models, the MCP SDK,
rich's tables and markdown) load inside the command that uses them. Checked in a fresh
interpreter, so nothing an earlier test imported can hide a regression. Timings live in
``bench/cli_start.py``; this test checks the cause, not the clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = (
    "sqlalchemy",
    "aiohttp",
    "httpx",
    "pydantic",
    "yaml",
    "mcp",
    "starlette",
    "uvicorn",
    "asyncio",
    "rich.table",
    "rich.markdown",
    "llm_council.api",
    "llm_council.config",
    "llm_council.audition.store",
    "llm_council.sandbox",
)

PROBE = """
import json, sys
from llm_council.cli import app
try:
    app(sys.argv[1:] + ["--help"], standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def loaded_by(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_root_help_loads_no_heavy_module():
    loaded = loaded_by()
    assert not {m for m in HEAVY if m in loaded}


def test_run_help_loads_no_heavy_module():
    # `run --help` is what a newcomer types second; the option types must stay light.
    # Typer itself validates parameters with pydantic once a command is parsed, so pydantic
    # is allowed here; our own models (llm_council.config and below) are not.
    loaded = loaded_by("run")
    assert "llm_council.cli.run" in loaded
    assert not {m for m in HEAVY if m in loaded and m != "pydantic"}


def test_shell_completion_completes_commands_and_options():
    # What `llm-council --install-completion` installs calls the program back like this.
    def complete(words: str, cword: int) -> list[str]:
        env = {
            **os.environ,
            "_LLM_COUNCIL_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(cword),
        }
        done = subprocess.run(
            [str(Path(sys.executable).parent / "llm-council")],
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert complete("llm-council ses", 1) == ["sessions"]
    assert "--duplicate-policy" in complete("llm-council run --dup", 2)
    assert complete("llm-council run --tier ", 3) == [
        "quick",
        "balanced",
        "high",
        "reasoning",
        "frontier",
    ]
