"""Pieces every chart of the HTML report shares: escaping, the SVG wrapper, axes, colours.

Every text from the store (tier names, model ids, dates) goes through ``esc``: controls and
bidi overrides shown as visible escapes (they are invalid in HTML, a bidi override would
reorder a label, and the page may be printed to a terminal), then ``html.escape``.
"""

from __future__ import annotations

import html

from llm_council.textsafe import terminal_text

# Tableau 10 (colour-blind friendly enough, and distinct in print).
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
CHAR_PX = 7  # a generous average glyph width at 11px sans-serif, to size label columns


def esc(text: str) -> str:
    """Store text for the page: controls visible (``\\x1b``), then HTML-escaped."""
    return html.escape(terminal_text(text))


def text_px(text: str) -> int:
    """The width to reserve for ``text`` as drawn (escapes included) at 11px."""
    return CHAR_PX * len(terminal_text(text))


def svg(chart_id: str, kind: str, label: str, width: int, height: int, inner: str) -> str:
    """An inline chart with a stable ``id`` and ``data-chart`` kind that tests and tools can find."""
    return (
        f'<svg id="{chart_id}" data-chart="{kind}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{esc(label)}"><title>{esc(label)}</title>{inner}</svg>'
    )


def y_axis(left: int, height: int, bottom: int, top_label: str, right: int = 890) -> str:
    """Gridlines at 0, half and full scale with labels, so bar heights can be read."""
    top = 30
    parts = []
    for frac, label in ((0.0, "0"), (0.5, ""), (1.0, top_label)):
        y = height - bottom - (height - bottom - top) * frac
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        if label:
            parts.append(
                f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{label}</text>'
            )
    return "".join(parts)


def slug(name: str) -> str:
    """``name`` as an id fragment: letters and digits kept, anything else a hyphen."""
    return "".join(c if c.isalnum() else "-" for c in name)
