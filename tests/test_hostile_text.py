"""Hostile text from outside never crashes the CLI and never drives the terminal.

Text the council does not control (a provider's error message, the ``model`` a response
names, the answers and the chairman's synthesis, the prompt, file names, CLI arguments, model
ids from the environment) is fed through every command that shows it: ``run`` (table and
``--json``), ``sessions list|show``, ``report`` in every format and ``check``. For each:

* nothing crashes: exit code 0, 1 or 2, no exception escapes, no traceback on stderr;
* the stored text round-trips exactly (read back through ``--json``);
* what is drawn for a terminal holds no raw control character: no C0/C1 control other than
  newline and tab, no bidi override or isolate, no lone surrogate. The in-process runs write
  to a non-terminal, where Rich emits no styling of its own, so any control in the output is
  one that came from the hostile text. One real subprocess on a pseudo-terminal checks the
  terminal path end to end (live progress included), allowing only the exact sequences Rich
  itself writes.

Hostile text reaches the pipeline through an OpenRouter-compatible HTTP server on 127.0.0.1
(``OPENROUTER_BASE_URL`` plus a dummy ``OPENROUTER_API_KEY``). Its replies follow OpenRouter's
documented shapes: a chat completion carries the serving ``model`` and ``choices[].message
.content``; an error is ``{"error": {"code", "message", "metadata"}}`` with the HTTP status
(OpenRouter API reference, "Errors": https://openrouter.ai/docs/api-reference/errors).
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import typer.main
import typer.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from llm_council.audition.store import AuditionStore
from llm_council.cli import app
from llm_council.council.result import Disagreement, SessionResult, Verdict
from tests.audition_data import make_session, registry
from tests.conftest import serve_asgi
from tests.scripted_openrouter import completion, error, read_body

KEY = "sk-or-v1-dummy-hostile-test-0000"
CHAIRMAN = "anthropic/claude-opus-4.7"
NAMED = ("google/gemini-3-flash-preview", "anthropic/claude-haiku-4.5")
PARETO = "openrouter/pareto-code"

# Written out here rather than imported from llm_council.textsafe: the test must not trust
# the code it checks. C0 controls but tab and newline, DEL, C1 controls, bidi marks,
# embeddings, overrides and isolates, and surrogates.
RAW_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)

# Pieces that have broken terminals or Rich before: markup tags (``[/x]`` raised
# MarkupError), escape sequences (OSC title change, SGR, CSI clear screen, 8-bit CSI), BEL,
# NUL, bidi overrides, a carriage return, emoji codes, character references that Markdown
# decodes, HTML that a report must escape, Markdown syntax.
FRAGMENTS = (
    "[/x]",
    "[bold]",
    "[/]",
    "[red]r[/red]",
    "[link=https://evil.example]l[/link]",
    "\\[",
    "\\",
    "\x1b]0;pwned\x07",
    "\x1b[31m",
    "\x1b[2J",
    "\x9b2J",
    "\x1b",
    "\x07",
    "\x00",
    "\u202e",
    "\u2066",
    "\u200f",
    "\r",
    "\n",
    "\t",
    ":smile:",
    "&#x202e;",
    "&#27;",
    "<script>alert(1)</script>",
    "```",
    "| a | b |",
    "**",
    "&amp;",
)


def hostile(*, surrogates: bool = False, exclude: str = "", max_pieces: int = 6) -> Any:
    """Arbitrary Unicode mixed with known-bad pieces; lone surrogates only where asked."""
    chars = st.characters(
        exclude_categories=() if surrogates else ("Cs",), exclude_characters=exclude
    )
    fragments = [f for f in FRAGMENTS if not any(c in f for c in exclude)]
    piece = st.one_of(st.sampled_from(fragments), st.text(chars, min_size=1, max_size=10))
    return st.lists(piece, min_size=1, max_size=max_pieces).map("".join)


def model_ids() -> Any:
    """A hostile model id as a response or a pool could name it: non-blank, on one line
    with no commas (a pool list is comma separated and stripped), no NUL (not allowed in an
    environment variable)."""
    return hostile(exclude="\x00,\n\r\t\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029").filter(
        lambda s: s.strip() == s and s != "" and not s[-1].isspace()
    )


# --- an OpenRouter-compatible server whose replies each example scripts -------------------


Script = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


class HostileServer:
    """Answers ``POST /api/v1/chat/completions`` by calling ``script(request_body)``.

    Bodies are sent with ``json.dumps`` defaults (ASCII, escapes), so even a lone
    surrogate travels the way a real server could send it: as a ``\\ud800`` escape.
    """

    def __init__(self) -> None:
        self.script: Script = lambda body: (200, completion())
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        raw = await read_body(receive)
        body = json.loads(raw) if raw else {}
        self.requests.append(body)
        status, payload = self.script(body)
        data = json.dumps(payload).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[HostileServer, str]]:
    hostile_server = HostileServer()
    with serve_asgi(hostile_server) as url:
        yield hostile_server, url


@pytest.fixture(scope="module")
def home() -> Iterator[Path]:
    """HOME/XDG dirs and a working directory shared by the examples of this module (no
    unified_config.yaml in it, so the shipped default config applies)."""
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        yield Path(tmp)


@contextmanager
def environment(url: str, home: Path, **extra: str | None) -> Iterator[dict[str, str | None]]:
    """Variables for one example: a fresh SQLite store, no colour forcing, the server."""
    with tempfile.TemporaryDirectory(dir=home) as tmp:
        env: dict[str, str | None] = {
            "OPENROUTER_API_KEY": KEY,
            "OPENROUTER_BASE_URL": f"{url}/api/v1",
            "LLM_COUNCIL_AUDITION_URL": f"sqlite:///{tmp}/audition.db",
            "LLM_COUNCIL_CONFIG": None,
            "LLM_COUNCIL_MODELS_QUICK": ",".join((*NAMED, PARETO)),
            "LLM_COUNCIL_CHAIRMAN": CHAIRMAN,
            "LLM_COUNCIL_LOG_LEVEL": None,
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_CACHE_HOME": str(home / "cache"),
            # Rich must not style: every control in the output then came from the input.
            "FORCE_COLOR": None,
            "TTY_COMPATIBLE": None,
            "TTY_INTERACTIVE": None,
            "NO_COLOR": "1",
            "COLUMNS": "100",
            **extra,
        }
        yield env


@pytest.fixture(autouse=True)
def _in_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(home)


@pytest.fixture(scope="module", autouse=True)
def _build_the_command_once() -> Iterator[None]:
    """Typer rebuilds the click command on every CliRunner.invoke (~0.1 s from type hints);
    these tests invoke the CLI hundreds of times, so build it once. Speed only: without
    the attribute, every invoke builds its own as usual."""
    command = typer.main.get_command(app)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(typer.testing, "_get_command", lambda _app: command, raising=False)
        yield


RUNNER = CliRunner()


def assert_terminal_safe(text: str, where: str) -> None:
    found = RAW_CONTROL.search(text)
    assert found is None, (
        f"{where}: raw {found.group()!r} reached the terminal: "
        f"{text[max(0, found.start() - 80) : found.start() + 20]!r}"
    )


def cli(args: list[str], env: dict[str, str | None], *, json_out: bool = False) -> Result:
    """Run the CLI in-process; assert it neither crashed nor let a control through."""
    result = RUNNER.invoke(app, args, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(*result.exc_info))  # type: ignore[misc]
        pytest.fail(f"llm-council {args!r} crashed:\n{trace}")
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output)
    assert "Traceback" not in result.stderr, result.stderr
    assert_terminal_safe(result.stderr, f"stderr of {args!r}")
    if not json_out:  # --json keeps the exact text; it is checked by parsing it instead
        assert_terminal_safe(result.stdout, f"stdout of {args!r}")
    return result


def cli_json(args: list[str], env: dict[str, str | None]) -> Any:
    result = cli(args, env, json_out=True)
    assert result.exit_code == 0, (args, result.output)
    return json.loads(result.stdout)


def listed_sessions(env: dict[str, str | None]) -> list[dict[str, Any]]:
    """``sessions list --json`` rows (a bare list, or the paged ``{"sessions": [...]}``)."""
    page = cli_json(["sessions", "list", "--json"], env)
    return page["sessions"] if isinstance(page, dict) else page


def answer_script(
    *,
    model: str,
    answer: str,
    synthesis: str,
    chair_model: str = CHAIRMAN,
    failing: str | None = None,
    failure: str = "",
) -> Script:
    """Seats answer ``answer`` as ``model``; the chairman writes ``synthesis``; requests for
    the model ``failing`` get a 400 carrying ``failure`` (a 400 is not retried)."""

    def script(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("model") == failing:
            return 400, error(400, failure)
        if body.get("model") == CHAIRMAN:
            return 200, completion(model=chair_model, content=synthesis)
        return 200, completion(model=model, content=answer)

    return script


def examples(n: int) -> Any:
    """Hypothesis settings: ``n`` examples, no deadline. The fixtures are per test on purpose
    (one server, one HOME); each example makes its own store. Counts are modest because
    every example runs the real CLI several times (whole file: ~20 s)."""
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# --- run, sessions, report over a session full of hostile text ----------------------------


def verdict_block(point: str) -> str:
    """The chairman's verdict block as the chairman prompt asks for it (JSON in a fence)."""
    verdict = {
        "consensus": [point],
        "disagreements": [{"point": point, "responses": {"Response A": point}}],
        "blind_spots": [point],
        "confidence": "high",
        "built_on": ["Response A"],
    }
    return "\n\n```json\n" + json.dumps({"verdict": verdict}) + "\n```\n"


@examples(12)
@given(
    model=model_ids(),
    answer=hostile().filter(str.strip),
    # No backticks: a stray fence in the synthesis would swallow the verdict block; fenced
    # code in a synthesis has its own test below.
    synthesis=hostile(exclude="`").filter(str.strip),
    point=hostile(exclude="`").filter(str.strip),
    failure=hostile(max_pieces=4),
    prompt=hostile().filter(lambda s: s.strip() and not s.startswith("-")),
)
def test_hostile_replies_through_run_sessions_and_report(
    server, home, model, answer, synthesis, point, failure, prompt
):
    """A seat failing with a hostile error, seats answering a hostile answer under a hostile
    model id, a hostile synthesis and verdict: every command shows it safely and ``--json``
    gives it back exactly (the synthesis and verdict texts are stripped, as the chairman's
    parser documents)."""
    hostile_server, url = server
    hostile_server.script = answer_script(
        model=model,
        answer=answer,
        synthesis=synthesis + verdict_block(point),
        failing=NAMED[1],
        failure=failure,
    )
    with environment(url, home) as env:
        shown = cli(["run", "--tier", "quick", "--", prompt], env)
        assert shown.exit_code == 0, shown.output  # partial: one seat failed
        hostile_server.requests.clear()
        result = cli_json(["run", "--tier", "quick", "--json", "--", prompt], env)
        assert result["prompt"] == prompt
        assert result["status"] == "partial"
        by_seat = {s["seat_id"]: s for s in result["seats"]}
        assert by_seat["s2"]["status"] == "error" and failure in by_seat["s2"]["error"]
        assert by_seat["s1"]["resolved_model"] == model == by_seat["s3"]["resolved_model"]
        assert result["synthesis"] == synthesis.strip()
        verdict = result["verdict"]
        assert verdict["consensus"] == [point.strip()] == verdict["blind_spots"]
        assert verdict["disagreements"][0]["point"] == point.strip()
        sent = [m["content"] for r in hostile_server.requests for m in r.get("messages", ())]
        assert any(prompt in content for content in sent)  # the prompt went out intact
        reviewed = html.escape(answer, quote=False)  # candidates are escaped by design
        assert any(reviewed in content for content in sent)  # the answers went to review

        assert result["session_id"] in {row["session_id"] for row in listed_sessions(env)}
        cli(["sessions", "list"], env)
        stored = cli_json(["sessions", "show", result["session_id"], "--json"], env)
        for key in ("prompt", "synthesis", "verdict", "seats", "notices", "chairman"):
            if key in result:
                assert stored[key] == result[key], key
        assert {s["seat_id"]: s["answer"] for s in stored["seats"]}["s1"] == answer
        assert any(c["resolved_model"] == model for c in stored["calls"])
        cli(["sessions", "show", result["session_id"]], env)

        report = cli_json(["report", "--format", "json"], env)
        assert [m["model"] for m in report["tiers"]["quick"]["resolved_models"]] == [model]
        cli(["report"], env)


@examples(10)
@given(failure=hostile(), model=model_ids())
def test_every_seat_failing_with_hostile_errors_exits_1_cleanly(server, home, failure, model):
    """Provider error messages (``field [/messages] is required`` raised MarkupError) end
    the run with exit 1 and a readable cause; the stored rows still list and report."""
    hostile_server, url = server

    def script(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 400, error(400, failure, provider_name=model)

    hostile_server.script = script
    with environment(url, home) as env:
        failed = cli(["run", "--tier", "quick", "a question"], env)
        assert failed.exit_code == 1 and "no seat answered" in failed.stderr
        result = RUNNER.invoke(app, ["run", "--tier", "quick", "--json", "x"], env=env)
        assert result.exit_code == 1
        seats = json.loads(result.stdout)["seats"]
        assert all(failure in s["error"] and model in s["error"] for s in seats)
        listed = listed_sessions(env)
        assert len(listed) == 2
        cli(["sessions", "list"], env)
        stored = cli_json(["sessions", "show", listed[0]["session_id"], "--json"], env)
        assert all(failure in s["error"] for s in stored["seats"])
        cli(["sessions", "show", listed[0]["session_id"]], env)
        cli(["report"], env)


@examples(10)
@given(named=model_ids(), chairman=model_ids())
def test_hostile_model_ids_from_the_environment(server, home, named, chairman):
    """Pool and chairman ids from the environment: ``check`` shows them safely and
    ``check --json`` names them exactly; ``run`` sends them as they are and stores them."""
    hostile_server, url = server
    hostile_server.script = lambda body: (
        200,
        completion(model=body.get("model", "?"), content="def f(): pass"),
    )
    extra = {"LLM_COUNCIL_MODELS_QUICK": f"{named},{PARETO}", "LLM_COUNCIL_CHAIRMAN": chairman}
    with environment(url, home, **extra) as env:
        checked = cli(["check"], env)
        assert checked.exit_code in (0, 2)
        report = json.loads(cli(["check", "--json"], env, json_out=True).stdout)
        messages = [f["message"] for f in report["findings"]]
        assert any(named in m for m in messages)
        run = cli(["run", "--tier", "quick", "--", "a question"], env)
        assert run.exit_code == 0, run.output
        result = cli_json(["run", "--tier", "quick", "--json", "--", "a question"], env)
        assert result["seats"][0]["requested_model"] == named
        assert result["chairman"]["requested_model"] == chairman
        assert {r.get("model") for r in hostile_server.requests} >= {named, chairman}
        stored = cli_json(["sessions", "show", result["session_id"], "--json"], env)
        assert stored["seats"][0]["resolved_model"] == named
        assert stored["chairman"]["resolved_model"] == chairman
        cli(["sessions", "list"], env)
        cli(["sessions", "show", result["session_id"]], env)
        cli(["report"], env)


# --- rows already in the store ---------------------------------------------------------------


def hostile_session(texts: dict[str, str]) -> SessionResult:
    """A realistic stored session (tests.audition_data) with hostile text in every field a
    command shows: prompt, the Pareto seat's model (and so the router's candidates and the
    provider derived from it), a seat's error, an answer, a label, the synthesis, a verdict,
    a notice, a failed review's error and the chairman's model."""
    session = make_session(0, routed=True, failed_seat="s2", pareto_model=texts["model"])
    session.prompt = texts["prompt"]
    session.seats[1].error = texts["error"]
    session.seats[0].answer = texts["answer"]
    session.seats[0].label = texts["label"]
    session.synthesis = texts["synthesis"]
    session.notices = [texts["notice"]]
    session.verdict = Verdict(
        consensus=[texts["point"]],
        disagreements=[Disagreement(point=texts["point"], seats={"s1": texts["point"]})],
        blind_spots=[texts["point"]],
        built_on=["s1"],
    )
    review = session.reviews[0]
    review.status, review.error = "error", texts["error"]
    session.chairman.resolved_model = texts["model"]
    return session


def seed(env: dict[str, str | None], session: SessionResult) -> None:
    store = AuditionStore(str(env["LLM_COUNCIL_AUDITION_URL"]))
    try:
        assert store.write_session(session, registry())
    finally:
        store.close()


HOSTILE_ROW = st.fixed_dictionaries(
    {
        "model": model_ids(),
        "prompt": hostile(),
        "error": hostile(),
        "answer": hostile(),
        "label": hostile(max_pieces=2),
        "synthesis": hostile(),
        "notice": hostile(),
        "point": hostile(),
    }
)


@examples(20)
@given(texts=HOSTILE_ROW)
def test_hostile_rows_list_and_show(server, home, texts):
    """A stored session full of hostile text: ``sessions list`` and ``sessions show`` draw
    it safely; the store API and ``show --json`` give every field back exactly."""
    _, url = server
    session = hostile_session(texts)
    with environment(url, home) as env:
        seed(env, session)
        store = AuditionStore(str(env["LLM_COUNCIL_AUDITION_URL"]))
        try:
            back = store.get_session(session.session_id)
        finally:
            store.close()
        assert back.model_dump(mode="json") == session.model_dump(mode="json")
        assert back.calls == session.calls
        [row] = listed_sessions(env)
        assert row["session_id"] == session.session_id
        cli(["sessions", "list"], env)
        shown = cli_json(["sessions", "show", session.session_id, "--json"], env)
        expected = session.model_dump(mode="json")
        for key in ("prompt", "seats", "synthesis", "verdict", "notices", "reviews", "chairman"):
            assert shown[key] == expected[key], key
        assert [c["resolved_model"] for c in shown["calls"]] == [
            c.resolved_model for c in session.calls
        ]
        cli(["sessions", "show", session.session_id], env)


@examples(12)
@given(texts=HOSTILE_ROW)
def test_hostile_rows_report_in_every_format(server, home, texts):
    """``report`` over hostile rows: the table, Markdown and HTML (all printed to the
    terminal without ``-o``) hold no raw control, the HTML escapes markup, the JSON names
    the hostile model exactly."""
    _, url = server
    with environment(url, home) as env:
        seed(env, hostile_session(texts))
        report = cli_json(["report", "--format", "json"], env)
        models = [m["model"] for m in report["tiers"]["balanced"]["resolved_models"]]
        assert models == [texts["model"]]
        cli(["report"], env)
        cli(["report", "--format", "markdown"], env)
        page = cli(["report", "--format", "html"], env).stdout
        assert "<script>alert(1)</script>" not in page


# --- CLI arguments ---------------------------------------------------------------------------


ARGUMENT_COMMANDS: tuple[Callable[[str], list[str]], ...] = (
    lambda v: ["report", f"--since={v}"],
    lambda v: ["report", f"--tier={v}"],
    lambda v: ["report", "--format=json", f"--since={v}"],
    lambda v: ["sessions", "list", f"--tier={v}"],
    lambda v: ["sessions", "show", "--", v],
    lambda v: ["sessions", "show", "--json", "--", v],
    lambda v: ["run", f"--chairman={v}", "--tier=quick", "q"],
    lambda v: ["run", f"--file={v}"],
    lambda v: ["check", f"--config={v}"],
    lambda v: ["report", f"--config={v}"],
    lambda v: [f"--log-level={v}", "check"],
)


@examples(40)
@given(value=hostile(), command=st.sampled_from(ARGUMENT_COMMANDS))
def test_hostile_arguments_are_refused_or_used_never_crash(server, home, value, command):
    """``--since``, ``--tier``, session ids, ``--chairman``, ``--file``, ``--config`` and
    ``--log-level`` with hostile values: exit 0/1/2, a safe message, never a traceback."""
    hostile_server, url = server
    hostile_server.script = answer_script(model="m/x", answer="ok", synthesis="ok")
    with environment(url, home) as env:
        cli(command(value), env)


@examples(15)
@given(name=hostile(exclude="/\x00", max_pieces=4), prompt=hostile().filter(str.strip))
def test_hostile_file_names(server, home, name, prompt):
    """A prompt file whose name is hostile: a missing one is reported safely (exit 2), an
    existing one is read exactly."""
    if len(os.fsencode(name)) > 200 or name in (".", ".."):
        return
    hostile_server, url = server
    hostile_server.script = answer_script(model="m/x", answer="ok", synthesis="ok")
    with environment(url, home) as env:
        folder = Path(tempfile.mkdtemp(dir=home))
        missing = cli(["run", "--file", str(folder / name)], env)
        assert missing.exit_code == 2
        (folder / name).write_text(prompt, encoding="utf-8")
        result = cli_json(["run", "--file", str(folder / name), "--json", "--tier=quick"], env)
        assert result["prompt"] == prompt


def test_markup_in_an_error_message_is_shown_literally(server, home):
    """The issue's examples: ``[bold]`` stays visible, ``[/x]`` does not raise."""
    hostile_server, url = server
    message = "field [/messages] is required; [bold]really[/bold] :smile:"
    hostile_server.script = lambda body: (400, error(400, message))
    with environment(url, home) as env:
        failed = cli(["run", "--tier", "quick", "q"], env)
    assert failed.exit_code == 1
    assert message in failed.stderr


def test_controls_in_an_error_message_are_shown_escaped(server, home):
    hostile_server, url = server
    hostile_server.script = lambda body: (400, error(400, "bad\x1b]0;pwned\x07 \u202eevil"))
    with environment(url, home) as env:
        failed = cli(["run", "--tier", "quick", "q"], env)
    assert failed.exit_code == 1
    assert "bad\\x1b]0;pwned\\x07 \\u202eevil" in failed.stderr


def test_character_references_and_code_in_the_synthesis_stay_inert(server, home):
    """Markdown decodes ``&#x202e;`` into a real override, and fenced code goes through the
    syntax highlighter: neither may bring a control to the terminal; both stay visible."""
    hostile_server, url = server
    synthesis = (
        "Use &#x202e;this&#x2066; and &#x9b;2J here.\n\n"
        "```python\nprint('\x1b]0;pwned\x07 [/x]')\n```\n"
    )
    hostile_server.script = answer_script(model="m/x", answer="a", synthesis=synthesis)
    with environment(url, home) as env:
        shown = cli(["run", "--tier", "quick", "q"], env)
        stored = cli_json(
            ["sessions", "show", "--json", "--", listed_sessions(env)[0]["session_id"]], env
        )
    assert shown.exit_code == 0
    assert "\\u202ethis\\u2066" in shown.stdout
    assert "print('\\x1b]0;pwned\\x07 [/x]')" in shown.stdout
    assert stored["synthesis"] == synthesis.strip()


# --- lone surrogates: text that cannot be encoded as UTF-8 at all ----------------------------


@pytest.mark.parametrize("where", ["model", "answer", "synthesis", "failure"])
def test_lone_surrogates_from_the_server_never_crash(server, home, where):
    """JSON may carry an unpaired ``\\ud800`` escape, which no UTF-8 stream or database
    column can hold as it is. The CLI still finishes cleanly, the session is stored, and
    ``sessions show --json`` gives back what ``run --json`` printed."""
    hostile_server, url = server
    bad = "x\ud800y\udfffz"
    texts = {"model": "m/x", "answer": "a", "synthesis": "s", "failure": "f", where: bad}
    hostile_server.script = answer_script(
        model=texts["model"],
        answer=texts["answer"],
        synthesis=texts["synthesis"],
        failing=NAMED[1],
        failure=texts["failure"],
    )
    with environment(url, home) as env:
        cli(["run", "--tier", "quick", "q"], env)
        result = cli(["run", "--tier", "quick", "--json", "q"], env, json_out=True)
        printed = json.loads(result.stdout)
        kept = {
            "model": printed["seats"][0]["resolved_model"],
            "answer": printed["seats"][0]["answer"],
            "synthesis": printed["synthesis"],
            "failure": printed["seats"][1]["error"],
        }
        assert bad in kept[where]  # --json keeps the exact text (as a JSON escape)
        stored = cli_json(["sessions", "show", printed["session_id"], "--json"], env)
        assert stored["seats"] == printed["seats"]
        assert stored["synthesis"] == printed["synthesis"]
        cli(["sessions", "show", printed["session_id"]], env)
        cli(["sessions", "list"], env)
        cli(["report"], env)


def test_lone_surrogate_in_an_answer_still_goes_to_review_and_chairman(server, home):
    """An answer holding an unpaired surrogate still goes to the reviewers and the
    chairman (the wire needs valid UTF-8: the gateway sends it as U+FFFD)."""
    hostile_server, url = server
    hostile_server.script = answer_script(model="m/x", answer="x\ud800y", synthesis="s")
    with environment(url, home) as env:
        result = cli(["run", "--tier", "quick", "--json", "q"], env, json_out=True)
    printed = json.loads(result.stdout)
    sent = [m["content"] for r in hostile_server.requests for m in r.get("messages", ())]
    assert any("x\ufffdy" in content for content in sent)
    assert printed["chairman"]["status"] == "ok", printed["chairman"]
    assert all(r["status"] == "ok" for r in printed["reviews"]), printed["reviews"]


def test_lone_surrogate_in_the_prompt_never_crashes(server, home):
    """A prompt argument with an undecodable byte arrives as a lone surrogate
    (surrogateescape); it is refused or sent, never a traceback."""
    hostile_server, url = server
    hostile_server.script = answer_script(model="m/x", answer="a", synthesis="s")
    with environment(url, home) as env:
        cli(["run", "--tier", "quick", "--", "question \udcff"], env)


def test_prompt_file_with_an_undecodable_name(server, home):
    """A file name holding a byte that is not UTF-8 (a lone surrogate in Python): missing,
    it is reported safely; present, it is read."""
    hostile_server, url = server
    hostile_server.script = answer_script(model="m/x", answer="a", synthesis="s")
    folder = Path(tempfile.mkdtemp(dir=home))
    name = os.fsdecode(b"q\xff\x1b]0;t\x07.md")
    with environment(url, home) as env:
        missing = cli(["run", "--file", str(folder / name)], env)
        assert missing.exit_code == 2 and "\\udcff" in missing.stderr
        (folder / name).write_text("a question", encoding="utf-8")
        result = cli_json(["run", "--file", str(folder / name), "--json", "--tier=quick"], env)
    assert result["prompt"] == "a question"


def test_prompt_file_that_is_not_utf8_is_refused(server, home):
    hostile_server, url = server
    hostile_server.script = answer_script(model="m/x", answer="a", synthesis="s")
    question = Path(tempfile.mkdtemp(dir=home)) / "q.md"
    question.write_bytes(b"a question \xff\xfe\x1b]0;t\x07")
    with environment(url, home) as env:
        refused = cli(["run", "--file", str(question)], env)
    assert refused.exit_code == 2


# --- the real terminal path ---------------------------------------------------------------

# Exactly what Rich writes to a terminal of its own accord: SGR styling, cursor show/hide,
# erase line, cursor up (live progress redraws), and the carriage return before a redraw.
RICH_SEQUENCES = re.compile(r"\x1b\[[0-9;]*m|\x1b\[\?25[lh]|\x1b\[2K|\x1b\[[0-9]*A|\r")


def test_real_terminal_run_shows_hostile_text_inert(server, home):
    """``python -m llm_council run`` on a pseudo-terminal (so Rich styles and the live
    progress table draws): after removing only Rich's own sequences, no control is left,
    and the hostile pieces are visible in escaped form."""
    import pty

    hostile_server, url = server
    model = "[/x]evil/m\x1b]0;pwned\x07\u202e"
    hostile_server.script = answer_script(
        model=model,
        answer="answer \x9b2J [bold]b",
        synthesis="# title \x1b]0;pwned\x07\n\nuse &#x202e;it\x00 [/x]",
        failing=NAMED[1],
        failure="field [/messages] is required \x1b[2J",
    )
    with environment(url, home) as env:
        full = {**os.environ, **env, "TERM": "xterm-256color"}
        for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
            full.pop(name, None)
        env_clean = {k: v for k, v in full.items() if v is not None}
        leader, follower = pty.openpty()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "llm_council", "run", "--tier", "quick", "question"],
                stdin=subprocess.DEVNULL,
                stdout=follower,
                stderr=follower,
                env=env_clean,
                cwd=home,
            )
            os.close(follower)
            follower = -1
            chunks = []
            while True:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the child closed its end
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            code = proc.wait(timeout=60)
        finally:
            os.close(leader)
            if follower != -1:
                os.close(follower)
    out = b"".join(chunks).decode("utf-8")
    assert code == 0, out
    assert "Traceback" not in out
    assert "\x1b[" in out  # Rich did style: this really was the terminal path
    assert "council session" in out  # and the live progress table was drawn
    assert_terminal_safe(RICH_SEQUENCES.sub("", out).replace("\r\n", "\n"), "pty output")
    visible = RICH_SEQUENCES.sub("", out)
    assert "\\x1b]0;pwned\\x07" in visible and "[/x]" in visible
