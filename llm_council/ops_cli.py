"""CLI commands for reviewing the council: ``report``, ``check`` and ``registry list|sync``
(the last in ``registry_cli``, re-exported here).

Mount them on the main typer app::

    app.command("report")(report_command)
    app.command("check")(check_command)
    app.add_typer(registry_app, name="registry")

Model ids, paths, store text and provider messages are outside text: on the terminal they
are shown as Rich ``Text`` or through ``textsafe.markup_text`` (never parsed as markup,
controls escaped); ``--json`` keeps them exact.
"""

from __future__ import annotations

import io
import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from llm_council.cli_errors import fail
from llm_council.config import TIERS
from llm_council.ops_common import (
    OBSERVED_SINCE,
    ConfigOpt,
    JsonOpt,
    cells,
    load_all,
    since_or_exit,
)
from llm_council.registry_cli import registry_app
from llm_council.textsafe import markup_text, terminal_text

if TYPE_CHECKING:
    from llm_council.check import CheckResult

__all__ = ["check_command", "registry_app", "report_command"]


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"
    html = "html"


def report_command(
    since: Annotated[
        str | None, typer.Option(help="Only sessions since: 7d, 12h, a DATE or an ISO time.")
    ] = None,
    last: Annotated[int | None, typer.Option(min=1, help="Only the newest N sessions.")] = None,
    tier: Annotated[str | None, typer.Option(help="Only this tier.")] = None,
    fmt: Annotated[
        ReportFormat, typer.Option("--format", help="table, json, markdown or html.")
    ] = ReportFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """How often the Pareto seat duplicated a named seat, diversity, peer review and cost."""
    from llm_council.audition.report import build_report
    from llm_council.audition.report_html import render_html
    from llm_council.audition.report_render import render_markdown, render_table
    from llm_council.audition.store import AuditionStoreError, open_store

    if tier is not None and tier not in TIERS:
        raise fail(f"unknown tier {tier!r}; tiers are {', '.join(TIERS)}", 2)
    since_at = since_or_exit(since)
    cfg, registry = load_all(config)
    try:
        store = open_store(cfg)
    except AuditionStoreError as exc:  # an invalid URL is bad input
        raise fail(str(exc), 2) from None
    try:
        report = build_report(store, registry, since=since_at, last=last, tier=tier)
    except AuditionStoreError as exc:
        raise fail(str(exc), 1) from None
    finally:
        store.close()
    if fmt is ReportFormat.table and output is None:
        render_table(Console(), report)
        return
    if fmt is ReportFormat.json:
        text = json.dumps(report.model_dump(mode="json"), indent=2)
    elif fmt is ReportFormat.markdown:
        text = render_markdown(report)
    elif fmt is ReportFormat.html:
        text = render_html(report)
    else:  # a table into a file: plain text, no colour codes
        console = Console(record=True, width=120, file=io.StringIO())
        render_table(console, report)
        text = console.export_text()
    if output is None:
        typer.echo(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write --output {output}: {exc.strerror}", 1) from None
    Console(stderr=True).print(f"report written to {markup_text(str(output))}", highlight=False)


def check_command(
    config: ConfigOpt = None,
    strict: Annotated[bool, typer.Option(help="Exit 1 when there are warnings.")] = False,
    since: Annotated[
        str | None,
        typer.Option(help="Compare with the router's shortlist observed since: 30d, a DATE, ..."),
    ] = OBSERVED_SINCE,
    store: Annotated[
        bool,
        typer.Option(
            help="Compare the snapshot with the shortlist observed in the audition store."
        ),
    ] = True,
    as_json: JsonOpt = False,
    cost: Annotated[
        bool, typer.Option("--cost", help="Print only the estimated cost of a session per tier.")
    ] = False,
) -> None:
    """Validate config and registry; predict each pool's Pareto seat before you pay for it.

    Also compares the registry's shortlist snapshot with the shortlist the router listed on
    recent Pareto calls in the audition store (a missing or unreadable store is a note).
    Exit 0 clean (or warnings without --strict), 1 warnings with --strict, 2 errors.
    """
    from llm_council.check import observe_store, run_check

    since_at = since_or_exit(since)
    cfg, registry = load_all(config)
    if cost:  # an estimate from registry prices, labelled so (llm_council.council.estimate)
        from llm_council.batch_cli import show_cost_estimates

        show_cost_estimates(cfg, registry, as_json)
        return
    observed, notes = observe_store(cfg, registry, since_at) if store else (None, [])
    result = run_check(cfg, registry, observed, notes)
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        _print_check(Console(), result)
    if result.errors:
        raise typer.Exit(2)
    if strict and result.warnings:
        raise typer.Exit(1)


def _print_check(console: Console, result: CheckResult) -> None:
    console.print(Text(terminal_text(f"config {result.config} · registry {result.registry}")))
    table = Table(title="predicted Pareto resolution (registry shortlist snapshot)")
    for column in ("tier", "seat", "score", "band", "primary", "fallbacks", ":nitro"):
        table.add_column(column, overflow="fold")
    for p in result.predictions:
        score = "omitted" if p.min_coding_score is None else f"{p.min_coding_score:g}"
        fallbacks = ", ".join(p.fallbacks) or "—"
        table.add_row(
            *cells(p.tier, p.seat_id, score, p.band, p.primary or "—", fallbacks, p.nitro or "—")
        )
    console.print(table)
    pools = Table(title="pools as predicted")
    for column in ("tier", "seats", "providers", "provider entropy"):
        pools.add_column(column, overflow="fold")
    for pool in result.pools:
        pools.add_row(
            *cells(
                pool.tier,
                str(pool.seats),
                ", ".join(pool.providers),
                f"{pool.provider_entropy:.2f}",
            )
        )
    console.print(pools)
    if result.observed is not None and result.observed.bands:
        seen = Table(title="router shortlist observed in the audition store")
        for column in ("band", "calls", "models listed (calls listing / selecting)"):
            seen.add_column(column, overflow="fold")
        for band in result.observed.bands:
            listed = ", ".join(f"{m.model} {m.seen}/{m.selected}" for m in band.models)
            seen.add_row(*cells(band.band, str(band.calls), listed))
        console.print(seen)
    for note in result.notes:
        console.print(Text.assemble(("note: ", "dim"), terminal_text(note)))
    for finding in result.findings:
        style = "red" if finding.level == "error" else "yellow"
        console.print(Text.assemble((f"{finding.level}: ", style), terminal_text(finding.message)))
    if not result.findings:
        console.print(Text("no warnings", style="green"))
