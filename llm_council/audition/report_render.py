"""Render a Report as a terminal table, Markdown, or one self-contained HTML file with SVG charts."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

from llm_council.audition.report import MIN_SESSIONS_FOR_ADVICE
from llm_council.audition.report_models import Report, TierReport

# Tableau 10 (colour-blind friendly enough, and distinct in print).
_PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip


def _rows(report: Report) -> Iterable[tuple[str, TierReport]]:
    yield from report.tiers.items()
    yield "overall", report.overall


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "—" if value is None else format(value, spec)


def _ci(ci: list[float] | None, spec: str = ".2f") -> str:
    return f"[{ci[0]:{spec}}, {ci[1]:{spec}}]" if ci else "—"


def _estimate(value: float | None, ci: list[float] | None, spec: str, n: int) -> str:
    """``0.62 [0.00, 1.00] n=4``; ``no data`` when there is nothing to estimate from."""
    if value is None:
        return "no data"
    interval = f" {_ci(ci, spec)}" if ci else ""
    return f"{value:{spec}}{interval} n={n}"


def _usd(value: float | None) -> str:
    return "—" if value is None else f"${value:.5f}"


def summary_lines(name: str, t: TierReport) -> list[tuple[str, str]]:
    """The report of one tier as (metric, value) lines; table, Markdown and HTML share them."""
    top = ", ".join(f"{m.model} {m.share:.0%}" for m in t.resolved_models[:3]) or "—"
    dup = ", ".join(f"{d.model} {d.share:.0%}" for d in t.duplicated_seats[:3]) or "—"
    p, n = t.peer_review.pareto, t.peer_review.named
    d = t.duplicate_rate
    return [
        ("sessions / seats", f"{t.sessions} / {t.seats}"),
        ("Pareto seats / calls", f"{t.pareto_seats} / {t.pareto_calls}"),
        ("Pareto resolved to", top),
        (
            "duplicate rate",
            f"any {d.any:.0%} · exact {d.exact:.0%} · family {d.family:.0%} · "
            f"drift {d.drift:.0%} (of {t.pareto_sessions} sessions with a Pareto seat)",
        ),
        ("duplicated named seats", dup),
        (
            "diversity",
            f"{t.diversity.distinct_models_per_session:.2f} models/session · provider entropy "
            f"{t.diversity.provider_entropy:.2f}",
        ),
        (
            "Borda Pareto vs named",
            f"{_estimate(p.mean_borda, p.ci95, '.2f', p.n)} vs "
            f"{_estimate(n.mean_borda, n.ci95, '.2f', n.n)}",
        ),
        (
            "first place Pareto vs named",
            f"{_estimate(p.first_place_rate, p.first_place_ci95, '.0%', p.n)} vs "
            f"{_estimate(n.first_place_rate, n.first_place_ci95, '.0%', n.n)}",
        ),
        (
            "cost per call Pareto vs named",
            f"{_usd(t.cost.pareto.mean_usd)} vs {_usd(t.cost.named.mean_usd)} "
            f"(totals ${t.cost.pareto.total_usd:.4f} / ${t.cost.named.total_usd:.4f}); "
            f"above band: {t.cost.above_band_calls}",
        ),
    ]


def render_table(console: Console, report: Report) -> None:
    """The report as one two-column table per tier (and overall), then the advice."""
    w = report.window
    console.print(
        f"[bold]audition report[/bold] · {w.sessions} sessions · "
        f"{w.since:%Y-%m-%d %H:%M} → {w.until:%Y-%m-%d %H:%M} UTC"
        if w.since and w.until
        else "[bold]audition report[/bold] · no sessions recorded in this window"
    )
    for name, tier in _rows(report):
        table = Table(title=name, show_header=False, title_justify="left")
        table.add_column("metric", style="bold")
        table.add_column("value")
        for key, value in summary_lines(name, tier):
            table.add_row(key, Text(value))  # Text: model ids and [lo, hi] are not markup
        console.print(table)
    console.print(Text("recommendations", style="bold"))
    for line in _advice(report):
        console.print(Text(f"- {line}"))


def _advice(report: Report) -> list[str]:
    return report.recommendations or [
        f"none yet (advice needs >= {MIN_SESSIONS_FOR_ADVICE} sessions with a Pareto seat in a tier)"
    ]


def render_markdown(report: Report) -> str:
    w = report.window
    lines = [
        "# llm-council audition report",
        "",
        f"{w.sessions} sessions"
        + (
            f", {w.since:%Y-%m-%d %H:%M} to {w.until:%Y-%m-%d %H:%M} UTC."
            if w.since and w.until
            else "."
        ),
    ]
    for name, tier in _rows(report):
        lines += ["", f"## {name}", "", "| metric | value |", "| --- | --- |"]
        lines += [f"| {k} | {v.replace('|', '/')} |" for k, v in summary_lines(name, tier)]
    lines += ["", "## Recommendations", ""]
    lines += [f"- {r}" for r in _advice(report)]
    return "\n".join(lines) + "\n"


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
        body.append(f"<h3>{html.escape(name)}</h3>" + _share_over_time(name, tier, colour))
    if not report.tiers:
        body.append(_share_over_time("overall", report.overall, colour))
    body += [
        "<h2>Duplicate rate per tier</h2>",
        _duplicate_chart(report),
        "<h2>Peer review: Borda of Pareto vs named seats (95% CI)</h2>",
        _borda_chart(report),
        "<h2>Figures</h2>",
    ]
    for name, tier in _rows(report):
        rows = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in summary_lines(name, tier)
        )
        body.append(f"<h3>{html.escape(name)}</h3><table>{rows}</table>")
    advice = "".join(f"<li>{html.escape(r)}</li>" for r in _advice(report))
    body.append(f"<h2>Recommendations</h2><ul>{advice}</ul>")
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}"
        "table{border-collapse:collapse;margin-bottom:1em}th,td{border:1px solid #ccc;"
        "padding:4px 8px;text-align:left;font-size:14px}svg{background:#fafafa;"
        "border:1px solid #ddd}.legend{font-size:12px}"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>llm-council audition report</title><style>{style}</style></head>"
        f"<body>{''.join(body)}</body></html>"
    )


def _svg(chart_id: str, kind: str, label: str, width: int, height: int, inner: str) -> str:
    """An inline chart with a stable ``id`` and ``data-chart`` kind that tests and tools can find."""
    return (
        f'<svg id="{chart_id}" data-chart="{kind}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{html.escape(label)}"><title>{html.escape(label)}</title>{inner}</svg>'
    )


def _share_over_time(name: str, tier: TierReport, colour: dict[str, str]) -> str:
    """Stacked bars, one per day: which concrete models the tier's Pareto seats resolved to."""
    width, height, left, bottom, legend = 900, 260, 50, 40, 270
    days = tier.by_day
    models = [m.model for m in tier.resolved_models]  # most frequent first
    parts = [f'<text x="{left}" y="16" font-size="13">{html.escape(name)}</text>']
    parts.append(_y_axis(left, height, bottom, "100%", right=width - legend - 10))
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
                    f"{html.escape(day.date)} {html.escape(model)}: {count}</title></rect>"
                )
                y -= h
        if len(days) <= 15 or i % max(1, len(days) // 10) == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{height - bottom + 14}" font-size="10">{day.date[5:]}</text>'
            )
    shown = models[:12]
    for j, model in enumerate(shown):
        share = tier.resolved_models[j].share
        parts.append(
            f'<rect x="{width - legend}" y="{30 + j * 16}" width="10" height="10" '
            f'fill="{colour.get(model, "#999")}"/><text class="legend" x="{width - legend + 15}" '
            f'y="{39 + j * 16}" font-size="11">{html.escape(model)} {share:.0%}</text>'
        )
    if len(models) > len(shown):
        parts.append(
            f'<text class="legend" x="{width - legend}" y="{39 + len(shown) * 16}" '
            f'font-size="11">+{len(models) - len(shown)} more</text>'
        )
    label = f"{name}: resolved-model share of the Pareto seat per day"
    return _svg(f"chart-share-{_slug(name)}", "share", label, width, height, "".join(parts))


def _model_colours(report: Report) -> dict[str, str]:
    """One colour per model across every tier's chart, the most frequent models first."""
    return {
        m.model: _PALETTE[i % len(_PALETTE)] for i, m in enumerate(report.overall.resolved_models)
    }


@dataclass(frozen=True, slots=True)
class _Bar:
    value: float | None  # 0..1; None is "no data", drawn as n/a
    tooltip: str
    ci95: list[float] | None = None
    text: str = ""  # printed above the bar


def _grouped_bars(
    chart_id: str, label: str, report: Report, series: Sequence[str], top_label: str,
    bars: Callable[[str, TierReport], list[_Bar]],
) -> str:  # fmt: skip
    """One group of bars per tier (one bar per series, optional CI whiskers), with a legend."""
    width, height, left, bottom = 900, 260, 50, 40
    scale = height - bottom - 30
    tiers = list(report.tiers.items())
    parts = [
        _y_axis(left, height, bottom, top_label),
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
                    f'text-anchor="middle" fill="#777">n/a<title>{html.escape(bar.tooltip)}</title></text>'
                )
                continue
            h = scale * bar.value
            parts.append(
                f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{slot - 3:.1f}" '
                f'height="{h:.1f}" fill="{_PALETTE[k]}"><title>{html.escape(bar.tooltip)}</title></rect>'
                f'<text x="{x + 3:.1f}" y="{height - bottom - h - 4:.1f}" font-size="10">'
                f"{html.escape(bar.text)}</text>"
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
            f'<text x="{left + i * group:.1f}" y="{height - bottom + 16}" font-size="12">{html.escape(name)}</text>'
        )
    for k, name in enumerate(series):
        parts.append(
            f'<rect x="{left + k * 90}" y="8" width="10" height="10" fill="{_PALETTE[k]}"/>'
            f'<text class="legend" x="{left + k * 90 + 14}" y="17" font-size="11">{html.escape(name)}</text>'
        )
    if not tiers:
        parts.append(f'<text x="{left}" y="{height // 2}" font-size="14">no sessions yet</text>')
    return _svg(chart_id, chart_id.removeprefix("chart-"), label, width, height, "".join(parts))


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
    )


def _borda_chart(report: Report) -> str:
    def bars(name: str, t: TierReport) -> list[_Bar]:
        groups = (("Pareto", t.peer_review.pareto), ("named", t.peer_review.named))
        return [
            _Bar(
                p.mean_borda,
                f"{name} {label}: {_fmt(p.mean_borda)} (n={p.n})",
                p.ci95,
                text=_fmt(p.mean_borda),
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
    )


def _y_axis(left: int, height: int, bottom: int, top_label: str, right: int = 890) -> str:
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


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name)
