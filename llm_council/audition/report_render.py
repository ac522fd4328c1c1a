"""Render a Report as a terminal table or Markdown (HTML: ``report_html``), and the summary
lines every format shares.

Model ids, tier names and dates come from the store, which anyone with the URL can write:
the table shows them through ``textsafe`` as Rich ``Text`` (no markup, controls escaped)
laid out by ``llm_council.layout`` (model ids never split, narrower terminals wrap the metric names),
Markdown neutralises controls, pipes, newlines and raw HTML, and HTML escapes every one.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

from llm_council.audition.report_advice import NO_ADVICE
from llm_council.audition.report_models import Report, TierReport
from llm_council.layout import NBSP, Column, cell, fitted_table, print_wrapped
from llm_council.textsafe import one_line

SHORTLIST_SHOWN = 6  # models named in the table / Markdown line; the HTML chart shows all


def tier_rows(report: Report) -> Iterable[tuple[str, TierReport]]:
    yield from report.tiers.items()
    yield "overall", report.overall


def fmt_number(value: float | None, spec: str = ".2f") -> str:
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


def _shortlist_line(t: TierReport) -> str:
    if not t.observed_shortlist:
        return "no router metadata on Pareto calls"
    shown = [f"{m.model} {m.seen}/{m.selected}" for m in t.observed_shortlist[:SHORTLIST_SHOWN]]
    more = len(t.observed_shortlist) - len(shown)
    return " · ".join(shown) + (f" · +{more} more" if more > 0 else "")


def _fallback_line(t: TierReport) -> str:
    f = t.fallbacks
    if not f.with_metadata:
        return "no data (0 Pareto calls carried router metadata)"
    failed = ", ".join(f"{m.model} {m.count}" for m in f.failed_models[:SHORTLIST_SHOWN])
    return f"{f.calls} of {f.with_metadata} Pareto calls with router metadata ({f.share:.0%})" + (
        f"; failed: {failed}" if failed else ""
    )


def _signed_ci(ci: list[float] | None) -> str:
    return f"[{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else "—"


def _without_judges_line(t: TierReport) -> str:
    w = t.peer_review.without_judges
    return (
        f"{_estimate(w.pareto.mean_borda, w.pareto.ci95, '.2f', w.pareto.n)} vs "
        f"{_estimate(w.named.mean_borda, w.named.ci95, '.2f', w.named.n)} "
        f"(judges reviewed {w.judged_sessions} sessions)"
    )


def _paired_line(t: TierReport) -> str:
    p = t.paired
    if p.mean_diff is None:
        return "no data (no session with a Borda score on both sides)"
    return (
        f"{p.mean_diff:+.2f} {_signed_ci(p.ci95)} over {p.sessions} sessions · "
        f"won {p.wins} · lost {p.losses} · tied {p.ties}"
    )


def _agreement_line(t: TierReport) -> str:
    a = t.agreement
    if a.kendall_w is None:
        return "no data (no session with two ballots over a shared answer)"
    beyond = (
        f" · beyond chance {a.beyond_chance:+.2f} {_signed_ci(a.beyond_chance_ci95)}"
        if a.beyond_chance is not None
        else ""
    )
    return (
        f"Kendall's W {a.kendall_w:.2f} {_ci(a.ci95)} over {a.sessions} sessions · random "
        f"ballots {fmt_number(a.chance_w)}{beyond}"
    )


def _position_line(t: TierReport) -> str:
    b = t.position_bias
    if b.first_choice_rate is None:
        return "no data (no counted review shown two answers or more)"
    return (
        f"shown-first answer on top in {b.first_choice_rate:.0%} {_ci(b.ci95, '.0%')} of "
        f"{b.reviews} reviews · chance {fmt_number(b.chance_rate, '.0%')}"
    )


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
        ("Borda without judges", _without_judges_line(t)),
        ("paired Borda Pareto − named", _paired_line(t)),
        ("reviewer agreement", _agreement_line(t)),
        ("position bias", _position_line(t)),
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
        ("router shortlist (seen/selected)", _shortlist_line(t)),
        ("router fallbacks", _fallback_line(t)),
    ]


def render_table(console: Console, report: Report) -> None:
    """The report as one two-column table per tier (and overall), then the advice.

    Laid out by ``llm_council.layout``: values wrap at spaces (model ids whole); on a narrow
    terminal the metric names wrap too.
    """
    w = report.window
    if w.since and w.until:
        window = f"{w.sessions} sessions · {w.since:%Y-%m-%d %H:%M} → {w.until:%Y-%m-%d %H:%M} UTC"
    else:
        window = "no sessions recorded in this window"
    print_wrapped(console, window, lead="audition report · ", lead_style="bold")
    for name, tier in tier_rows(report):
        lines = summary_lines(name, tier)
        keys = [cell(k, "bold") for k, _ in lines]
        values = [cell(_keep_together(v)) for _, v in lines]
        layouts = [
            [Column("metric", keys), Column("value", values, wrap=True)],
            [Column("metric", keys, wrap=True), Column("value", values, wrap=True)],
        ]
        # The tier name is store text: terminal-safe Text, never markup (``layout``).
        table = fitted_table(console, layouts, title=name, title_justify="left")
        table.show_header = False
        console.print(table)
    console.print(Text("recommendations", style="bold"))
    for line in advice_lines(report):
        print_wrapped(console, line, lead="- ")


# A number and the word before it ("x-ai/grok-4.3 3/1", "drift 20%"), and the two ends of an
# interval ("[0.14, 0.76]"), stay on one line of the table.
_NUMBER_AFTER = re.compile(r" (?=[-+−]?\d[\d.,]*(?:%|/\d+)?(?=[\s,;)\]]|$))")
_INTERVAL = re.compile(r"\[([^\]\s]+), ([^\]\s]+)\]")


def _keep_together(value: str) -> str:
    joined = _INTERVAL.sub(lambda m: f"[{m[1]},{NBSP}{m[2]}]", value)
    return _NUMBER_AFTER.sub(NBSP, joined)


def advice_lines(report: Report) -> list[str]:
    return report.recommendations or [NO_ADVICE]


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
    for name, tier in tier_rows(report):
        lines += ["", f"## {_md(name)}", "", "| metric | value |", "| --- | --- |"]
        lines += [f"| {k} | {_md(v).replace('|', '/')} |" for k, v in summary_lines(name, tier)]
    lines += ["", "## Recommendations", ""]
    lines += [f"- {_md(r)}" for r in advice_lines(report)]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """Store text on one Markdown line: controls escaped, newlines flattened (they would end
    a table row or heading), and ``<``/``&`` escaped so a viewer renders no raw HTML."""
    return html.escape(one_line(text), quote=False)
