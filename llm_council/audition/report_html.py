"""Render a Report as one self-contained HTML page: inline CSS and SVG charts, no scripts.

Every text from the store (tier names, model ids, dates) goes through ``report_svg.esc``;
the stage 2 charts (paired comparison, agreement, position bias) are ``report_html_reviews``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llm_council.audition.report_html_reviews import stage2_charts
from llm_council.audition.report_models import Report, TierReport
from llm_council.audition.report_render import advice_lines, fmt_number, summary_lines, tier_rows
from llm_council.audition.report_svg import CHAR_PX, PALETTE, esc, slug, svg, y_axis
from llm_council.textsafe import terminal_text


def render_html(report: Report) -> str:
    """One self-contained page: inline CSS and SVG, no scripts, fonts or network."""
    body = [
        "<h1>llm-council audition report</h1>",
        f"<p>{report.window.sessions} sessions"
        + (
            f", {report.window.since:%Y-%m-%d %H:%M} to {report.window.until:%Y-%m-%d %H:%M} UTC"
            if report.window.since and report.window.until
            else ""
        )
        + "</p>",
        "<h2>Resolved-model share of the Pareto seat over time</h2>",
    ]
    colour = _model_colours(report)
    for name, tier in report.tiers.items():
        body.append(f"<h3>{esc(name)}</h3>" + _share_over_time(name, tier, colour))
    if not report.tiers:
        body.append(_share_over_time("overall", report.overall, colour))
    body += [
        "<h2>Duplicate rate per tier</h2>",
        _duplicate_chart(report),
        "<h2>Peer review: Borda of Pareto vs named seats (95% CI)</h2>",
        _borda_chart(report),
        *stage2_charts(report),
        "<h2>Router shortlist and fallbacks (what the Pareto router reported)</h2>",
    ]
    for name, tier in tier_rows(report):
        body.append(f"<h3>{esc(name)}</h3>" + _router_section(name, tier))
    body += [
        "<h2>Figures</h2>",
    ]
    for name, tier in tier_rows(report):
        rows = "".join(
            f"<tr><th>{esc(k)}</th><td>{_breakable(esc(v))}</td></tr>"
            for k, v in summary_lines(name, tier)
        )
        body.append(f"<h3>{esc(name)}</h3><table>{rows}</table>")
    advice = "".join(f"<li>{esc(r)}</li>" for r in advice_lines(report))
    body.append(f"<h2>Recommendations</h2><ul>{advice}</ul>")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>llm-council audition report</title><style>{STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>"
    )


# Charts scale down with the page (viewBox, width 100% at most): at 390 px a phone shows each
# chart whole, the figures tables below carry every number as text. Printed, charts and
# table rows are not split across pages and headings stay with what follows them.
STYLE = (
    "*{box-sizing:border-box}"
    "body{font-family:sans-serif;margin:0 auto;padding:1em 2em;max-width:1100px;color:#222;"
    "line-height:1.4}"
    "h2{font-size:1.25em;margin-top:1.6em}h3{font-size:1.05em}"
    "svg{display:block;max-width:100%;height:auto;background:#fafafa;border:1px solid #ddd;"
    "margin:.5em 0}"
    "table{border-collapse:collapse;margin-bottom:1em;max-width:100%}"
    "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;"
    "font-size:14px;overflow-wrap:anywhere}"
    ".legend{font-size:12px}"
    "@media (max-width:600px){body{padding:.5em .75em}h1{font-size:1.35em}"
    "h2{font-size:1.1em}th,td{font-size:13px;padding:3px 5px}}"
    "@media print{@page{margin:1.5cm}body{max-width:none;padding:0;color:#000;font-size:11pt}"
    "svg{background:none;border:none;break-inside:avoid;page-break-inside:avoid}"
    "h2,h3{break-after:avoid;page-break-after:avoid}tr,li{break-inside:avoid;"
    "page-break-inside:avoid}}"
)


def _breakable(escaped: str) -> str:
    """Escaped text with a line-break opportunity after each ``/``: a narrow page wraps a
    model id between vendor and name rather than inside either."""
    return escaped.replace("/", "/<wbr>")


def _share_over_time(name: str, tier: TierReport, colour: dict[str, str]) -> str:
    """Stacked bars, one per day: which concrete models the tier's Pareto seats resolved to."""
    height, left, bottom = 260, 50, 40
    # The legend grows with its longest label (about 7px a character at 11px): never cut.
    longest = max((len(terminal_text(m.model)) + 5 for m in tier.resolved_models[:12]), default=0)
    legend = max(270, 25 + CHAR_PX * longest)
    width = 630 + legend
    days = tier.by_day
    models = [m.model for m in tier.resolved_models]  # most frequent first
    parts = [f'<text x="{left}" y="16" font-size="13">{esc(name)}</text>']
    parts.append(y_axis(left, height, bottom, "100%", right=width - legend - 10))
    if not days:
        parts.append(
            f'<text x="{left + 10}" y="{height // 2}" font-size="14">no Pareto seat resolved '
            "in this window</text>"
        )
    slot = (width - left - legend - 10) / max(1, len(days))
    for i, day in enumerate(days):
        total = sum(day.models.values()) or 1
        y = height - bottom
        x = left + i * slot + 1
        for model in models:
            count = day.models.get(model, 0)
            h = (height - bottom - 30) * count / total
            if h:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y - h:.1f}" width="{max(1.0, slot - 2):.1f}" '
                    f'height="{h:.1f}" fill="{colour.get(model, "#999")}"><title>'
                    f"{esc(day.date)} {esc(model)}: {count}</title></rect>"
                )
                y -= h
        if len(days) <= 15 or i % max(1, len(days) // 10) == 0:
            parts.append(  # the day comes from the store: escaped like every other label
                f'<text x="{x:.1f}" y="{height - bottom + 14}" font-size="10">'
                f"{esc(day.date[5:])}</text>"
            )
    shown = models[:12]
    for j, model in enumerate(shown):
        share = tier.resolved_models[j].share
        parts.append(
            f'<rect x="{width - legend}" y="{30 + j * 16}" width="10" height="10" '
            f'fill="{colour.get(model, "#999")}"/><text class="legend" x="{width - legend + 15}" '
            f'y="{39 + j * 16}" font-size="11">{esc(model)} {share:.0%}</text>'
        )
    if len(models) > len(shown):
        # The models past the twelfth are named in the tooltip, with their shares.
        rest = ", ".join(f"{m.model} {m.share:.0%}" for m in tier.resolved_models[len(shown) :])
        parts.append(
            f'<text class="legend" x="{width - legend}" y="{39 + len(shown) * 16}" '
            f'font-size="11">+{len(models) - len(shown)} more<title>{esc(rest)}</title></text>'
        )
    label = f"{name}: resolved-model share of the Pareto seat per day"
    return svg(f"chart-share-{slug(name)}", "share", label, width, height, "".join(parts))


def _model_colours(report: Report) -> dict[str, str]:
    """One colour per model across every tier's chart, the most frequent models first."""
    return {
        m.model: PALETTE[i % len(PALETTE)] for i, m in enumerate(report.overall.resolved_models)
    }


@dataclass(frozen=True, slots=True)
class _Bar:
    value: float | None  # 0..1; None is "no data", drawn as n/a
    tooltip: str
    ci95: list[float] | None = None
    text: str = ""  # printed above the bar


def _grouped_bars(
    chart_id: str, label: str, report: Report, series: Sequence[str], top_label: str,
    bars: Callable[[str, TierReport], list[_Bar]], empty: str,
) -> str:  # fmt: skip
    """One group of bars per tier (one bar per series, optional CI whiskers), with a legend.

    A bar without data is "n/a", never a zero-height bar; a chart without any says ``empty``.
    """
    width, height, left, bottom = 900, 260, 50, 40
    scale = height - bottom - 30
    tiers = list(report.tiers.items())
    parts = [
        y_axis(left, height, bottom, top_label),
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#999"/>',
    ]
    group = (width - left - 20) / max(1, len(tiers))
    slot = group / (len(series) + 1)
    for i, (name, tier) in enumerate(tiers):
        for k, bar in enumerate(bars(name, tier)):
            x = left + i * group + k * slot
            if bar.value is None:  # no data is not zero: say so instead of drawing nothing
                parts.append(
                    f'<text x="{x + (slot - 3) / 2:.1f}" y="{height - bottom - 4}" font-size="10" '
                    f'text-anchor="middle" fill="#777">n/a<title>{esc(bar.tooltip)}</title></text>'
                )
                continue
            h = scale * bar.value
            parts.append(
                f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{slot - 3:.1f}" '
                f'height="{h:.1f}" fill="{PALETTE[k]}"><title>{esc(bar.tooltip)}</title></rect>'
                f'<text x="{x + 3:.1f}" y="{height - bottom - h - 4:.1f}" font-size="10">'
                f"{esc(bar.text)}</text>"
            )
            if bar.ci95:
                lo, hi = (height - bottom - scale * v for v in bar.ci95)
                cx, cap = x + (slot - 3) / 2, min(6.0, slot / 4)
                parts.append(  # a whisker with caps: the 95% interval
                    f'<path class="ci" d="M{cx:.1f} {lo:.1f}V{hi:.1f}M{cx - cap:.1f} {lo:.1f}'
                    f'H{cx + cap:.1f}M{cx - cap:.1f} {hi:.1f}H{cx + cap:.1f}" stroke="#222" '
                    f'fill="none"><title>95% interval {bar.ci95[0]:.2f}–{bar.ci95[1]:.2f}</title></path>'
                )
        parts.append(
            f'<text x="{left + i * group:.1f}" y="{height - bottom + 16}" font-size="12">{esc(name)}</text>'
        )
    for k, name in enumerate(series):
        parts.append(
            f'<rect x="{left + k * 90}" y="8" width="10" height="10" fill="{PALETTE[k]}"/>'
            f'<text class="legend" x="{left + k * 90 + 14}" y="17" font-size="11">{esc(name)}</text>'
        )
    if not tiers:
        parts.append(f'<text x="{left}" y="{height // 2}" font-size="14">no sessions yet</text>')
    elif all(b.value is None for name, tier in tiers for b in bars(name, tier)):
        parts.append(
            f'<text x="{left + 10}" y="{height // 2}" font-size="14">no data: {esc(empty)}</text>'
        )
    return svg(chart_id, chart_id.removeprefix("chart-"), label, width, height, "".join(parts))


def _duplicate_chart(report: Report) -> str:
    kinds = ("any", "exact", "family", "drift")

    def bars(name: str, t: TierReport) -> list[_Bar]:
        out = []
        for kind in kinds:
            rate = getattr(t.duplicate_rate, kind)
            if t.pareto_sessions == 0:
                out.append(_Bar(None, f"{name}: no session with a Pareto seat"))
            else:
                tip = f"{name} {kind}: {rate:.0%}"
                out.append(
                    _Bar(rate, tip + f" of {t.pareto_sessions} sessions", text=f"{rate:.0%}")
                )
        return out

    return _grouped_bars(
        "chart-duplicates",
        "duplicate rate per tier (share of sessions with a Pareto seat)",
        report,
        kinds,
        "100%",
        bars,
        "no session in this window had a Pareto seat",
    )


def _borda_chart(report: Report) -> str:
    def bars(name: str, t: TierReport) -> list[_Bar]:
        groups = (("Pareto", t.peer_review.pareto), ("named", t.peer_review.named))
        return [
            _Bar(
                p.mean_borda,
                f"{name} {label}: {fmt_number(p.mean_borda)} (n={p.n})",
                p.ci95,
                text=fmt_number(p.mean_borda),
            )
            for label, p in groups
        ]

    return _grouped_bars(
        "chart-borda",
        "mean Borda of Pareto vs named seats with 95% intervals",
        report,
        ("Pareto", "named"),
        "1.0",
        bars,
        "no answer in this window was ranked",
    )


def _router_section(name: str, tier: TierReport) -> str:
    """The router's shortlist as horizontal bars (listed vs selected), then its fallbacks."""
    rows = tier.observed_shortlist
    calls = tier.fallbacks.with_metadata
    # Wide enough for the longest label at 11px: labels are never cut.
    left = 20 + CHAR_PX * max((len(terminal_text(m.model)) for m in rows), default=10)
    bar_width, row, top = 420, 20, 28
    width = left + bar_width + 150
    height = top + row * max(1, len(rows)) + 12
    most = max((m.seen for m in rows), default=0)
    parts = [
        f'<text x="{left}" y="16" font-size="11">Pareto calls listing each model (pale) and '
        f"selecting it (dark), of {calls} with router metadata</text>"
    ]
    if not rows:
        parts.append(
            f'<text x="{left}" y="{top + 14}" font-size="13">no data: 0 Pareto calls carried '
            "router metadata in this window</text>"
        )
    for i, m in enumerate(rows):
        y = top + i * row
        seen_w = bar_width * m.seen / most if most else 0.0
        sel_w = bar_width * m.selected / most if most else 0.0
        label = esc(m.model)
        tip = esc(f"{name} {m.model}: listed on {m.seen}, selected on {m.selected}")
        parts.append(
            f'<text x="{left - 6}" y="{y + 13}" font-size="11" text-anchor="end">{label}</text>'
            f'<rect class="seen" x="{left}" y="{y + 2}" width="{seen_w:.1f}" height="14" '
            f'fill="#a0cbe8"><title>{tip}</title></rect>'
            f'<rect class="selected" x="{left}" y="{y + 2}" width="{sel_w:.1f}" height="14" '
            f'fill="{PALETTE[0]}"><title>{tip}</title></rect>'
            f'<text x="{left + seen_w + 6:.1f}" y="{y + 13}" font-size="11">{m.seen} / '
            f"{m.selected}</text>"
        )
    label = f"{name}: models the Pareto router listed and selected"
    chart = svg(f"chart-shortlist-{slug(name)}", "shortlist", label, width, height, "".join(parts))
    f = tier.fallbacks
    if not calls:
        fallback = "<p>Fallbacks: no data (0 Pareto calls carried router metadata).</p>"
    else:
        failed = "".join(
            f"<tr><td>{esc(m.model)}</td><td>{m.count}</td></tr>" for m in f.failed_models
        )
        fallback = (
            f"<p>Fallbacks: {f.calls} of {calls} Pareto calls with router metadata "
            f"({f.share:.0%}) needed another attempt after a failed one.</p>"
            + (
                f"<table><tr><th>failed model</th><th>calls</th></tr>{failed}</table>"
                if failed
                else ""
            )
        )
    return chart + fallback
