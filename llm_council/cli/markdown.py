"""``llm-council run --format markdown``: a session as Markdown to paste into a pull request
or an issue: the final answer, the verdict when there is one, the ranking, the seats with
their flags in plain words, then every seat's answer.

Everything from outside (answers, the prompt, model ids, errors, notices, verdict points)
is made inert: controls shown as escapes (``textsafe``), so the text is also safe to print
on a terminal. Text set inline has every character Markdown or HTML would act on
backslash-escaped (``|`` included, so a table row stays one row; ``<`` and ``&``, so no raw
HTML or character reference passes through); answers and the prompt sit in fenced blocks
whose fence is longer than any backtick run inside.
"""

from __future__ import annotations

import re

from llm_council.cli.explain import flag_sentences
from llm_council.council.result import SeatResult, SessionResult
from llm_council.layout import seat_model
from llm_council.textsafe import one_line, terminal_text

# Characters with a meaning in CommonMark/GFM inline text or in HTML: emphasis, code spans,
# links and images, raw HTML and entities, table cells, strikethrough, headings, escapes.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|&#~!])")
_TICKS = re.compile(r"`+")
# What opens a block when it starts a line: a list item ("- x", "+ x", "1. x", "1) x"), or a
# line of only - or = (a thematic break or a setext underline). Inline text may start a line
# (a list item's text, a paragraph), so such a start is escaped.
_LIST_ITEM = re.compile(r"(?:[-+]|(\d{1,9})[.)])(?: |$)")
_RULE = re.compile(r"[-=][-= ]*")


def inline(text: str) -> str:
    """``text`` as inert inline Markdown on one line: safe in a table cell, a heading, a list
    item or at the start of a paragraph."""
    escaped = _SPECIAL.sub(r"\\\1", one_line(text))
    item = _LIST_ITEM.match(escaped)
    if item and item[1]:  # "1. x": escape the dot
        return f"{item[1]}\\{escaped[len(item[1]) :]}"
    if item or _RULE.fullmatch(escaped):
        return "\\" + escaped
    return escaped


def fenced(text: str, info: str = "text") -> str:
    """``text`` verbatim (controls escaped) in a fenced code block that nothing inside can
    close: the fence is one backtick longer than the longest backtick run in ``text``."""
    body = terminal_text(text)
    longest = max((len(run) for run in _TICKS.findall(body)), default=0)
    fence = "`" * max(3, longest + 1)
    if not body.endswith("\n"):
        body += "\n"
    return f"{fence}{info}\n{body}{fence}"


def session_markdown(result: SessionResult) -> str:
    """The session as a Markdown document (see the module docstring for what is escaped)."""
    out = [
        f"## llm-council session {inline(result.session_id)}",
        "",
        f"{inline(result.tier)} tier · {inline(result.mode)} · {inline(result.status)} · "
        f"gateway {inline(result.gateway)} · duplicate policy {inline(result.duplicate_policy)}",
        "",
        "**Question**",
        "",
        fenced(result.prompt),
    ]
    if result.synthesis:
        title = "Fallback answer (chairman failed)" if result.synthesis_is_fallback else "Answer"
        chairman = result.chairman.resolved_model or result.chairman.requested_model
        out += ["", f"### {title}", "", f"Written by {inline(chairman)}.", ""]
        out.append(fenced(result.synthesis, "markdown"))
    out += _verdict(result)
    if result.ranking:
        out += ["", "### Ranking", ""]
        seats = {s.seat_id: s for s in result.seats}
        for n, entry in enumerate(result.ranking, 1):
            seat = seats.get(entry.seat_id)
            model = f" ({inline(_model(seat))})" if seat else ""
            votes = f"{entry.votes} vote{'' if entry.votes == 1 else 's'}"
            out.append(f"{n}. {inline(entry.seat_id)}{model}: Borda {entry.borda:.2f} from {votes}")
    out += ["", "### Seats", "", _seat_table(result)]
    sentences = flag_sentences(result)
    if sentences:
        out += ["", "### Duplicate flags", ""]
        out += [f"- {inline(s)}" for s in sentences]
    if result.notices:
        out += ["", "### Notes", ""]
        out += [f"- {inline(n)}" for n in result.notices]
    out += ["", "### Answers"]
    for seat in result.seats:
        label = f" · {inline(seat.label)}" if seat.label else ""
        out += ["", f"#### {inline(seat.seat_id)} · {inline(_model(seat))}{label}", ""]
        if seat.answer is not None:
            out.append(fenced(seat.answer))
        else:
            error = f": {seat.error}" if seat.error else ""
            out.append(f"No answer ({inline(seat.status + error)}).")
    usage = result.usage
    out += [
        "",
        f"Tokens {usage.prompt_tokens} + {usage.completion_tokens} · cost "
        f"${usage.cost_usd:.5f} · gateway {inline(result.gateway)}",
    ]
    return "\n".join(out) + "\n"


def _model(seat: SeatResult) -> str:
    failed = None if seat.status == "ok" else seat.status
    return seat_model(
        seat.requested_model,
        seat.min_coding_score,
        seat.resolved_model,
        failed=failed,
        rerouted_from=seat.rerouted_from,
    )


def _seat_table(result: SessionResult) -> str:
    rows = [
        "| seat | requested → resolved | status | label | borda | votes | cost $ | flags |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | --- |",
    ]
    for seat in result.seats:
        flags = ", ".join(
            f"{f.kind} with {f.with_seat}" if f.with_seat else f.kind for f in seat.flags
        )
        cells = (
            seat.seat_id,
            _model(seat),
            seat.status,
            seat.label or "",
            "" if seat.borda is None else f"{seat.borda:.2f}",
            str(seat.votes),
            "" if seat.cost_usd is None else f"{seat.cost_usd:.5f}",
            flags,
        )
        rows.append("| " + " | ".join(inline(c) for c in cells) + " |")
    return "\n".join(rows)


def _verdict(result: SessionResult) -> list[str]:
    verdict = result.verdict
    if verdict is None:
        return []
    models = {s.seat_id: s.resolved_model or s.requested_model for s in result.seats}

    def who(seat_id: str) -> str:
        return inline(f"{seat_id} ({models.get(seat_id, '?')})")

    head = f"Confidence: {inline(verdict.confidence or 'not given')}."
    if verdict.built_on:
        head += " Built on " + ", ".join(who(s) for s in verdict.built_on) + "."
    out = ["", "### Verdict", "", head, ""]
    out += [f"- **Agreed:** {inline(p)}" for p in verdict.consensus]
    for item in verdict.disagreements:
        sides = "; ".join(f"{who(s)}: {inline(pos)}" for s, pos in item.seats.items())
        out.append(f"- **Disputed:** {inline(item.point)}" + (f" — {sides}" if sides else ""))
    out += [f"- **Missed by all:** {inline(p)}" for p in verdict.blind_spots]
    if out[-1] == "":
        out.pop()
    return out
