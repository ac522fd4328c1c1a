"""Logging: the library writes nothing itself and masks before any handler; the CLI renders.

The checks run through real handlers (a caller's ``logging`` set-up, the CLI's stderr
handler, a subprocess's stdout/stderr), never through a test-only capture of events.
"""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_council.config import GatewaySettings
from llm_council.gateway.base import ChatMessage, CompletionRequest, RateLimitedError
from llm_council.gateway.openrouter import OpenRouterGateway
from llm_council.log import EventLogger, configure_logging, get_logger
from llm_council.redaction import MIN_PIECE
from tests.scripted_openrouter import Reply, completion, error

KEY = "sk-or-v1-" + secrets.token_hex(32)
MESSAGES = (ChatMessage(role="user", content="merge two sorted lists"),)


def leaks(text: str) -> list[str]:
    windows = {KEY[i : i + MIN_PIECE] for i in range(len(KEY) - MIN_PIECE + 1)}
    return sorted(w for w in windows if w in text)


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """No key, no project settings, and a private HOME/XDG so nothing real is touched."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_COUNCIL_", "OPENROUTER_"))}
    home = tmp_path / "home"
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
    )
    return env


def run_python(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=isolated_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


class Collect(logging.Handler):
    """A caller's own handler: keeps each record and what its formatter printed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))

    def everything(self) -> str:
        """What any formatter could print: formatted lines and every record attribute."""
        dumped = [json.dumps(vars(r), default=str) for r in self.records]
        return "\n".join(self.lines + dumped)


@pytest.fixture
def llm_council_logger() -> Iterator[logging.Logger]:
    """The ``llm_council`` logger, restored afterwards (handlers, level, propagation)."""
    logger = logging.getLogger("llm_council")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield logger
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


@pytest.fixture
def collect(llm_council_logger: logging.Logger) -> Collect:
    handler = Collect()
    llm_council_logger.addHandler(handler)
    llm_council_logger.setLevel(logging.DEBUG)
    return handler


def make_gateway(url: str, attempts: int = 1) -> OpenRouterGateway:
    return OpenRouterGateway(
        GatewaySettings(max_attempts=attempts, backoff_base_s=0),
        api_key=KEY,
        base_url=f"{url}/api/v1",
    )


def pareto_request() -> CompletionRequest:
    return CompletionRequest(model="openrouter/pareto-code:nitro", messages=MESSAGES, tier="high")


# --- library use: nothing on stdout, events through standard logging --------------------------

LIBRARY_RUN = """
    import logging, sys
    {setup}
    from llm_council import Council
    council = Council.from_config(gateway="sandbox", audition=False)
    result = council.run_sync("Write a function that merges two sorted lists.")
    council.close()
    assert result.status == "ok", result.status
"""


def test_a_library_run_writes_nothing_to_stdout_and_logs_at_the_callers_discretion(tmp_path):
    configured = run_python(
        LIBRARY_RUN.format(setup="logging.basicConfig(level=logging.INFO, stream=sys.stderr)"),
        tmp_path,
    )
    assert configured.returncode == 0, configured.stderr[-2000:]
    assert configured.stdout == ""
    resolved = [
        line
        for line in configured.stderr.splitlines()
        if "llm_council.gateway:pareto.resolved" in line
    ]
    assert resolved, configured.stderr[-2000:]
    # The caller's plain formatter shows the event's fields, not just its name.
    assert "requested_model='openrouter/pareto-code'" in resolved[0]
    assert "resolved_model='" in resolved[0] and "tier='balanced'" in resolved[0]

    silent = run_python(LIBRARY_RUN.format(setup=""), tmp_path)
    assert silent.returncode == 0, silent.stderr[-2000:]
    # Unconfigured: nothing on stdout, and info events are not shown anywhere.
    assert silent.stdout == "" and "pareto.resolved" not in silent.stderr


def test_importing_the_package_configures_no_logging(tmp_path):
    probe = run_python(
        """
        import importlib, json, logging, pkgutil
        root = logging.getLogger()
        before = (list(root.handlers), root.level)
        import llm_council
        names = [m.name for m in pkgutil.walk_packages(llm_council.__path__, "llm_council.")]
        for name in names:
            if not name.endswith("__main__"):
                importlib.import_module(name)
        import structlog
        ours = logging.getLogger("llm_council")
        print(json.dumps({
            "modules": len(names),
            "root_unchanged": (list(root.handlers), root.level) == before,
            "structlog_configured": structlog.is_configured(),
            "ours": [ours.level, len(ours.handlers), len(ours.filters)],
            "lastResort": logging.lastResort is not None,
        }))
        """,
        tmp_path,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    state = json.loads(probe.stdout)
    assert state["modules"] > 20  # the whole package was imported, CLI and sandbox included
    assert state["root_unchanged"] and not state["structlog_configured"]
    assert state["ours"] == [logging.NOTSET, 0, 0] and state["lastResort"]


# --- the record a caller's handler receives ---------------------------------------------------


async def test_a_callers_handler_gets_the_event_its_fields_and_the_calling_module(
    scripted, collect
):
    server, url = scripted
    server.reset(Reply(body=completion("openai/gpt-5.4-mini")))
    gw = make_gateway(url)
    try:
        await gw.complete(pareto_request())
    finally:
        await gw.aclose()
    (record,) = [r for r in collect.records if getattr(r, "event", None) == "pareto.resolved"]
    assert record.name == "llm_council.gateway" and record.levelno == logging.INFO
    assert record.event_fields == {
        "requested_model": "openrouter/pareto-code:nitro",
        "resolved_model": "openai/gpt-5.4-mini",
        "tier": "high",
        "min_coding_score": 0.8,
        "variant": "nitro",
        "generation_id": "gen-abc123",
    }
    assert record.getMessage().startswith("pareto.resolved requested_model='openrouter/pareto")
    # The record names the code that logged, not the logging helper.
    assert (record.module, record.funcName) == ("openrouter", "_result")
    assert record.exc_info is None


async def test_a_callers_handler_never_sees_a_piece_of_the_key(scripted, collect):
    server, url = scripted
    # A server that echoes the key in an error (then retried) and in the model it names.
    server.reset(
        Reply(status=429, body=error(429, f"slow down {KEY[:20]}"), headers={"Retry-After": "0"}),
        Reply(body=completion(f"vendor/{KEY[9:41]}")),
    )
    gw = make_gateway(url, attempts=2)
    try:
        await gw.complete(pareto_request())
    finally:
        await gw.aclose()
    log = get_logger("llm_council.audition")
    log.warning("test.fields", note=KEY[:30], nested={"k": [KEY]}, obj=RateLimitedError(KEY))
    try:
        raise RuntimeError(f"the server said {KEY}")
    except RuntimeError:
        log.exception("test.failed", where="here")
    events = [getattr(r, "event", None) for r in collect.records]
    assert events.count("gateway.retry") == 1 and "pareto.resolved" in events
    retry = collect.records[events.index("gateway.retry")]
    assert retry.event_fields["detail"] == "HTTP 429: slow down ***"
    failed = collect.records[events.index("test.failed")]
    assert failed.exc_info is None  # the traceback travels as masked text only
    assert "RuntimeError: the server said ***" in failed.event_fields["exception"]
    assert "Traceback (most recent call last)" in collect.lines[-1]
    assert not leaks(collect.everything()), leaks(collect.everything())


def test_records_below_the_configured_level_are_dropped(collect):
    collect_logger = logging.getLogger("llm_council")
    collect_logger.setLevel(logging.WARNING)
    log = get_logger("llm_council.gateway")
    log.info("test.quiet", x=1)
    log.debug("test.quieter", x=2)
    log.warning("test.loud", x=3)
    assert [r.event for r in collect.records] == ["test.loud"]


def test_loggers_live_under_the_package_namespace():
    assert isinstance(get_logger("llm_council.x"), EventLogger)
    assert get_logger("llm_council.x").logger is logging.getLogger("llm_council.x")
    with pytest.raises(ValueError, match="not under 'llm_council'"):
        get_logger("httpx")


# --- the CLI's stderr handler ----------------------------------------------------------------


def test_cli_logging_writes_json_lines_to_the_current_stderr(llm_council_logger, monkeypatch):
    other_key = "sk-or-v1-" + secrets.token_hex(32)
    configure_logging("info", secrets=[other_key], json=True)
    configure_logging("info", secrets=[other_key], json=True)  # again: still one handler
    ours = [h for h in llm_council_logger.handlers if h.get_name() == "llm_council.cli.stderr"]
    assert len(ours) == 1
    swapped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", swapped)  # swapped after set-up, as test runners do
    log = get_logger("llm_council.gateway")
    log.debug("test.hidden", x=1)
    log.info("pareto.resolved", resolved_model="openai/gpt-5.4-mini", secret=other_key[:25])
    lines = swapped.getvalue().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["event"] == "pareto.resolved" and event["level"] == "info"
    assert event["logger"] == "llm_council.gateway" and event["timestamp"].endswith("+00:00")
    assert event["resolved_model"] == "openai/gpt-5.4-mini" and event["secret"] == "***"


def test_cli_logging_on_a_terminal_uses_console_lines(llm_council_logger, monkeypatch):
    configure_logging("warning", json=False)
    swapped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", swapped)
    get_logger("llm_council.audition").warning("council.duplicate_seat", seat_id="s3", kind="exact")
    line = swapped.getvalue()
    assert "council.duplicate_seat" in line and "seat_id=s3" in line and "warning" in line
    assert not line.lstrip().startswith("{")


def test_cli_console_lines_show_outside_text_inert(llm_council_logger, monkeypatch):
    configure_logging("warning", json=False)
    swapped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", swapped)
    hostile = "evil/m\x1b]0;pwned\x07\u202e"
    get_logger("llm_council.audition").warning("council.duplicate_seat", model=hostile)
    line = swapped.getvalue()
    assert "\\x1b]0;pwned\\x07\\u202e" in line
    assert not any(ch in line for ch in "\x1b\x07\u202e")


@pytest.mark.parametrize(("level", "whole"), [("warning", False), ("debug", True)])
def test_cli_shows_a_traceback_whole_only_at_debug(llm_council_logger, monkeypatch, level, whole):
    configure_logging(level, json=True)
    swapped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", swapped)
    try:
        raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
    except UnicodeEncodeError:
        get_logger("llm_council.council").exception("council.call_failed_internally", stage="judge")
    (event,) = [json.loads(line) for line in swapped.getvalue().splitlines()]
    assert event["stage"] == "judge"
    assert event["exception"].endswith("surrogates not allowed")
    assert ("Traceback (most recent call last)" in event["exception"]) is whole


def test_the_cli_prints_only_json_on_stdout_and_events_on_stderr(tmp_path):
    env = isolated_env(tmp_path)
    env["LLM_COUNCIL_AUDITION_URL"] = f"sqlite:///{tmp_path / 'audition.db'}"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "llm_council",
            "--log-level",
            "info",
            "run",
            "merge lists",
            "--json",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["gateway"] == "sandbox"  # stdout is the JSON and only that
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    resolved = [e for e in events if e["event"] == "pareto.resolved"]
    assert resolved and resolved[0]["requested_model"] == "openrouter/pareto-code"
    assert all(e["level"] in {"info", "warning", "error"} for e in events)
