"""The HTML report's stage 2 charts: one row per tier (and overall), a point at the estimate
with its 95% interval as a whisker, and a tick at chance where there is one.

- paired: the Pareto seat's Borda minus the named seats', within sessions (-1..1, zero line);
- agreement: Kendall's W of the reviewers, with the W random ballots would score (0..1);
- position bias: how often the answer shown first was ranked first, with chance (0..1).

Label and value columns are as wide as their longest text (``report_svg.text_px``), so no
tier name or figure is cut, whatever the store holds; every such text goes through ``esc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llm_council.audition.report_models import Report
from llm_council.audition.report_render import tier_rows
from llm_council.audition.report_svg import PALETTE, esc, svg, text_px

_PLOT = 360  # px of the value axis
_ROW = 22
_TOP = 40  # the axis labels and the legend sit above the first row


@dataclass(frozen=True, slots=True)
class _Row:
    label: str  # the tier
    value: float | None  # None: no data, said in words
    ci95: Sequence[float] | None
    text: str  # printed right of the plot
    chance: float | None = None


def stage2_charts(report: Report) -> list[str]:
    """The three charts with their headings, in page order."""
    return [
        "<h2>Paired comparison: Pareto minus named Borda within each session (95% CI)</h2>",
        _paired(report),
        "<h2>Reviewer agreement: Kendall's W per session, averaged (95% CI; tick: chance)</h2>",
        _agreement(report),
        "<h2>Position bias: answer shown first ranked first (95% CI; tick: chance)</h2>",
        _position(report),
    ]


def _paired(report: Report) -> str:
    rows = []
    for name, t in tier_rows(report):
        p = t.paired
        text = (
            f"{p.mean_diff:+.2f} n={p.sessions} ({p.wins}/{p.losses}/{p.ties})"
            if p.mean_diff is not None
            else "no data"
        )
        rows.append(_Row(name, p.mean_diff, p.ci95, text))
    return _forest(
        "chart-paired",
        "no session with a Borda score on both sides",
        "paired",
        "Pareto seat's Borda minus the named seats' mean, within sessions; "
        "won/lost/tied in brackets",
        rows,
        (-1.0, 1.0),
        ("−1", "0", "+1"),
    )


def _agreement(report: Report) -> str:
    rows = []
    for name, t in tier_rows(report):
        a = t.agreement
        text = (
            f"W {a.kendall_w:.2f} n={a.sessions} (chance {a.chance_w:.2f})"
            if a.kendall_w is not None and a.chance_w is not None
            else "no data"
        )
        rows.append(_Row(name, a.kendall_w, a.ci95, text, a.chance_w))
    return _forest(
        "chart-agreement",
        "no session with two ballots over a shared answer",
        "agreement",
        "Kendall's W of the reviewers per session, averaged; tick: random ballots",
        rows,
        (0.0, 1.0),
        ("0", "0.5", "1"),
    )


def _position(report: Report) -> str:
    rows = []
    for name, t in tier_rows(report):
        b = t.position_bias
        text = (
            f"{b.first_choice_rate:.0%} of {b.reviews} (chance {b.chance_rate:.0%})"
            if b.first_choice_rate is not None and b.chance_rate is not None
            else "no data"
        )
        rows.append(_Row(name, b.first_choice_rate, b.ci95, text, b.chance_rate))
    return _forest(
        "chart-position",
        "no counted review was shown two answers or more",
        "position",
        "share of reviews whose top choice was the answer shown first; tick: chance",
        rows,
        (0.0, 1.0),
        ("0%", "50%", "100%"),
    )


def _forest(
    chart_id: str,
    empty: str,
    kind: str,
    label: str,
    rows: list[_Row],
    scale: tuple[float, float],
    ticks: tuple[str, str, str],
) -> str:
    lo, hi = scale
    nothing = all(row.value is None for row in rows)
    message = f"no data: {empty}"
    left = 20 + max((text_px(r.label) for r in rows), default=60)
    right = 20 + max((text_px(r.text) for r in rows), default=60)
    width = max(left + _PLOT + right, 20 + text_px(label), 20 + text_px(message) if nothing else 0)
    # With no data at all, one line below the rows says why (each row also says "no data").
    height = _TOP + _ROW * max(1, len(rows)) + (26 if nothing else 8)

    def x(value: float) -> float:
        return left + _PLOT * (min(hi, max(lo, value)) - lo) / (hi - lo)

    bottom = _TOP + _ROW * max(1, len(rows))
    parts = [f'<text x="10" y="14" font-size="11">{esc(label)}</text>']
    for value, tick in zip((lo, (lo + hi) / 2, hi), ticks, strict=True):
        anchor = "start" if value == lo else "end" if value == hi else "middle"
        parts.append(
            f'<line x1="{x(value):.1f}" y1="{_TOP - 6}" x2="{x(value):.1f}" y2="{bottom}" '
            f'stroke="{"#999" if value == 0 else "#e3e3e3"}"/>'
            f'<text x="{x(value):.1f}" y="{_TOP - 10}" font-size="10" text-anchor="{anchor}">'
            f"{tick}</text>"
        )
    if nothing:
        parts.append(
            f'<text class="empty" x="10" y="{bottom + 16}" font-size="11" fill="#555">'
            f"{esc(message)}</text>"
        )
    for i, row in enumerate(rows):
        y = _TOP + i * _ROW + _ROW / 2
        parts.append(
            f'<text x="{left - 8}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{esc(row.label)}</text>"
            f'<text x="{left + _PLOT + 10}" y="{y + 4:.1f}" font-size="11">{esc(row.text)}</text>'
        )
        if row.value is None:
            continue
        if row.ci95:
            a, b = x(row.ci95[0]), x(row.ci95[1])
            parts.append(
                f'<path class="ci" d="M{a:.1f} {y:.1f}H{b:.1f}M{a:.1f} {y - 5:.1f}V{y + 5:.1f}'
                f'M{b:.1f} {y - 5:.1f}V{y + 5:.1f}" stroke="#222" fill="none"><title>'
                f"{esc(row.label)}: 95% interval {row.ci95[0]:.2f}–{row.ci95[1]:.2f}</title></path>"
            )
        if row.chance is not None:
            parts.append(
                f'<line class="chance" x1="{x(row.chance):.1f}" y1="{y - 8:.1f}" '
                f'x2="{x(row.chance):.1f}" y2="{y + 8:.1f}" stroke="{PALETTE[2]}" '
                f'stroke-width="2"><title>{esc(row.label)}: chance {row.chance:.2f}</title></line>'
            )
        parts.append(
            f'<rect class="point" x="{x(row.value) - 4:.1f}" y="{y - 4:.1f}" width="8" '
            f'height="8" fill="{PALETTE[0]}"><title>{esc(row.label)}: {row.value:.4f}</title>'
            "</rect>"
        )
    return svg(chart_id, kind, label, width, height, "".join(parts))
