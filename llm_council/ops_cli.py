"""CLI commands for reviewing the council: ``report``, ``check`` and ``registry list|sync``."""

from __future__ import annotations

import asyncio
import io
import json
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from llm_council.cli_errors import fail
from llm_council.config import TIERS, ConfigError, CouncilConfig, load_config
from llm_council.gateway.base import GatewayConfigError, GatewayError
from llm_council.paths import default_overlay_path
from llm_council.registry import Registry, RegistryError, load_registry

registry_app = typer.Typer(help="The model registry and its price overlay.", no_args_is_help=True)
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Config file.")]


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"
    html = "html"


def _load(config_path: Path | None) -> tuple[CouncilConfig, Registry]:
    try:
        return load_config(config_path), load_registry(overlay=default_overlay_path())
    except (ConfigError, RegistryError) as exc:
        raise fail(str(exc), 2) from None


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """``7d``, ``12h``, ``30m``, a date ``2026-11-01`` or an ISO timestamp -> aware UTC."""
    now = now or datetime.now(UTC)
    match = re.fullmatch(r"(\d+)([dhm])", value.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return now - timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: amount})
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"--since takes 7d, 12h, 30m, a date or an ISO time (got {value!r})"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def report_command(
    since: Annotated[str | None, typer.Option(help="7d, 12h, a DATE or ISO time.")] = None,
    last: Annotated[int | None, typer.Option(min=1, help="Only the newest N sessions.")] = None,
    tier: Annotated[str | None, typer.Option(help="Only this tier.")] = None,
    fmt: Annotated[
        ReportFormat, typer.Option("--format", help="table, json, markdown or html.")
    ] = ReportFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Duplicate, diversity, peer-review and cost report of the Pareto seats."""
    from llm_council.audition.report import build_report
    from llm_council.audition.report_render import render_html, render_markdown, render_table
    from llm_council.audition.store import AuditionStoreError, open_store

    if tier is not None and tier not in TIERS:
        raise fail(f"unknown tier {tier!r}; tiers are {', '.join(TIERS)}", 2)
    try:
        since_at = parse_since(since) if since else None
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    cfg, registry = _load(config)
    try:
        report = build_report(open_store(cfg), registry, since=since_at, last=last, tier=tier)
    except AuditionStoreError as exc:
        raise fail(str(exc), 1) from None
    if fmt is ReportFormat.table and output is None:
        render_table(Console(), report)
        return
    if fmt is ReportFormat.json:
        text = json.dumps(report.model_dump(mode="json"), indent=2)
    elif fmt is ReportFormat.markdown:
        text = render_markdown(report)
    elif fmt is ReportFormat.html:
        text = render_html(report)
    else:
        console = Console(record=True, width=120, file=io.StringIO())
        render_table(console, report)
        text = console.export_text()
    if output is None:
        typer.echo(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc.strerror}", 1) from None
    Console(stderr=True).print(f"report written to {output}", highlight=False)


def check_command(
    config: ConfigOpt = None,
    strict: Annotated[bool, typer.Option(help="Exit 1 when there are warnings.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Validate config and registry; predict each pool's Pareto seat before you pay for it."""
    from llm_council.check import run_check

    cfg, registry = _load(config)
    result = run_check(cfg, registry)
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        console = Console()
        console.print(
            f"config {result.config} · registry {result.registry}: valid", highlight=False
        )
        table = Table(title="predicted Pareto resolution (shortlist snapshot)")
        for column in ("tier", "seat", "score", "band", "primary", "fallbacks", ":nitro"):
            table.add_column(column, overflow="fold")
        for p in result.predictions:
            score = "omitted" if p.min_coding_score is None else f"{p.min_coding_score:g}"
            table.add_row(
                p.tier,
                p.seat_id,
                score,
                p.band,
                p.primary or "—",
                ", ".join(p.fallbacks),
                p.nitro or "—",
            )
        console.print(table)
        for finding in result.findings:
            console.print(f"[yellow]warning:[/yellow] {finding.message}", highlight=False)
        if not result.findings:
            console.print("[green]no warnings[/green]")
    if strict and result.warnings:
        raise typer.Exit(1)


@registry_app.command("list")
def registry_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Models in the registry (with the sync overlay applied) and the Pareto shortlist."""
    try:
        registry = load_registry(overlay=default_overlay_path())
    except RegistryError as exc:
        raise fail(str(exc), 2) from None
    bands = {m: b for b, ms in registry.pareto.shortlist.items() for m in ms}
    if as_json:
        rows = [{**m.model_dump(), "pareto_band": bands.get(m.id)} for m in registry.models]
        typer.echo(
            json.dumps(
                {"models": rows, "meta_models": [m.model_dump() for m in registry.meta_models]},
                indent=2,
            )
        )
        return
    table = Table(title=f"registry {registry.source}")
    table.add_column("model", no_wrap=True)
    for column in ("provider", "family", "context", "$/M in", "$/M out", "coding", "band"):
        table.add_column(column, overflow="fold")
    for m in registry.models:
        table.add_row(
            m.id, m.provider, m.family, f"{m.context_length:,}", f"{m.prompt_per_mtok:g}",
            f"{m.completion_per_mtok:g}", "" if m.coding_score is None else f"{m.coding_score:.2f}",
            bands.get(m.id, ""),
        )  # fmt: skip
    for meta in registry.meta_models:
        variants = ", ".join(f":{v}" for v in meta.variants)
        table.add_row(
            meta.id, "openrouter", f"router ({meta.plugin_id}; {variants})", f"{meta.context_length:,}",
            "per model", "per model", "coding only" if meta.coding_only else "", "",
        )  # fmt: skip
    Console().print(table)


@registry_app.command("sync")
def registry_sync(
    config: ConfigOpt = None,
    gateway: Annotated[str, typer.Option(help="auto, sandbox or openrouter.")] = "auto",
    dry_run: Annotated[
        bool, typer.Option(help="Show changes without writing the overlay.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Fetch /models from the gateway and write changed prices and context windows to the overlay."""
    from llm_council.gateway.factory import make_gateway
    from llm_council.registry_sync import sync_registry

    if gateway not in ("auto", "sandbox", "openrouter"):
        raise fail(f"--gateway must be auto, sandbox or openrouter (got {gateway!r})", 2)
    cfg, registry = _load(config)
    try:
        chosen = make_gateway(cfg, registry, gateway)  # type: ignore[arg-type]
    except GatewayConfigError as exc:
        raise fail(str(exc), 2) from None
    if chosen.notice:
        Console(stderr=True).print(f"[yellow]{chosen.notice}[/yellow]", highlight=False)

    async def go():  # type: ignore[no-untyped-def]
        try:
            return await sync_registry(
                chosen.gateway, registry, default_overlay_path(), dry_run=dry_run
            )
        finally:
            await chosen.gateway.aclose()

    try:
        result = asyncio.run(go())
    except GatewayError as exc:
        raise fail(f"could not fetch /models: {exc}", 1) from None
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
        return
    console = Console()
    for change in result.changes:
        console.print(
            f"{change.model} {change.field}: {change.old} → {change.new}", highlight=False
        )
    verb = "would write" if dry_run else "wrote" if result.written else "no changes for"
    console.print(
        f"{len(result.changes)} changes from {result.fetched} models; {verb} {result.overlay}",
        highlight=False,
    )
