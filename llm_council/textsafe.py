"""Text from outside (models, providers, files, users) made safe to show on a terminal.

Two dangers, one module: control characters (ANSI/OSC escape sequences can retitle the
window, move the cursor, hide text or write to the clipboard; bidi overrides reorder what
is read) and Rich markup (``[/x]`` raises, ``[bold]`` silently vanishes). Stored and
``--json`` text keeps the exact original; only what is drawn on a terminal passes here.
"""

from __future__ import annotations

import re

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import StyleType
from rich.text import Text

# C0 controls except tab and newline, DEL, C1 controls, bidi embeddings/overrides/isolates,
# and lone surrogates (which cannot even be encoded for output).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_text(text: str) -> str:
    """``text`` with every control, bidi and surrogate character shown as an escape (``\\x1b``).

    Tabs and newlines are kept; a carriage return is shown (it could overwrite a line).
    """
    return _UNSAFE.sub(_visible, text)


# Rich's tag syntax (rich.markup.RE_TAGS): a run of backslashes, then ``[`` + tag + ``]``.
_TAG = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")
# Rich turns every ``\[`` in plain text into ``[``, tag or not; rich.markup.escape misses that.
_BACKSLASH_BRACKET = re.compile(r"\\(?=\[)")


def markup_text(text: str) -> str:
    """``text`` safe to embed anywhere in a Rich markup string: controls neutralised, and
    Rich reads back exactly ``terminal_text(text)``: no tag applies, none raises.

    ``rich.markup.escape`` alone is not enough: it leaves a ``\\[`` that is not a tag, which
    Rich then prints as ``[``, and a trailing backslash that escapes whatever tag follows.
    Print the result with ``emoji=False``: Rich would otherwise turn ``:smile:`` into an emoji.
    """
    safe = terminal_text(text)
    parts: list[str] = []
    position = 0
    for match in _TAG.finditer(safe):
        parts.append(_BACKSLASH_BRACKET.sub(r"\\\\", safe[position : match.start()]))
        backslashes, tag = match.groups()
        parts.append(f"{backslashes}{backslashes}\\{tag}")  # 2n + 1: n literal, tag escaped
        position = match.end()
    tail = _BACKSLASH_BRACKET.sub(r"\\\\", safe[position:])
    trailing = len(tail) - len(tail.rstrip("\\"))
    if trailing:
        # Doubled and closed by an empty style: Rich prints them once, and a tag the caller
        # writes right after stays a tag.
        tail += "\\" * trailing + "[default][/default]"
    parts.append(tail)
    return "".join(parts)


def one_line(text: str, width: int | None = None) -> str:
    """Terminal-safe text on one line (newlines and tabs as spaces), cut to ``width``."""
    flat = " ".join(terminal_text(text).split())
    if width is not None and len(flat) > width:
        return flat[: max(0, width - 1)] + "…"
    return flat


def plain(text: str, style: StyleType = "") -> Text:
    """A Rich ``Text`` of outside text: never read as markup or emoji, controls neutralised.

    Use it for table cells, titles and any string handed to Rich that did not come from us.
    """
    return Text(terminal_text(text), style=style)


class TerminalSafe:
    """A renderable that draws ``renderable`` with every text segment passed through
    :func:`terminal_text`.

    For renderables that build their own text from outside input, where the input cannot be
    cleaned first: Rich's Markdown decodes character references, so ``&#x202e;`` in a model's
    answer would otherwise reach the terminal as a real bidi override. Rich's own control
    segments (cursor moves) are kept as they are.
    """

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for segment in console.render(self.renderable, options):
            if segment.control:
                yield segment
            else:
                yield Segment(terminal_text(segment.text), segment.style)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.renderable)
