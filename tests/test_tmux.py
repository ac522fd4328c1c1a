"""The first command a newcomer types, in a real 80x40 terminal (tmux), read back from the
screen with ``tmux capture-pane``: no line wider than the terminal, every model id whole,
the Pareto seat as ``pareto@0.5 → <model>``.

Unlike the snapshot tests (a recording console told its width), this runs the installed
``llm-council`` on a pseudo-terminal tmux owns, so Rich finds the width itself and the
live progress table is drawn as a user sees it. Skipped only when tmux is missing and
LLM_COUNCIL_REQUIRE_TMUX is unset (CI sets it and installs tmux).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.cells import cell_len

from llm_council.audition.store import AuditionStore

WIDTH, HEIGHT = 80, 40
PROMPT = "Write fizzbuzz in Python"


@pytest.fixture
def tmux() -> str:
    path = shutil.which("tmux")
    if path is None:
        if os.environ.get("LLM_COUNCIL_REQUIRE_TMUX"):
            pytest.fail("LLM_COUNCIL_REQUIRE_TMUX is set but tmux is not installed")
        pytest.skip("tmux not installed (apt-get install -y tmux)")
    return path


def hermetic_env(home: Path, url: str) -> dict[str, str]:
    """The user's environment without anything that would change the run: no key, no
    config, no pools, no width or colour forcing; home and data dirs under ``home``."""
    drop = ("OPENROUTER", "LLM_COUNCIL_", "TMUX", "COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        LLM_COUNCIL_AUDITION_URL=url,
        TERM="xterm-256color",
        LANG="C.UTF-8",
        LC_ALL="C.UTF-8",
    )
    return env


def test_run_in_an_80_column_terminal(tmux, tmp_path):
    executable = Path(sys.executable).with_name("llm-council")
    assert executable.is_file(), f"{executable} missing: install the package into the venv"
    url = f"sqlite:///{tmp_path / 'audition.db'}"
    env = hermetic_env(tmp_path, url)
    socket = tmp_path / "tmux.sock"
    command = (
        f"{shlex.quote(str(executable))} run {shlex.quote(PROMPT)} --gateway sandbox; "
        "echo __EXIT_$?__; sleep 600"
    )

    def tmux_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [tmux, "-u", "-S", str(socket), *args],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip

    started = tmux_run(
        "new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT), "-c", str(tmp_path), command
    )
    assert started.returncode == 0, started.stderr
    try:
        deadline, screen = time.monotonic() + 90, ""
        while time.monotonic() < deadline:
            # -J joins lines the terminal wrapped, so an overlong line shows as one line.
            screen = tmux_run("capture-pane", "-p", "-J", "-S", "-").stdout
            if "__EXIT_" in screen:
                break
            time.sleep(0.5)
    finally:
        tmux_run("kill-server")
    assert "__EXIT_0__" in screen, screen
    lines = [line.rstrip() for line in screen.splitlines()]
    too_wide = [line for line in lines if cell_len(line) > WIDTH]
    assert not too_wide, "\n".join(too_wide)

    store = AuditionStore(url)
    (session,) = store.list_sessions(last=5)
    result = store.get_session(session.session_id)
    store.close()
    models = {s.resolved_model for s in result.seats if s.resolved_model}
    models |= {s.requested_model for s in result.seats if not s.is_pareto}
    models.add(result.chairman.requested_model)
    for model in models:  # every id drawn whole, on one line
        assert any(model in line for line in lines), (model, screen)
    (pareto,) = [s for s in result.seats if s.is_pareto]
    assert any(
        f"pareto@{pareto.min_coding_score:g} → {pareto.resolved_model}" in ln for ln in lines
    )
    assert "openrouter/pareto-code" not in screen  # the seat reads pareto@, not the router id
    # The live progress table (stderr) and the result table (stdout) were both drawn.
    assert "council session" in screen and f"session {result.session_id}" in screen
    assert not re.search(r"\x1b", screen)
