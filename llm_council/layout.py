"""How tables and prose fit a terminal: the rules every table the CLI draws follows (ADR-017).

- A model id is never split inside a token. Text breaks only at spaces (so around ``→``)
  and after ``/``; a piece that still does not fit loses date/version suffixes
  (``-20250514``, ``-4.6``, ``-preview``), and only then is cut with ``…``.
- A Pareto seat reads ``pareto@0.5 → openai/gpt-5.4-mini`` (frontier, no score: ``pareto``).
- A table offers layouts from widest to narrowest, each a list of columns; the first whose
  columns fit is drawn. Narrower layouts merge or drop columns by the table's own priority;
  the order of the columns that stay never changes.
- On a terminal the table uses the terminal's width. Piped (not a TTY) it uses a fixed width
  (``COLUMNS`` if set, else ``PIPE_WIDTH``), ASCII borders and no colour: the same text every
  time, whatever terminal the script happens to run in.

Every string reaching Rich here is a ``Text`` (never markup) of terminal-safe text
(``textsafe.terminal_text``) flattened to one line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from llm_council.pareto import parse_pareto_model
from llm_council.textsafe import terminal_text

PIPE_WIDTH = 120  # piped output: wide enough for every table's full layout
ARROW = "→"
ELLIPSIS = "…"
# A trailing date or version piece a model id may lose when it cannot fit: -20250514,
# -2025-05-14, -0520, -4.6, -v12.3, -preview, :free ... (one piece per step, from the end).
VERSION_SUFFIX = re.compile(
    r"[-_:@.](?:\d{4}-\d{2}-\d{2}|\d{6,8}|\d{2,4}|v?\d+(?:\.\d+)*[a-z]?|preview|latest|exp"
    r"|experimental|beta|alpha|instruct|free|nitro|online|thinking)$",
    re.IGNORECASE,
)
_PIECE = re.compile(r"[^/]*/|[^/]+")  # a word's pieces: break after each '/'
_BREAKABLE = re.compile(r"[^\S\u00a0]+")  # whitespace, except the no-break space
NBSP = "\u00a0"  # joins words that must stay on one line ("1. s1"); printed as a space

Para = tuple[str, str]  # (text, style): one paragraph of a table cell
Cell = Sequence[Para]


# -- consoles --------------------------------------------------------------------------------


def pipe_width() -> int:
    """The width of piped output: ``COLUMNS`` when set to a number, else ``PIPE_WIDTH``."""
    value = os.environ.get("COLUMNS", "")
    return int(value) if value.isdigit() and int(value) > 0 else PIPE_WIDTH


def make_console(*, stderr: bool = False) -> Console:
    """The console a command prints to: the terminal as it is, or, piped, a fixed width and
    no colour (Rich adds none when the output is not a terminal)."""
    console = Console(stderr=stderr, emoji=False, highlight=False)
    if not console.is_terminal:
        console.width = pipe_width()
    return console


def is_plain(console: Console) -> bool:
    """Piped or recorded output: ASCII borders, no colour."""
    return not console.is_terminal


# -- model ids -------------------------------------------------------------------------------


def seat_name(requested: str, score: float | None) -> str:
    """``pareto@0.5`` (``pareto:nitro@0.5``; ``pareto`` without a score) or the model id."""
    ref = parse_pareto_model(requested)
    if ref is None:
        return requested
    name = "pareto" + (f":{ref.variant}" if ref.variant else "")
    return name if score is None else f"{name}@{score:g}"


def seat_model(
    requested: str,
    score: float | None,
    resolved: str | None,
    *,
    failed: str | None = None,
    rerouted_from: str | None = None,
) -> str:
    """What a seat asked for and what answered: ``pareto@0.5 → openai/gpt-5.4-mini``.

    A named seat that got the model it named shows it once. ``failed`` (a status) takes the
    place of the resolved model; a reroute names the model it replaced.
    """
    name = seat_name(requested, score)
    if failed is not None:
        return f"{name} {ARROW} {failed}"
    if resolved is None:
        return f"{name} {ARROW} —"
    if resolved == requested and not rerouted_from:
        return name
    text = f"{name} {ARROW} {resolved}"
    return text + (f" (rerouted from {rerouted_from})" if rerouted_from else "")


# -- wrapping --------------------------------------------------------------------------------


def flat(text: str) -> str:
    """``text`` terminal-safe on one line: controls escaped, runs of whitespace (newlines
    too) one space; a no-break space stays, so the words it joins stay together."""
    return " ".join(part for part in _BREAKABLE.split(terminal_text(text)) if part)


def fit_token(token: str, width: int) -> str:
    """``token`` in at most ``width`` cells: whole if it fits, else without trailing
    date/version pieces, else cut with ``…``. Only a name loses pieces silently: a token
    with no letter left before the piece (a price, a score) is cut with ``…`` instead, so
    ``$0.0076`` never reads ``$0``."""
    if cell_len(token) <= width:
        return token
    trimmed = token
    while (
        (found := VERSION_SUFFIX.search(trimmed))
        and found.start() > 0
        and any(c.isalpha() for c in trimmed[: found.start()])
    ):
        trimmed = trimmed[: found.start()]
        if cell_len(trimmed) <= width:
            return trimmed
    return _cut(token, width)


def _cut(text: str, width: int) -> str:
    if width <= 1:
        return ELLIPSIS if width == 1 else ""
    out = ""
    for char in text:
        if cell_len(out + char) > width - 1:
            break
        out += char
    return out + ELLIPSIS


def wrap(text: str, width: int, hang: int = 0) -> list[str]:
    """``text`` as lines of at most ``width`` cells, broken only at spaces and after ``/``.

    A word that fits on a line is never broken; a longer one breaks after its ``/`` and a
    piece still too long is shortened (``fit_token``). Lines after the first start with
    ``hang`` spaces. ``text`` is flattened first (``flat``); no-break spaces join words and
    come out as spaces.
    """
    width = max(1, width)
    hang = hang if width - hang >= 8 else 0  # a hanging indent only when there is room
    lines: list[str] = []
    line, room = "", width
    for word in flat(text).split(" "):
        if not word:
            continue
        units = [word] if cell_len(word) <= width - hang else _PIECE.findall(word)
        for index, unit in enumerate(units):
            unit = fit_token(unit, width - hang)
            glue = "" if index else " "
            joined = f"{line}{glue}{unit}" if line else unit
            if cell_len(joined) <= room:
                line = joined
                continue
            lines.append(line)
            line, room = unit, width - hang
    if line or not lines:
        lines.append(line)
    out = [lines[0], *(" " * hang + rest for rest in lines[1:])]
    return [line.replace(NBSP, " ") for line in out]


def print_wrapped(
    console: Console,
    text: str,
    *,
    style: str = "",
    lead: str = "",
    lead_style: str = "",
    hang: int = 2,
    width: int | None = None,
) -> None:
    """Print ``lead`` + ``text`` wrapped to the console (ids whole), continuation lines
    indented by ``hang`` more than the first; ``lead`` (e.g. ``note:``) in its own style, its
    leading spaces an indent of every line."""
    indent = len(lead) - len(lead.lstrip(" "))  # leading spaces: an indent of every line
    lead = lead.lstrip(" ")
    lines = wrap(f"{lead}{text}", (width or console.width) - indent, hang)
    for n, line in enumerate(lines):
        shown = Text(" " * indent + line, style=style)
        if n == 0 and lead and lead_style:
            shown.stylize(lead_style, indent, indent + min(len(lead.rstrip()), len(line)))
        console.print(shown, soft_wrap=True)


# -- tables ----------------------------------------------------------------------------------


def cell(text: str, style: str = "") -> list[Para]:
    """A one-paragraph cell."""
    return [(text, style)]


@dataclass(frozen=True, slots=True)
class Column:
    """One column of one layout.

    ``wrap``: the cells may take several lines (broken as ``wrap`` breaks them). ``want``: how
    wide a wrapping column must be for its layout to be chosen: ``line`` (every cell on one
    line) or ``word`` (every space-separated word, e.g. a whole model id, on one line).
    """

    header: str
    cells: Sequence[Cell]
    wrap: bool = False
    want: Literal["line", "word"] = "word"
    justify: Literal["left", "right"] = "left"


def _paras(column: Column) -> list[str]:
    return [flat(column.header), *(flat(t) for c in column.cells for t, _ in c)]


def _natural(column: Column) -> int:
    return max(cell_len(t) for t in _paras(column))


def _longest(column: Column, pieces: bool) -> int:
    words = [w for t in _paras(column) for w in t.split(" ") if w]
    if pieces:
        words = [p for w in words for p in _PIECE.findall(w)]
    return max((cell_len(w) for w in words), default=1)


def overhead(columns: int) -> int:
    """Border and padding cells of a table with edges and one space of padding each side."""
    return 3 * columns + 1


def choose_layout(
    layouts: Sequence[Sequence[Column]], width: int
) -> tuple[Sequence[Column], list[int]]:
    """The first layout whose columns fit ``width`` (the last one if none does), with the
    width of each column. Fixed columns get their natural width; wrapping columns get what
    they want and share the rest, the leftmost first."""
    if not layouts:
        raise ValueError("a table needs at least one layout")
    for columns in layouts:
        room = width - overhead(len(columns)) - sum(_natural(c) for c in columns if not c.wrap)
        wants = {
            n: _natural(c) if c.want == "line" else min(_natural(c), _longest(c, False))
            for n, c in enumerate(columns)
            if c.wrap
        }
        if sum(wants.values()) <= room:
            break
    else:  # the narrowest layout, still too wide: break ids after '/', then shorten them
        wants = {n: min(w, _longest(columns[n], True)) for n, w in wants.items()}
        if (total := sum(wants.values())) > room:
            wants = {n: max(4, room * w // total) for n, w in wants.items()}
    spare = max(0, room - sum(wants.values()))
    widths = []
    for n, column in enumerate(columns):
        if n not in wants:
            widths.append(_natural(column))
            continue
        extra = max(0, min(spare, _natural(column) - wants[n]))
        widths.append(wants[n] + extra)
        spare -= extra
    return columns, widths


def fitted_table(
    console: Console,
    layouts: Sequence[Sequence[Column]],
    *,
    title: str | None = None,
    show_lines: bool = False,
    title_style: str = "italic",
    title_justify: Literal["left", "center"] = "center",
    width: int | None = None,
) -> Table:
    """A Rich table of the first layout that fits the console (see ``choose_layout``)."""
    columns, widths = choose_layout(layouts, width or console.width)
    table_width = sum(widths) + overhead(len(columns))
    table = Table(
        title=Text("\n".join(wrap(title, table_width))) if title else None,
        title_style=title_style,
        title_justify=title_justify,
        box=box.ASCII if is_plain(console) else box.HEAVY_HEAD,
        show_lines=show_lines,
        expand=False,
    )
    for column, size in zip(columns, widths, strict=True):
        header = wrap(column.header, size) if column.wrap else [flat(column.header)]
        table.add_column(
            Text("\n".join(header)),
            width=size,
            no_wrap=True,
            overflow="ellipsis",
            justify=column.justify,
        )
    rows = max((len(c.cells) for c in columns), default=0)
    for row in range(rows):
        table.add_row(
            *(
                _cell_text(c.cells[row] if row < len(c.cells) else [], size, c.wrap)
                for c, size in zip(columns, widths, strict=True)
            )
        )
    return table


def _cell_text(paras: Cell, width: int, wrapping: bool) -> Text:
    out = Text()
    for n, (text, style) in enumerate(paras):
        lines = wrap(text, width) if wrapping else [flat(text).replace(NBSP, " ")]
        out.append(("\n" if n else "") + "\n".join(lines), style=style or None)
    return out
