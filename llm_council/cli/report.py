"""``llm-council report``: duplicates, diversity, peer review and cost over stored sessions.

Model ids and store text are outside text: the table shows them as Rich ``Text`` (never
parsed as markup, controls escaped); ``--json`` keeps them exact.
"""

from __future__ import annotations

import io
import json
from enum import StrEnum
from typing import Annotated

import typer

from llm_council.choices import TIERS
from llm_council.cli.common import ConfigOpt, OutputOpt, emit, load_all, since_or_exit
from llm_council.cli.errors import fail


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
    output: OutputOpt = None,
    config: ConfigOpt = None,
) -> None:
    """How often the Pareto seat duplicated a named seat, diversity, peer review and cost."""
    from rich.console import Console

    from llm_council.archive import SessionArchive
    from llm_council.audition.report_html import render_html
    from llm_council.audition.report_render import render_markdown, render_table
    from llm_council.audition.store import AuditionStoreError, open_store

    if tier is not None and tier not in TIERS:
        raise fail(f"unknown tier {tier!r}; tiers are {', '.join(TIERS)}", 2)
    since_at = since_or_exit(since)
    cfg, registry = load_all(config)
    try:
        archive = SessionArchive(open_store(cfg), registry)
    except AuditionStoreError as exc:  # an invalid URL is bad input
        raise fail(str(exc), 2) from None
    try:
        report = archive.report(since=since_at, last=last, tier=tier)
    except AuditionStoreError as exc:
        raise fail(str(exc), 1) from None
    finally:
        archive.close()
    if fmt is ReportFormat.table and output is None:
        from llm_council.layout import make_console

        render_table(make_console(), report)
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
    emit(text, output, "report")
