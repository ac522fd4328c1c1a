"""llm_council.textsafe: outside text made safe to draw on a terminal, and nothing more.

The unsafe set is written out here rather than imported: these tests check the module, so
they do not borrow its definition of what is unsafe.
"""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel
from rich.text import Text

from llm_council.textsafe import TerminalSafe, markup_text, one_line, plain, terminal_text

C0_C1 = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # every control but tab and newline
SURROGATE = re.compile("[\ud800-\udfff]")
BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

# Any code point at all (lone surrogates included), plus the pieces that matter most often.
ANY_TEXT = st.text(
    st.one_of(
        st.characters(),
        st.sampled_from(["[", "]", "/", "\\", "\x1b", "\x07", "\x00", "\r", "\u202e", ":"]),
    ),
    max_size=80,
)
MARKUPISH = st.lists(
    st.one_of(
        st.sampled_from(["[/x]", "[bold]", "[/]", "\\[", "\\", "[link=u]", "[", "]", "\\\\["]),
        ANY_TEXT,
    ),
    max_size=8,
).map("".join)


def _no_unsafe(text: str) -> None:
    assert not C0_C1.search(text), text
    assert not SURROGATE.search(text), text
    assert not BIDI.search(text), text
    text.encode("utf-8")  # strict: what a terminal stream will do with it


@given(ANY_TEXT)
def test_terminal_text_leaves_no_control_surrogate_or_bidi_override(text):
    _no_unsafe(terminal_text(text))


@given(MARKUPISH)
def test_markup_text_leaves_no_control_surrogate_or_bidi_override(text):
    _no_unsafe(markup_text(text))


@given(ANY_TEXT, st.none() | st.integers(min_value=1, max_value=40))
def test_one_line_is_safe_single_line_and_within_width(text, width):
    flat = one_line(text, width)
    _no_unsafe(flat)
    assert "\n" not in flat and "\t" not in flat
    if width is not None:
        assert len(flat) <= width


@given(ANY_TEXT)
def test_safe_text_is_kept_as_is_and_cleaning_twice_changes_nothing(text):
    safe = terminal_text(text)
    assert terminal_text(safe) == safe
    clean = C0_C1.sub("", SURROGATE.sub("", BIDI.sub("", text)))
    assert terminal_text(clean) == clean  # nothing but the unsafe characters is touched


@given(ANY_TEXT)
def test_every_unsafe_character_becomes_a_visible_escape(text):
    """Nothing is silently dropped: each unsafe character is replaced by its escape."""
    safe = terminal_text(text)
    for char in set(C0_C1.findall(text) + SURROGATE.findall(text) + BIDI.findall(text)):
        code = ord(char)
        shown = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
        assert shown in safe


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
        ("a\x1b[31mred", "a\\x1b[31mred"),
        ("\x9b2J", "\\x9b2J"),
        ("abc\u202eevil", "abc\\u202eevil"),
        ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
        ("over\rwrite", "over\\x0dwrite"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("NUL\x00", "NUL\\x00"),
        ("[bold]x[/bold] ünïcödé 漢字 🙂", "[bold]x[/bold] ünïcödé 漢字 🙂"),
    ],
)
def test_terminal_text_examples(raw, shown):
    assert terminal_text(raw) == shown


def _printed(markup: str) -> str:
    console = Console(
        file=io.StringIO(), width=10_000, soft_wrap=True, color_system=None, highlight=False
    )
    console.print(markup, markup=True, emoji=False, end="")
    return console.file.getvalue()


@given(MARKUPISH)
def test_markup_text_reads_back_as_exactly_the_terminal_text(text):
    """Parsed as Rich markup, markup_text(x) is terminal_text(x): no tag is applied, none
    raises, nothing disappears, alone or between tags of the caller's."""
    safe = markup_text(text)
    assert Text.from_markup(safe, emoji=False).plain == terminal_text(text)
    embedded = Text.from_markup(f"[dim]<{safe}[/dim][bold]{safe}[/bold] {safe}", emoji=False)
    expected = terminal_text(text)
    assert embedded.plain == f"<{expected}{expected} {expected}"
    # The caller's tags still apply exactly where the caller put them.
    styles = {(span.start, span.end, str(span.style)) for span in embedded.spans}
    start = 1 + len(expected)
    assert (0, start, "dim") in styles or not start
    assert (start, start + len(expected), "bold") in styles or not expected


@given(MARKUPISH.map(lambda s: s.replace("\t", " ")))
def test_markup_text_printed_through_a_console_is_the_terminal_text(text):
    """Through a real Console (tabs left out: Rich expands them to spaces by design)."""
    assert _printed(markup_text(text)) == terminal_text(text)
    assert _printed(f"[red]{markup_text(text)}[/red]!") == terminal_text(text) + "!"


@pytest.mark.parametrize(
    "text", ["\\[", "a\\", "\\\\", "\\[bold]", "\\\\[/x]", "[a\\[b]", "x\\[/y] \\"]
)
def test_markup_text_backslash_cases(text):
    """Backslashes next to brackets, where rich.markup.escape alone gets it wrong."""
    assert _printed(markup_text(text)) == text
    assert _printed(f"[bold]{markup_text(text)}[/bold]") == text


def test_the_issue_examples_print_literally():
    assert _printed(f"error: {markup_text('field [/messages] is required')}") == (
        "error: field [/messages] is required"
    )
    assert _printed(markup_text("[bold]kept[/bold]")) == "[bold]kept[/bold]"


@given(ANY_TEXT)
def test_plain_is_never_markup_and_always_safe(text):
    rendered = plain(text, style="bold")
    assert rendered.plain == terminal_text(text)
    assert str(rendered.style) == "bold"


def _render(renderable) -> str:  # type: ignore[no-untyped-def]
    console = Console(file=io.StringIO(), width=60, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def test_terminal_safe_neutralises_what_markdown_decodes():
    """Markdown turns ``&#x202e;`` into a real U+202E; TerminalSafe shows it escaped."""
    source = "use &#x202e;this&#x2066; now"
    assert "\u202e" in _render(Markdown(source))  # the danger is real
    guarded = _render(Panel(TerminalSafe(Markdown(source))))
    assert "\\u202ethis\\u2066" in guarded
    _no_unsafe(guarded)


@given(ANY_TEXT)
def test_terminal_safe_output_is_always_safe(text):
    _no_unsafe(_render(TerminalSafe(Markdown(text))))
    _no_unsafe(_render(TerminalSafe(Text(text))))


def test_terminal_safe_measures_like_what_it_wraps():
    table_width = Console(width=100).measure(TerminalSafe(Text("x" * 30))).maximum
    assert table_width == 30
