"""``run --format markdown`` (``cli.markdown.session_markdown``): a session as Markdown for a
pull request or an issue, read back with a CommonMark parser (markdown-it-py, with GFM
tables as GitHub renders them).

What is checked: the sections a reader needs are there (answer, verdict when it exists,
ranking, seats with their flags in words, every answer); the seats table has one row per
seat and eight cells per row; and, for any text a model, a provider or a user can send,
nothing acts: no raw HTML, no link, image, emphasis or code span from outside text, every
answer comes back byte for byte (controls shown as escapes) from its fenced block, and no
control character reaches the output.
"""

from __future__ import annotations

import itertools
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from llm_council.cli.markdown import fenced, inline, session_markdown
from llm_council.council.result import Disagreement, SessionResult, Verdict
from llm_council.textsafe import one_line, terminal_text
from tests.audition_data import MINI, make_session

PARSER = MarkdownIt("commonmark").enable("table").enable("strikethrough")
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Inline tokens only outside text could produce (our own text uses strong only).
FOREIGN = {"html_inline", "link_open", "image", "em_open", "code_inline", "s_open", "autolink"}


def session() -> SessionResult:
    result = make_session(0)
    result.verdict = Verdict(
        consensus=["use heapq.merge"],
        disagreements=[Disagreement(point="copying", seats={"s1": "copy", "s4": "in place"})],
        blind_spots=["empty inputs"],
        confidence="high",
        built_on=["s1"],
    )
    result.seats[0].answer = "```python\ndef merge(a, b):\n    return sorted(a + b)\n```\n"
    return result


def inline_texts(tokens: list[Token], opener: str) -> list[str]:
    """The plain text of every inline block directly inside ``opener`` (``td_open``, ...)."""
    out = []
    for before, token in itertools.pairwise(tokens):
        if before.type == opener and token.type == "inline":
            out.append("".join(c.content for c in token.children or [] if c.type == "text"))
    return out


def fences(tokens: list[Token]) -> list[str]:
    return [t.content for t in tokens if t.type == "fence"]


def test_sections_table_and_answers():
    result = session()
    text = session_markdown(result)
    tokens = PARSER.parse(text)
    headings = [
        t.content for t, o in zip(tokens[1:], tokens, strict=False) if o.type == "heading_open"
    ]
    assert headings[:5] == [
        f"llm-council session {result.session_id}", "Answer", "Verdict", "Ranking", "Seats",
    ]  # fmt: skip
    assert "Duplicate flags" in headings and "Answers" in headings
    cells = inline_texts(tokens, "td_open")
    assert len(cells) == 8 * len(result.seats)
    assert cells[8 * 3 : 8 * 3 + 2] == ["s4", f"pareto@0.5 → {MINI}"]
    assert cells[8 * 3 + 7] == "exact with s1"
    # Every answer and the synthesis come back exactly from their fenced blocks.
    blocks = fences(tokens)
    assert result.synthesis is not None and result.synthesis + "\n" in blocks
    for seat in result.seats:
        assert seat.answer is not None
        assert (seat.answer if seat.answer.endswith("\n") else seat.answer + "\n") in blocks
    assert result.seats[0].answer in blocks  # the answer's own ``` fence did not close ours
    items = inline_texts(tokens, "paragraph_open")
    assert any(
        f"s4 (pareto@0.5) answered as {MINI}, the same model as s1: an exact duplicate. "
        "Policy flag: both answers kept and reviewed" in item
        for item in items
    )
    assert len([t for t in tokens if t.type == "ordered_list_open"]) == 1  # the ranking
    for entry in result.ranking:
        assert any(
            i.startswith(f"{entry.seat_id} (") and f"): Borda {entry.borda:.2f} from" in i
            for i in items
        )
    assert f"s4 (pareto@0.5 → {MINI}): Borda" in " ".join(items)
    assert "Agreed:" in text and "Disputed:" in text and "Missed by all:" in text


def test_no_verdict_section_without_a_verdict_and_failed_seats_say_why():
    result = make_session(1, failed_seat="s2")
    result.verdict = None
    text = session_markdown(result)
    assert "### Verdict" not in text
    assert "No answer (timeout: no answer within 60 s)." in text


def test_fence_is_longer_than_any_backtick_run():
    body = "a ```` b\n`````\nc"
    block = fenced(body)
    assert block.startswith("``````text\n") and block.endswith("\n``````")
    assert fences(PARSER.parse(block)) == [body + "\n"]


HOSTILE = st.one_of(
    st.text(max_size=40),
    st.lists(
        st.sampled_from(
            ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "&#x202e;", "&amp;",
             "|", "`", "```", "~~~", "*", "_", "[a](http://x)", "![i](http://x/i.png)", "#",
             "\n", "\n\n", "\t", "\\", "\x1b]0;pwned\x07", "\u202e", "\x00", "\r", "- ", "1. ",
             "> ", "<http://x>", "~~s~~", "a", " ", ":fire:", "<!-- c -->"]
        ),
        max_size=25,
    ).map("".join),
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(answer=HOSTILE, prompt=HOSTILE, model=HOSTILE, note=HOSTILE, point=HOSTILE, error=HOSTILE)
def test_hostile_text_stays_inert_and_exact(answer, prompt, model, note, point, error):
    result = make_session(2, failed_seat="s3")
    result.prompt = prompt or "q"
    result.seats[0].answer = answer
    result.seats[1].resolved_model = result.seats[1].requested_model = model or "m"
    result.seats[2].error = error
    result.notices = [note]
    result.verdict = Verdict(consensus=[point], confidence="low")
    result.synthesis = answer
    text = session_markdown(result)
    assert not RAW_CONTROL.search(text)
    tokens = PARSER.parse(text)
    kinds = {t.type for t in tokens} | {c.type for t in tokens for c in t.children or []}
    assert "html_block" not in kinds and not kinds & FOREIGN, kinds & (FOREIGN | {"html_block"})
    cells = inline_texts(tokens, "td_open")
    assert len(cells) == 8 * len(result.seats)  # a pipe or newline never adds a cell or row
    assert cells[8 + 1] == one_line(model or "m")  # the id exactly, escapes shown
    blocks = fences(tokens)
    expected = terminal_text(answer)
    assert (expected if expected.endswith("\n") else expected + "\n") in blocks
    shown = [s.rstrip() for s in inline_texts(tokens, "paragraph_open")]
    if one_line(note):
        assert one_line(note) in shown  # the notice as one inert list item, exact
    assert f"Agreed: {one_line(point)}".rstrip() in shown
    assert one_line(result.tier) + " tier" in " ".join(shown)


@given(st.text())
def test_inline_is_one_line_and_escapes_every_active_character(text):
    out = inline(text)
    assert "\n" not in out and not RAW_CONTROL.search(out)
    assert not re.search(r"(?<!\\)(?:\\\\)*[<>&|`*_\[\]#~!]", out)


def test_run_format_markdown_through_the_cli(monkeypatch, tmp_path):
    # The Pareto seat lands on a named seat in the sandbox, so an exact flag appears.
    from typer.testing import CliRunner

    from llm_council.cli import app

    monkeypatch.setenv(
        "LLM_COUNCIL_MODELS_BALANCED",
        "openai/gpt-5.4-mini,anthropic/claude-sonnet-4.6,openrouter/pareto-code",
    )
    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    runner = CliRunner()
    done = runner.invoke(
        app, ["run", "Write fizzbuzz in Python", "--gateway", "sandbox", "--format", "markdown"]
    )
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("## llm-council session ")
    assert "### Duplicate flags" in done.stdout and "an exact duplicate" in done.stdout
    clash = runner.invoke(
        app, ["run", "x", "--gateway", "sandbox", "--json", "--format", "markdown"]
    )
    assert clash.exit_code == 2
    assert "--json and --format markdown disagree" in clash.stderr
