"""Render a Report as a terminal table, Markdown, or one self-contained HTML file with SVG charts."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from llm_council.audition.report_models import Report, TierReport

_PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7")


def _rows(report: Report) -> Iterable[tuple[str, TierReport]]:
    yield from report.tiers.items()
    yield "overall", report.overall


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "—" if value is None else format(value, spec)


def _ci(ci: list[float] | None) -> str:
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "—"


def summary_lines(name: str, t: TierReport) -> list[tuple[str, str]]:
    top = ", ".join(f"{m.model} {m.share:.0%}" for m in t.resolved_models[:3]) or "—"
    dup = ", ".join(f"{d.model} {d.share:.0%}" for d in t.duplicated_seats[:3]) or "—"
    p, n = t.peer_review.pareto, t.peer_review.named
    return [
        ("sessions / seats", f"{t.sessions} / {t.seats}"),
        ("Pareto seats / calls", f"{t.pareto_seats} / {t.pareto_calls}"),
        ("Pareto resolved to", top),
        (
            "duplicate rate",
            f"any {t.duplicate_rate.any:.0%} · exact {t.duplicate_rate.exact:.0%} · "
            f"family {t.duplicate_rate.family:.0%} · drift {t.duplicate_rate.drift:.0%}",
        ),
        ("duplicated named seats", dup),
        (
            "diversity",
            f"{t.diversity.distinct_models_per_session:.2f} models/session · provider entropy "
            f"{t.diversity.provider_entropy:.2f}",
        ),
        (
            "Borda Pareto vs named",
            f"{_fmt(p.mean_borda)} {_ci(p.ci95)} n={p.n} vs {_fmt(n.mean_borda)} {_ci(n.ci95)} n={n.n}",
        ),
        (
            "first place Pareto vs named",
            f"{_fmt(p.first_place_rate, '.0%')} vs {_fmt(n.first_place_rate, '.0%')}",
        ),
        (
            "cost per call Pareto vs named",
            f"${_fmt(t.cost.pareto.mean_usd, '.5f')} vs ${_fmt(t.cost.named.mean_usd, '.5f')} "
            f"(totals ${t.cost.pareto.total_usd:.4f} / ${t.cost.named.total_usd:.4f}); "
            f"above band: {t.cost.above_band_calls}",
        ),
    ]


def render_table(console: Console, report: Report) -> None:
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
            table.add_row(key, value)
        console.print(table)
    _advice(console.print, report)


def _advice(out, report: Report) -> None:  # type: ignore[no-untyped-def]
    if report.recommendations:
        out("[bold]recommendations[/bold]")
        for line in report.recommendations:
            out(f"- {line}")
    else:
        out("no recommendations (each needs >= 20 sessions with a Pareto seat in a tier)")


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
    lines += [f"- {r}" for r in report.recommendations] or ["- none (not enough sessions yet)"]
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
    for name, tier in report.tiers.items():
        body.append(f"<h3>{html.escape(name)}</h3>" + _share_over_time(name, tier))
    if not report.tiers:
        body.append(_share_over_time("none", report.overall))
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
    advice = "".join(f"<li>{html.escape(r)}</li>" for r in report.recommendations)
    body.append(f"<h2>Recommendations</h2><ul>{advice or '<li>none yet</li>'}</ul>")
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


def _svg(chart_id: str, width: int, height: int, inner: str) -> str:
    return (
        f'<svg id="{chart_id}" data-chart="{chart_id}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">{inner}</svg>'
    )


def _share_over_time(name: str, tier: TierReport) -> str:
    width, height, left, bottom = 900, 260, 50, 40
    days = tier.by_day
    models = sorted({m for d in days for m in d.models})
    colour = {m: _PALETTE[i % len(_PALETTE)] for i, m in enumerate(models)}
    parts = [f'<text x="{left}" y="16" font-size="13">{html.escape(name)}</text>']
    parts.append(_y_axis(left, height, bottom, "100%", right=width - 170))
    if not days:
        parts.append(
            f'<text x="{left}" y="{height // 2}" font-size="14">no Pareto seats yet</text>'
        )
    slot = (width - left - 160) / max(1, len(days))
    for i, day in enumerate(days):
        total = sum(day.models.values()) or 1
        y = height - bottom
        x = left + i * slot + 2
        for model in models:
            h = (height - bottom - 30) * day.models.get(model, 0) / total
            if h:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y - h:.1f}" width="{max(1.0, slot - 4):.1f}" '
                    f'height="{h:.1f}" fill="{colour[model]}"><title>{html.escape(day.date)} '
                    f"{html.escape(model)}: {day.models.get(model, 0)}</title></rect>"
                )
                y -= h
        if len(days) <= 15 or i % max(1, len(days) // 10) == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{height - bottom + 14}" font-size="10">{day.date[5:]}</text>'
            )
    for j, model in enumerate(models):
        parts.append(
            f'<rect x="{width - 150}" y="{30 + j * 16}" width="10" height="10" fill="{colour[model]}"/>'
            f'<text class="legend" x="{width - 135}" y="{39 + j * 16}" font-size="11">'
            f"{html.escape(model)}</text>"
        )
    return _svg(f"chart-share-{_slug(name)}", width, height, "".join(parts))


@dataclass(frozen=True, slots=True)
class _Bar:
    value: float | None  # 0..1; None draws nothing
    tooltip: str
    ci95: list[float] | None = None


def _grouped_bars(
    chart_id: str, report: Report, series: Sequence[str], top_label: str,
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
            if bar.value is None:
                continue
            x, h = left + i * group + k * slot, scale * bar.value
            parts.append(
                f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{slot - 3:.1f}" '
                f'height="{h:.1f}" fill="{_PALETTE[k]}"><title>{html.escape(bar.tooltip)}</title></rect>'
            )
            if bar.ci95:
                lo, hi = (height - bottom - scale * v for v in bar.ci95)
                cx = x + (slot - 3) / 2
                parts.append(
                    f'<line x1="{cx:.1f}" y1="{lo:.1f}" x2="{cx:.1f}" y2="{hi:.1f}" stroke="#222"/>'
                )
        parts.append(
            f'<text x="{left + i * group:.1f}" y="{height - bottom + 16}" font-size="12">{html.escape(name)}</text>'
        )
    for k, label in enumerate(series):
        parts.append(
            f'<rect x="{left + k * 90}" y="8" width="10" height="10" fill="{_PALETTE[k]}"/>'
            f'<text class="legend" x="{left + k * 90 + 14}" y="17" font-size="11">{label}</text>'
        )
    if not tiers:
        parts.append(f'<text x="{left}" y="{height // 2}" font-size="14">no sessions yet</text>')
    return _svg(chart_id, width, height, "".join(parts))


def _duplicate_chart(report: Report) -> str:
    kinds = ("any", "exact", "family", "drift")
    return _grouped_bars(
        "chart-duplicates",
        report,
        kinds,
        "100%",
        lambda name, t: [
            _Bar(getattr(t.duplicate_rate, k), f"{name} {k}: {getattr(t.duplicate_rate, k):.0%}")
            for k in kinds
        ],
    )


def _borda_chart(report: Report) -> str:
    def bars(name: str, t: TierReport) -> list[_Bar]:
        groups = (("Pareto", t.peer_review.pareto), ("named", t.peer_review.named))
        return [
            _Bar(p.mean_borda, f"{name} {label}: {_fmt(p.mean_borda)} (n={p.n})", p.ci95)
            for label, p in groups
        ]

    return _grouped_bars("chart-borda", report, ("Pareto", "named"), "1.0", bars)


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
