"""Hostile text in the store (model ids, tier names) cannot drive the terminal or the page.

Anyone who can write the audition store decides these strings. On a terminal they must not
emit escape sequences or be read as Rich markup; in Markdown they must stay on their table
row and not become raw HTML; in HTML they are escaped; ``--json`` keeps them exact.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from llm_council.audition.report import build_report
from llm_council.audition.report_html import render_html
from llm_council.audition.report_render import _md, render_markdown, render_table
from llm_council.council.result import ChairmanResult, RankingEntry, SeatResult, SessionResult
from llm_council.textsafe import terminal_text
from tests.test_report import PARETO, REGISTRY, SONNET, call, make_store, router

# An OSC title change, a colour, a bell, Rich markup that would raise or vanish, raw HTML,
# a table pipe, a newline and a bidi override.
EVIL = "evil/\x1b]0;pwned\x07m\x1b[31mred[/bold][bold]<script>alert(1)</script>|x\nnext\u202e"
EVIL_TIER = "bal\x1b[2Janced[/x]"
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202e]")


def hostile_session() -> SessionResult:
    seats = [
        SeatResult(seat_id="s1", requested_model=SONNET, resolved_model=SONNET, status="ok",
                   borda=1.0, votes=1),
        SeatResult(seat_id="s2", requested_model=PARETO, resolved_model=EVIL, status="ok",
                   borda=0.0, votes=1, min_coding_score=0.5),
    ]  # fmt: skip
    return SessionResult(
        session_id="evil-1",
        created_at=datetime(2026, 11, 20, 10, tzinfo=UTC),
        tier=EVIL_TIER,
        mode="coding",
        status="ok",
        gateway="sandbox",
        prompt="q",
        seats=seats,
        ranking=[RankingEntry(seat_id="s1", borda=1.0, votes=1)],
        chairman=ChairmanResult(requested_model=SONNET, resolved_model=SONNET, status="ok"),
        calls=[
            call("answer", "s1", SONNET, SONNET, 0.001),
            call(
                "answer", "s2", PARETO, EVIL, 0.001,
                router=router([(EVIL, "Evil\x1b[5m", True)], [(EVIL, 503), (EVIL, 200)]),
            ),
        ],
    )  # fmt: skip


@pytest.fixture
def store(tmp_path):
    return make_store(tmp_path / "evil.db", [hostile_session()])


def test_json_keeps_the_exact_text(store):
    payload = build_report(store, REGISTRY).model_dump(mode="json")
    tier = payload["tiers"][EVIL_TIER]
    assert tier["resolved_models"][0]["model"] == EVIL
    assert tier["observed_shortlist"] == [{"model": EVIL, "seen": 1, "selected": 1}]
    assert tier["fallbacks"]["failed_models"] == [{"model": EVIL, "count": 1}]


def test_table_shows_escapes_not_effects(store):
    out = io.StringIO()
    render_table(Console(file=out, width=400, force_terminal=False), build_report(store, REGISTRY))
    text = out.getvalue()
    assert not RAW_CONTROLS.search(text)
    assert "\\x1b]0;pwned\\x07" in text and "\\u202e" in text  # shown, not obeyed
    assert "[/bold][bold]" in text and "anced[/x]" in text  # markup shown literally


def test_markdown_keeps_rows_whole_and_renders_no_html(store):
    text = render_markdown(build_report(store, REGISTRY))
    assert not RAW_CONTROLS.search(text)
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows and all(line.endswith(" |") and line.count(" | ") == 1 for line in rows), rows
    assert f"## {EVIL_TIER[:3]}\\x1b[2Janced[/x]" in text


@given(st.text())
def test_markdown_cells_are_always_one_inert_line(text):
    cell = _md(text)
    assert "\n" not in cell and "<" not in cell and not RAW_CONTROLS.search(cell)


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.data: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.data.append(data)


def test_html_escapes_every_store_text(store):
    page = render_html(build_report(store, REGISTRY))
    parsed = _Texts()
    parsed.feed(page)
    assert "script" not in parsed.tags and "<script" not in page
    # Escaped, so the parser gives back the text as data, not as markup; controls and the
    # bidi override are shown as escapes (invalid in HTML, and the page may hit a terminal).
    assert not RAW_CONTROLS.search(page)
    assert any(d == terminal_text(EVIL) for d in parsed.data)  # the shortlist label, whole
    assert "<script>alert(1)</script>" in terminal_text(EVIL)  # ...which holds the markup


def test_cli_output_is_terminal_safe(store, tmp_path, monkeypatch):
    from llm_council.cli import app

    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", store.url_for_humans)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "300")
    runner = CliRunner()
    table = runner.invoke(app, ["report"])
    assert table.exit_code == 0, table.output
    assert not RAW_CONTROLS.search(table.stdout) and "\\x1b]0;pwned" in table.stdout
    exact = runner.invoke(app, ["report", "--format", "json"])
    assert json.loads(exact.stdout)["overall"]["resolved_models"][0]["model"] == EVIL
    target = tmp_path / "r[bold]\x1b[31m.md"
    written = runner.invoke(app, ["report", "--format", "markdown", "--output", str(target)])
    assert written.exit_code == 0 and target.is_file()
    assert "[bold]" in written.stderr and "\\x1b[31m" in written.stderr
    assert not RAW_CONTROLS.search(written.stderr)
    bad = runner.invoke(app, ["report", "--since", "\x1b]0;x\x07[red]soon"])
    assert bad.exit_code == 2 and "[red]soon" in bad.stderr
    assert not RAW_CONTROLS.search(bad.stderr)
