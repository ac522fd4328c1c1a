"""Render an EvalReport as a terminal table, Markdown, or one self-contained HTML page.

Model ids, task ids and failure reasons come from outside (model answers, task files, the
gateway): the table shows them as Rich ``Text`` through ``textsafe`` (no markup, controls
escaped), Markdown neutralises controls, pipes, newlines and raw HTML, and HTML escapes
every one after making controls visible. The HTML has inline CSS and SVG only: no scripts.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

from llm_council.evaluation.report import EvalReport
from llm_council.textsafe import one_line, terminal_text

FAILURES_SHOWN = 10  # council failures listed on the terminal; Markdown and HTML list all
_PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1")
_PASS, _FAIL, _NONE = "#59a14f", "#e15759", "#d0d0d0"
_CHAR_PX = 7  # a generous glyph width at 11px sans-serif, to size label columns


@dataclass(frozen=True, slots=True)
class Row:
    """One strategy's line: the council, the Borda winner, a seat, a Pareto model..."""

    label: str
    kind: str  # council | borda | best | seat | pareto
    passed: int
    n: int
    pass_rate: float | None
    ci95: list[float] | None
    cost_usd: float | None
    cost_per_solved_usd: float | None


def strategy_rows(report: EvalReport) -> list[Row]:
    """Every strategy the report scores, in the order the table, Markdown and HTML show them."""
    n = report.sessions
    c, b, best = report.council, report.borda_winner, report.best_single_seat
    best_label = (
        f"best single seat ({best.seat_id}, {best.requested_model})"
        if best.seat_id
        else "best single seat"
    )
    best_n = next((s.n for s in report.seats if s.seat_id == best.seat_id), 0)
    rows = [
        Row("council synthesis", "council", c.passed, n, c.pass_rate, c.ci95, c.cost_usd, c.cost_per_solved_usd),
        Row("pick the Borda winner", "borda", b.passed, n, b.pass_rate, b.ci95, b.cost_usd, b.cost_per_solved_usd),
        Row(best_label, "best", best.passed, best_n, best.pass_rate, best.ci95, best.cost_usd, best.cost_per_solved_usd),
    ]  # fmt: skip
    rows += [
        Row(
            f"{s.seat_id} {s.requested_model}",
            "seat",
            s.passed,
            s.n,
            s.pass_rate,
            s.ci95,
            s.cost_usd,
            s.cost_per_solved_usd,
        )
        for s in report.seats
    ]
    rows += [
        Row(
            f"Pareto → {m.model}",
            "pareto",
            m.passed,
            m.n,
            m.pass_rate,
            m.ci95,
            m.cost_usd,
            m.cost_per_solved_usd,
        )
        for m in report.pareto_by_model
    ]
    return rows


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _ci(ci: list[float] | None) -> str:
    return f"[{ci[0]:.0%}, {ci[1]:.0%}]" if ci else "—"


def _usd(value: float | None) -> str:
    return "—" if value is None else f"${value:.4f}"


def summary_lines(report: EvalReport) -> list[tuple[str, str]]:
    """The findings beyond the strategy table, as (metric, value) lines."""
    a = report.borda_predicts_pass
    auc = (
        f"AUC {a.auc:.2f} over {a.n} answers (0.5 = chance)"
        if a.auc is not None
        else f"no data: needs passing and failing answers with a Borda score (n={a.n})"
    )
    outcomes = " · ".join(f"{k} {v}" for k, v in report.outcomes.items()) or "—"
    fallbacks = report.borda_winner.fallbacks
    return [
        ("does peer review (Borda) predict passing", auc),
        (
            "synthesis worse than the best answer it was given",
            f"{report.synthesis_worse_than_best_answer} of {report.sessions} sessions",
        ),
        (
            "Borda winner without a ranking",
            f"{fallbacks} session(s): the first seat that answered was taken"
            if fallbacks
            else "none",
        ),
        ("outcomes of all graded answers", outcomes),
    ]


def _title(report: EvalReport) -> str:
    return (
        f"llm-council eval · {report.tasks} tasks · {report.sessions} sessions · "
        f"tier {report.tier} · gateway {report.gateway}"
    )


def render_table(console: Console, report: EvalReport) -> None:
    """Strategies as one table, then the findings and the first council failures."""
    console.print(Text(terminal_text(_title(report)), style="bold"))
    table = Table(title_justify="left")
    for column in ("strategy", "passed", "pass rate", "95% CI", "cost", "cost / solved"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for row in strategy_rows(report):
        table.add_row(
            Text(terminal_text(row.label)),
            f"{row.passed}/{row.n}",
            _rate(row.pass_rate),
            _ci(row.ci95),
            _usd(row.cost_usd),
            _usd(row.cost_per_solved_usd),
        )
    console.print(table)
    for key, value in summary_lines(report):
        console.print(Text(f"{key}: ", style="bold") + Text(terminal_text(value)))
    failures = [r for r in report.results if r.who == "council" and not r.passed]
    if failures:
        console.print(Text("council failures", style="bold"))
        for r in failures[:FAILURES_SHOWN]:
            console.print(Text(f"- {one_line(r.task_id)}: {one_line(r.reason or '', 160)}"))
        if len(failures) > FAILURES_SHOWN:
            console.print(
                Text(f"  +{len(failures) - FAILURES_SHOWN} more (--format json lists all)")
            )


def render_markdown(report: EvalReport) -> str:
    """The report as Markdown: the strategy table, the findings, every failed answer."""
    lines = [
        "# llm-council eval",
        "",
        _md(_title(report).removeprefix("llm-council eval · ")),
        "",
        "| strategy | passed | pass rate | 95% CI | cost | cost / solved |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in strategy_rows(report):
        lines.append(
            f"| {_md(row.label)} | {row.passed}/{row.n} | {_rate(row.pass_rate)} | "
            f"{_ci(row.ci95)} | {_usd(row.cost_usd)} | {_usd(row.cost_per_solved_usd)} |"
        )
    lines += ["", "## Findings", ""]
    lines += [f"- {_md(k)}: {_md(v)}" for k, v in summary_lines(report)]
    failed = [r for r in report.results if not r.passed]
    lines += ["", "## Failed answers", ""]
    if failed:
        lines += ["| task | who | reason |", "| --- | --- | --- |"]
        lines += [f"| {_md(r.task_id)} | {_md(r.who)} | {_md(r.reason or '')} |" for r in failed]
    else:
        lines.append("none")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """Outside text on one Markdown line: controls escaped, newlines flattened, ``|``, ``<``
    and ``&`` escaped so it neither ends a table cell nor renders as raw HTML."""
    return html.escape(one_line(text), quote=False).replace("|", "\\|")


def _h(text: str) -> str:
    """Outside text for the page: controls visible (``\\x1b``), then HTML-escaped."""
    return html.escape(terminal_text(text))


def render_html(report: EvalReport) -> str:
    """One self-contained page: inline CSS and SVG charts, no scripts, fonts or network."""
    rows = strategy_rows(report)
    figures = "".join(
        f"<tr><th>{_h(r.label)}</th><td>{r.passed}/{r.n}</td><td>{_rate(r.pass_rate)}</td>"
        f"<td>{_ci(r.ci95)}</td><td>{_usd(r.cost_usd)}</td><td>{_usd(r.cost_per_solved_usd)}</td></tr>"
        for r in rows
    )
    findings = "".join(f"<li><b>{_h(k)}</b>: {_h(v)}</li>" for k, v in summary_lines(report))
    failed = [r for r in report.results if not r.passed]
    failures = (
        "<table><tr><th>task</th><th>who</th><th>reason</th></tr>"
        + "".join(
            f"<tr><td>{_h(r.task_id)}</td><td>{_h(r.who)}</td><td>{_h(r.reason or '')}</td></tr>"
            for r in failed
        )
        + "</table>"
        if failed
        else "<p>none</p>"
    )
    pareto = [r for r in rows if r.kind == "pareto"]
    body = [
        "<h1>llm-council eval</h1>",
        f"<p>{_h(_title(report).removeprefix('llm-council eval · '))}</p>",
        "<h2>Pass rate by strategy (95% interval)</h2>",
        _bars("chart-pass-rate", "pass rate by strategy with 95% intervals", rows, "rate"),
        "<h2>Cost per solved task</h2>",
        _bars("chart-cost", "cost per solved task by strategy (USD)", rows, "cost"),
        "<h2>Pareto seat by the concrete model it resolved to</h2>",
        _bars("chart-pareto", "Pareto seat pass rate by resolved model", pareto, "rate")
        if pareto
        else "<p>no Pareto seat in these sessions</p>",
        "<h2>Every task, every answer</h2>",
        _grid(report),
        "<h2>Figures</h2>",
        "<table><tr><th>strategy</th><th>passed</th><th>pass rate</th><th>95% CI</th>"
        f"<th>cost</th><th>cost / solved</th></tr>{figures}</table>",
        f"<h2>Findings</h2><ul>{findings}</ul>",
        "<h2>Failed answers</h2>",
        failures,
    ]
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}"
        "table{border-collapse:collapse;margin-bottom:1em}th,td{border:1px solid #ccc;"
        "padding:4px 8px;text-align:left;font-size:14px}svg{background:#fafafa;"
        "border:1px solid #ddd}"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>llm-council eval</title><style>{style}</style></head>"
        f"<body>{''.join(body)}</body></html>"
    )


def _svg(chart_id: str, label: str, width: int, height: int, inner: str) -> str:
    """An inline chart with a stable ``id`` and ``data-chart`` that tests and tools can find."""
    return (
        f'<svg id="{chart_id}" data-chart="{chart_id.removeprefix("chart-")}" '
        f'xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_h(label)}">'
        f"<title>{_h(label)}</title>{inner}</svg>"
    )


def _bars(chart_id: str, label: str, rows: Sequence[Row], measure: str) -> str:
    """Horizontal bars, one per row: pass rate with its CI whisker, or cost per solved task."""
    left = 20 + _CHAR_PX * max((len(terminal_text(r.label)) for r in rows), default=10)
    bar_width, row_h, top = 420, 22, 24
    width, height = left + bar_width + 170, top + row_h * max(1, len(rows)) + 24
    costs = [r.cost_per_solved_usd for r in rows if r.cost_per_solved_usd is not None]
    scale = max(costs, default=0.0) if measure == "cost" else 1.0
    axis = "100%" if measure == "rate" else (f"${scale:.4f}" if scale else "")
    bottom = top + row_h * max(1, len(rows))
    parts = [
        f'<line x1="{left}" y1="{top - 4}" x2="{left}" y2="{bottom}" stroke="#999"/>',
        f'<line x1="{left + bar_width}" y1="{top - 4}" x2="{left + bar_width}" y2="{bottom}" '
        'stroke="#e3e3e3"/>',
        f'<text x="{left}" y="{bottom + 16}" font-size="10">0</text>',
        f'<text x="{left + bar_width}" y="{bottom + 16}" font-size="10" text-anchor="end">{axis}</text>',
    ]
    kinds = sorted({r.kind for r in rows})
    for i, row in enumerate(rows):
        y = top + i * row_h
        value = row.pass_rate if measure == "rate" else row.cost_per_solved_usd
        colour = _PALETTE[kinds.index(row.kind) % len(_PALETTE)]
        parts.append(
            f'<text x="{left - 6}" y="{y + 14}" font-size="11" text-anchor="end">{_h(row.label)}</text>'
        )
        if value is None or (measure == "cost" and not scale):
            why = "nothing graded" if row.n == 0 else "nothing solved"
            parts.append(
                f'<text x="{left + 6}" y="{y + 14}" font-size="11" fill="#777">n/a: {why}'
                f"<title>{_h(row.label)}: n/a ({why})</title></text>"
            )
            continue
        w = bar_width * min(1.0, value / scale)
        text = (
            f"{value:.0%} ({row.passed}/{row.n})" if measure == "rate" else f"${value:.4f}/solved"
        )
        parts.append(
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="15" fill="{colour}">'
            f"<title>{_h(row.label)}: {_h(text)}</title></rect>"
        )
        if measure == "rate" and row.ci95:
            lo, hi = (left + bar_width * v for v in row.ci95)
            cy = y + 10.5
            parts.append(
                f'<path class="ci" d="M{lo:.1f} {cy}H{hi:.1f}M{lo:.1f} {cy - 5}V{cy + 5}'
                f'M{hi:.1f} {cy - 5}V{cy + 5}" stroke="#222" fill="none"><title>95% interval '
                f"{row.ci95[0]:.2f}–{row.ci95[1]:.2f}</title></path>"
            )
        parts.append(
            f'<text x="{left + bar_width + 8}" y="{y + 14}" font-size="11">{_h(text)}</text>'
        )
    return _svg(chart_id, label, width, height, "".join(parts))


def _grid(report: EvalReport) -> str:
    """One row per session (its task), one column per answer: green passed, red failed."""
    sessions: dict[str, tuple[str, dict[str, tuple[bool, str | None]]]] = {}
    columns: list[str] = []
    for r in report.results:
        task, cells = sessions.setdefault(r.session_id, (r.task_id, {}))
        cells[r.who] = (r.passed, r.reason)
        if r.who not in columns:
            columns.append(r.who)
    columns.sort(key=lambda who: (who == "council", who))  # seats first, the synthesis last
    if not sessions:
        return _svg(
            "chart-grid", "results per task", 400, 40, '<text x="10" y="25">no sessions</text>'
        )
    left = 20 + _CHAR_PX * max(len(terminal_text(task)) for task, _ in sessions.values())
    cell, top = 18, 40
    # Columns as wide as their label (10px text), so "council" does not run into "s3".
    col = max(cell, 6 * max(len(terminal_text(who)) for who in columns) + 8)
    width = left + col * len(columns) + 20
    height = top + cell * len(sessions) + 10
    parts = [
        f'<text x="{left + j * col + col / 2:.1f}" y="{top - 8}" font-size="10" '
        f'text-anchor="middle">{_h(who)}</text>'
        for j, who in enumerate(columns)
    ]
    for i, (sid, (task, cells)) in enumerate(sessions.items()):
        y = top + i * cell
        parts.append(
            f'<text x="{left - 6}" y="{y + 13}" font-size="11" text-anchor="end">{_h(task)}</text>'
        )
        for j, who in enumerate(columns):
            passed, reason = cells.get(who, (None, "not in this session"))
            fill = _NONE if passed is None else _PASS if passed else _FAIL
            tip = f"{task} · {who} · " + ("passed" if passed else (reason or "failed"))
            parts.append(
                f'<rect class="cell" x="{left + j * col}" y="{y + 1}" width="{col - 2}" '
                f'height="{cell - 2}" fill="{fill}" data-session="{_h(sid)}"><title>{_h(tip)}</title></rect>'
            )
    return _svg(
        "chart-grid",
        "pass (green) or fail (red) of every answer per task",
        width,
        height,
        "".join(parts),
    )
