"""Terminal layout (ADR-017): the session table, ``sessions list``, ``report``, ``check`` and
``registry list`` at 80 and 120 columns against checked-in snapshots, and properties over
hostile model ids at every width from 60 to 160.

Snapshots are the text a terminal shows (Rich's own rendering into a recording console,
styles dropped); ``UPDATE_SNAPSHOTS=1`` rewrites them. Every snapshot is also checked for
what a snapshot cannot drift on: no line wider than the terminal, model ids whole.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

from llm_council.audition.report import build_report
from llm_council.audition.report_render import render_table
from llm_council.audition.store import AuditionStore, SeatBrief, SessionSummary
from llm_council.check import run_check
from llm_council.cli.check import _print_check
from llm_council.cli.render import render_result
from llm_council.cli.session_view import print_session_list
from llm_council.config import load_config
from llm_council.council.result import Disagreement, DuplicateFlag, SessionResult, Verdict
from llm_council.defaults import shipped_file
from llm_council.layout import VERSION_SUFFIX, fit_token, make_console, seat_model, wrap
from tests.audition_data import KIMI, MINI, SONNET, make_session, registry
from tests.test_report import REGISTRY, fixed_sessions, make_store

SNAPSHOTS = Path(__file__).parent / "snapshots"
REPO = str(Path(__file__).resolve().parents[1])
WIDTHS = (80, 120)
# Every model id the snapshots draw, to check each appears whole on one line.
IDS = (MINI, SONNET, KIMI, "x-ai/grok-4.3", "anthropic/claude-opus-4.7")


def terminal(width: int) -> Console:
    """A recording console that is a terminal of ``width`` columns (styles, no colour)."""
    return Console(
        width=width, record=True, force_terminal=True, color_system=None, file=open(os.devnull, "w")
    )


def piped(width: int) -> Console:
    """A recording console that is not a terminal: what a script reading the output gets."""
    return Console(width=width, record=True, color_system=None, file=open(os.devnull, "w"))


def check_snapshot(name: str, text: str, width: int) -> None:
    text = text.replace(REPO, "<repo>")
    lines = text.splitlines()
    assert all(cell_len(line) <= width for line in lines), max(lines, key=cell_len)
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"no snapshot {path.name}: run with UPDATE_SNAPSHOTS=1 to write it"
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "\n".join(
            difflib.unified_diff(expected.splitlines(), lines, "snapshot", "now", lineterm="")
        )
        pytest.fail(f"{path.name} differs (UPDATE_SNAPSHOTS=1 rewrites it):\n{diff}")


# -- fixed sessions --------------------------------------------------------------------------


def duplicate_session() -> SessionResult:
    """The Pareto seat (s4) resolved to s1's model: the exact duplicate the README shows."""
    result = make_session(0, judges=1)
    result.verdict = Verdict(
        consensus=["Use heapq.merge for two sorted inputs"],
        disagreements=[
            Disagreement(
                point="whether to copy the inputs",
                seats={"s1": "copies them", "s4": "merges in place"},
            )
        ],
        blind_spots=["empty inputs are not tested"],
        confidence="medium",
        built_on=["s1"],
    )
    result.notices = ["judges added to stage 2 (anthropic/claude-opus-4.7): a duplicate left "
                      "some answers without a reviewer"]  # fmt: skip
    return result


def rerouted_session() -> SessionResult:
    """Policy reroute: s4 first landed on s1's model and was asked of Kimi directly; its
    review drifted; s2 timed out."""
    result = make_session(3, pareto_model=KIMI, drift_to=SONNET, failed_seat="s2")
    result.duplicate_policy = "reroute"
    s4 = result.seat("s4")
    s4.rerouted_from, s4.answered_via = MINI, "direct"
    return result


SESSIONS = {"duplicate": duplicate_session, "rerouted": rerouted_session}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", sorted(SESSIONS))
def test_session_snapshot(name, width):
    console = terminal(width)
    render_result(console, SESSIONS[name]())
    text = console.export_text()
    check_snapshot(f"session-{name}-{width}", text, width)
    for model in IDS:
        if model in "".join(text.split()):  # drawn at all: then whole on one line
            assert any(model in line for line in text.splitlines()), model


def test_the_duplicate_is_explained_in_plain_words_at_80_columns():
    console = terminal(80)
    render_result(console, duplicate_session())
    text = console.export_text()
    flat = " ".join(text.split())
    assert (
        f"s4 (pareto@0.5) answered as {MINI}, the same model as s1: an exact duplicate. "
        "Policy flag: both answers kept and reviewed; use --duplicate-policy reroute to ask "
        "another model instead." in flat
    )
    assert f"pareto@0.5 → {MINI}" in text  # on one line of the table


def test_the_reroute_and_the_drift_are_explained():
    console = terminal(120)
    render_result(console, rerouted_session())
    flat = " ".join(console.export_text().split())
    assert (
        f"s4 (pareto@0.5) first answered as {MINI}, the same model as s1: an exact duplicate. "
        f"Policy reroute: {KIMI} was asked directly instead" in flat
    )
    assert f"its review ran on {SONNET}: drift" in flat
    assert "rerouted from" in flat and "timeout" in flat


def test_collapse_policy_says_the_group_counts_as_one_voice():
    result = duplicate_session()
    result.duplicate_policy = "collapse"
    console = terminal(100)
    render_result(console, result)
    flat = " ".join(console.export_text().split())
    assert "Policy collapse: s1 and s4 count as one voice in the review" in flat


def test_piped_output_is_ascii_framed_and_fixed_width():
    console = piped(80)
    render_result(console, duplicate_session())
    text = console.export_text()
    check_snapshot("session-duplicate-piped-80", text, 80)
    assert not re.search("[\u2500-\u257f]", text)  # no box drawing: ASCII frames only
    assert "\x1b" not in text


def test_make_console_piped_uses_columns_or_a_fixed_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "97")
    assert make_console().width == 97  # pytest's stdout is not a terminal
    monkeypatch.delenv("COLUMNS")
    assert make_console().width == 120
    assert not make_console().is_terminal


# -- sessions list, report, check, registry list ---------------------------------------------


@pytest.fixture(scope="module")
def listed(tmp_path_factory) -> list[SessionSummary]:
    store = AuditionStore(f"sqlite:///{tmp_path_factory.mktemp('list') / 'a.db'}")
    for index, options in enumerate(
        ({}, {"pareto_model": KIMI, "drift_to": SONNET}, {"failed_seat": "s2", "tier": "high"})
    ):
        store.write_session(make_session(index, **options), registry())
    rows = store.list_sessions(last=20)
    store.close()
    return rows


@pytest.mark.parametrize("width", WIDTHS)
def test_sessions_list_snapshot(listed, width):
    console = terminal(width)
    print_session_list(listed, 5, "sqlite:///~/.local/share/llm-council/audition.db", console)
    text = console.export_text()
    check_snapshot(f"sessions-list-{width}", text, width)
    assert f"s4 pareto → {MINI} exact: s1" in text
    assert "s2 anthropic/claude-sonnet-4.6 → timeout" in text
    assert "showing 3 of 5; --all for every session" in text


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return build_report(
        make_store(tmp_path_factory.mktemp("rep") / "r.db", fixed_sessions()), REGISTRY
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_report_snapshot(report, width):
    console = terminal(width)
    render_table(console, report)
    text = console.export_text()
    check_snapshot(f"report-{width}", text, width)
    # A model id and its count stay together on one line.
    assert "x-ai/grok-4.3 3/1" in text and "openai/gpt-5.4-mini 4/1" in text


@pytest.mark.parametrize("width", WIDTHS)
def test_check_snapshot(width):
    result = run_check(load_config(shipped_file("unified_config.yaml"), env={}), REGISTRY)
    # The header wraps by path length, which depends on where the checkout lives: render it
    # with the placeholder paths the snapshot holds, so a clone anywhere draws the same lines.
    result = result.model_copy(
        update={
            "config": result.config.replace(REPO, "<repo>"),
            "registry": result.registry.replace(REPO, "<repo>"),
        }
    )
    console = terminal(width)
    _print_check(console, result)
    text = console.export_text()
    check_snapshot(f"check-{width}", text, width)
    assert "google/gemini-3.1-pro-preview" in text  # the longest id, whole


@pytest.mark.parametrize("width", WIDTHS)
def test_registry_list_snapshot(width, tmp_path):
    from llm_council.cli import app

    env = {"COLUMNS": str(width), "XDG_DATA_HOME": str(tmp_path / "data")}
    out = CliRunner().invoke(app, ["registry", "list"], env=env)
    assert out.exit_code == 0, out.output
    # The title names the registry file: its padding and wrapping depend on where the
    # repository is checked out, so the title is compared as words, the table as drawn.
    start = out.stdout.index("+-")  # piped: an ASCII table
    title, table = out.stdout[:start], out.stdout[start:]
    words = "".join(title.split())
    assert words.startswith("registry/") and words.endswith("/models/registry.yaml"), title
    check_snapshot(f"registry-list-{width}", table, width)
    assert "google/gemini-3.1-pro-preview" in out.stdout


# -- the rules ---------------------------------------------------------------------------------


def test_pareto_seat_names():
    pareto = "openrouter/pareto-code"
    assert seat_model(pareto, 0.5, MINI) == f"pareto@0.5 → {MINI}"
    assert seat_model(pareto, None, MINI) == f"pareto → {MINI}"  # frontier: no score sent
    assert seat_model(f"{pareto}:nitro", 0.8, MINI) == f"pareto:nitro@0.8 → {MINI}"
    assert seat_model(MINI, None, MINI) == MINI  # a named seat that got what it named
    assert seat_model(SONNET, None, None, failed="timeout") == f"{SONNET} → timeout"


def test_wrap_breaks_at_spaces_then_after_slashes_then_shortens():
    assert wrap(f"pareto@0.5 → {SONNET}", 30) == ["pareto@0.5 →", SONNET]
    assert wrap(SONNET, 20) == ["anthropic/", "claude-sonnet-4.6"]
    assert wrap(SONNET, 15) == ["anthropic/", "claude-sonnet"]  # the version goes first
    assert fit_token("gemini-3.1-pro-preview-20260115", 22) == "gemini-3.1-pro-preview"
    assert fit_token("abcdefghijklmnop", 8) == "abcdefg…"
    assert wrap("a b", 10, hang=2) == ["a b"]
    assert wrap("one two three four", 12, hang=2) == ["one two", "  three four"]
    assert wrap("one two three four", 9, hang=2) == ["one two", "three", "four"]  # no room


def test_wide_and_escaped_ids_fit_their_cells():
    wide = "通义千问/qwen-中文-超长模型名称-2026"
    hostile = "evil/[/x]\x1b]0;pwned\x07\u202emodel"
    for width in (60, 80):
        result = make_session(5)
        for seat, model in zip(result.seats[:2], (wide, hostile), strict=True):
            seat.requested_model = seat.resolved_model = model
        console = terminal(width)
        render_result(console, result)
        text = console.export_text()
        assert all(cell_len(line) <= width for line in text.splitlines())
        assert "\x1b" not in text and "\u202e" not in text
        assert "\\x1b]0;pwned\\x07\\u202emodel" in text  # shown escaped, whole


# -- property: no id token split across lines, at any width from 60 to 160 -----------------

# Ids from an alphabet our own words never use (capitals J-Z): anything of that alphabet in
# the output is a piece of an input id, and must be a whole token or a marked shortening.
VENDOR = st.from_regex(r"[J-Z][J-Z0-9-]{0,40}", fullmatch=True)
MODEL = st.from_regex(r"[J-Z][J-Z0-9._-]{0,90}", fullmatch=True)
IDS_STRATEGY = st.lists(st.builds(lambda v, m: f"{v}/{m}", VENDOR, MODEL), min_size=4, max_size=4)
ALPHABET = re.compile(r"[J-Z0-9._/-]+")
PIECE = re.compile(r"[^/]*/|[^/]+")
SEPARATORS = re.compile(r"[\s\u2500-\u257f|+(),;:]+")


def tokens_of(model: str) -> list[str]:
    return PIECE.findall(model)


def stripped_forms(token: str) -> set[str]:
    forms = {token}
    while (found := VERSION_SUFFIX.search(token)) and found.start() > 0:
        token = token[: found.start()]
        forms.add(token)
    return forms


def assert_no_token_split(text: str, models: list[str], width: int) -> None:
    lines = text.splitlines()
    assert all(cell_len(line) <= width for line in lines), (width, max(lines, key=cell_len))
    tokens = {t for m in models for t in tokens_of(m)}
    allowed = set().union(*(stripped_forms(t) for t in tokens))
    drawn = []
    for line in lines:
        for word in SEPARATORS.split(line):
            for piece in PIECE.findall(word):
                cut = piece.endswith("…")
                core = piece[:-1] if cut else piece
                if not core or not ALPHABET.fullmatch(core) or not re.search("[J-Z]", core):
                    continue
                drawn.append(piece)
                if cut:
                    assert any(t.startswith(core) for t in tokens), (piece, line)
                else:
                    assert core in allowed, f"{piece!r} is a fragment of an id: {line!r}"
    for token in tokens:  # and no id disappears: each token is drawn, whole or marked short
        assert any(
            p == token
            or p in stripped_forms(token)
            or (p.endswith("…") and token.startswith(p[:-1]))
            for p in drawn
        ), token


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models=IDS_STRATEGY, width=st.integers(60, 160))
def test_session_table_never_splits_an_id_token(models, width):
    result = make_session(7)
    for seat, model in zip(result.seats, models, strict=True):
        seat.resolved_model = model
        if not seat.is_pareto:
            seat.requested_model = model
    result.seats[3].flags = [DuplicateFlag(kind="exact", with_seat="s1", model=models[0])]
    result.seats[0].flags = [DuplicateFlag(kind="exact", with_seat="s4", model=models[3])]
    result.verdict = Verdict(consensus=["fine"], built_on=["s1", "s2"], confidence="high")
    result.synthesis = None  # the chairman's prose is the model's to lay out, not ours
    console = terminal(width)
    render_result(console, result)
    assert_no_token_split(console.export_text(), models, width)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models=IDS_STRATEGY, width=st.integers(60, 160))
def test_sessions_list_never_splits_an_id_token(models, width):
    seats = [
        SeatBrief(seat_id=f"s{n}", requested_model=m, resolved_model=m, status="ok")
        for n, m in enumerate(models[:3], 1)
    ]
    seats.append(
        SeatBrief(
            seat_id="s4", requested_model="openrouter/pareto-code", resolved_model=models[3],
            status="ok", duplicate_kind="exact", duplicate_of=["s1"],
        )
    )  # fmt: skip
    row = SessionSummary(
        session_id="0123456789abcdef", created_at=make_session(0).created_at, tier="balanced",
        mode="coding", status="ok", gateway="sandbox", prompt="a question", seats=seats,
        flags=1, flag_counts={"exact": 1}, cost_usd=0.01,
    )  # fmt: skip
    console = piped(width)
    print_session_list([row], 1, "sqlite:///a.db", console)
    assert_no_token_split(console.export_text(), models, width)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models=st.lists(st.builds(lambda v, m: f"{v}/{m}", VENDOR, MODEL), min_size=3, max_size=3),
       width=st.integers(60, 160))  # fmt: skip
def test_check_table_never_splits_an_id_token(models, width):
    result = run_check(load_config(shipped_file("unified_config.yaml"), env={}), REGISTRY)
    primary, fallback, nitro = models
    result.predictions = [
        p.model_copy(update={"primary": primary, "fallbacks": [fallback, primary], "nitro": nitro})
        for p in result.predictions
    ]
    result.pools = []
    console = terminal(width)
    _print_check(console, result)
    assert_no_token_split(console.export_text(), models, width)


def test_live_progress_fits_and_never_leaves_a_call_running():
    from llm_council.cli.render import LiveProgress
    from llm_council.council.plan import Seat, SessionPlan

    pareto = "openrouter/pareto-code"
    seats = tuple(
        Seat(f"s{n}", model, 0.5 if model == pareto else None, None, None, model == pareto)
        for n, model in enumerate((MINI, SONNET, pareto), 1)
    )
    plan = SessionPlan("balanced", "coding", seats, "anthropic/claude-opus-4.7", ())
    console = terminal(80)
    with LiveProgress(console, plan) as progress:
        progress.stage_started("answer", 3)
        for seat, model in zip(seats, (MINI, SONNET, MINI), strict=True):
            progress.call_finished("answer", seat.seat_id, "ok", model, 812.0)
        progress.stage_started("review", 1)  # s1 and s3 share a model: only s2 is asked
        progress.call_finished("review", "s2", "ok", SONNET, 900.0)
    text = console.export_text()
    final = text[text.rindex("council session") :]  # the frame left on screen
    assert f"pareto@0.5 → {MINI}" in final
    assert "running" not in final and final.count("skipped") == 2
    # (The recording joins each redraw to the last line of the frame before; below the title
    # the last frame stands alone.)
    assert all(cell_len(line) <= 80 for line in final.splitlines()[1:])


@given(st.decimals(min_value=0, max_value=10**6, places=5, allow_nan=False), st.integers(2, 9))
def test_a_number_is_never_shortened_into_another_number(value, width):
    # Dropping ".0076" from "$0.0076" as if it were a version would print a wrong price.
    for token in (f"${value}", f"{value}", f"{value}%"):
        shown = fit_token(token, width)
        assert shown == token or shown.endswith("…"), (token, shown)
