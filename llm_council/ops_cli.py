"""CLI commands for reviewing the council: ``report``, ``check`` and ``registry list|sync``.

Mount them on the main typer app::

    app.command("report")(report_command)
    app.command("check")(check_command)
    app.add_typer(registry_app, name="registry")
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from llm_council.cli_errors import fail
from llm_council.config import TIERS, ConfigError, CouncilConfig, load_config
from llm_council.gateway.base import GatewayConfigError, GatewayError
from llm_council.paths import default_overlay_path
from llm_council.registry import Registry, RegistryError, load_registry

if TYPE_CHECKING:
    from llm_council.check import CheckResult
    from llm_council.gateway.factory import GatewayChoice
    from llm_council.registry_sync import SyncResult

registry_app = typer.Typer(help="The model registry and its price overlay.", no_args_is_help=True)
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (else LLM_COUNCIL_CONFIG, ./unified_config.yaml, shipped default).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only.")]


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"
    html = "html"


class SyncGateway(StrEnum):
    auto = "auto"
    sandbox = "sandbox"
    openrouter = "openrouter"


def _load(config_path: Path | None) -> tuple[CouncilConfig, Registry]:
    """Config and registry (with the sync overlay); a problem with either exits 2."""
    try:
        return load_config(config_path), load_registry(overlay=default_overlay_path())
    except (ConfigError, RegistryError) as exc:
        raise fail(str(exc), 2) from None


_SPAN = re.compile(r"(\d+)\s*([wdhm])")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """``7d``, ``2w``, ``12h``, ``30m``, a date ``2026-11-01`` or an ISO time -> aware UTC.

    A date or time without a zone is read as UTC (the store keeps UTC). ValueError otherwise.
    """
    text = value.strip()
    match = _SPAN.fullmatch(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--since takes a span (7d, 2w, 12h, 30m), a date (2026-11-01) or an ISO time "
            f"(got {value!r})"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


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
    Console(stderr=True).print(f"report written to {output}", highlight=False)


def check_command(
    config: ConfigOpt = None,
    strict: Annotated[bool, typer.Option(help="Exit 1 when there are warnings.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Validate config and registry; predict each pool's Pareto seat before you pay for it.

    Exit 0 clean (or warnings without --strict), 1 warnings with --strict, 2 errors.
    """
    from llm_council.check import run_check

    cfg, registry = _load(config)
    result = run_check(cfg, registry)
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        _print_check(Console(), result)
    if result.errors:
        raise typer.Exit(2)
    if strict and result.warnings:
        raise typer.Exit(1)


def _print_check(console: Console, result: CheckResult) -> None:
    console.print(f"config {result.config} · registry {result.registry}", highlight=False)
    table = Table(title="predicted Pareto resolution (registry shortlist snapshot)")
    for column in ("tier", "seat", "score", "band", "primary", "fallbacks", ":nitro"):
        table.add_column(column, overflow="fold")
    for p in result.predictions:
        score = "omitted" if p.min_coding_score is None else f"{p.min_coding_score:g}"
        fallbacks = ", ".join(p.fallbacks) or "—"
        table.add_row(p.tier, p.seat_id, score, p.band, p.primary or "—", fallbacks, p.nitro or "—")
    console.print(table)
    pools = Table(title="pools as predicted")
    for column in ("tier", "seats", "providers", "provider entropy"):
        pools.add_column(column, overflow="fold")
    for pool in result.pools:
        pools.add_row(
            pool.tier, str(pool.seats), ", ".join(pool.providers), f"{pool.provider_entropy:.2f}"
        )
    console.print(pools)
    for finding in result.findings:
        style = "red" if finding.level == "error" else "yellow"
        console.print(Text.assemble((f"{finding.level}: ", style), finding.message))
    if not result.findings:
        console.print(Text("no warnings", style="green"))


@registry_app.command("list")
def registry_list(as_json: JsonOpt = False) -> None:
    """Models in the registry (with the sync overlay applied) and the Pareto shortlist."""
    overlay = default_overlay_path()
    try:
        shipped, registry = load_registry(), load_registry(overlay=overlay)
    except RegistryError as exc:
        raise fail(str(exc), 2) from None
    bands = {m: b for b, ms in registry.pareto.shortlist.items() for m in ms}
    synced = {m.id for m in registry.models if m != shipped.get(m.id)}
    if as_json:
        rows = [
            {**m.model_dump(), "pareto_band": bands.get(m.id), "from_overlay": m.id in synced}
            for m in registry.models
        ]
        payload = {
            "source": registry.source,
            "overlay": str(overlay) if overlay.is_file() else None,
            "models": rows,
            "meta_models": [m.model_dump() for m in registry.meta_models],
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    table = Table(title=f"registry {registry.source}")
    table.add_column("model", no_wrap=True)
    for column in ("provider", "family", "context", "$/M in", "$/M out", "coding", "band"):
        table.add_column(column, overflow="fold")
    for m in registry.models:
        mark = " *" if m.id in synced else ""
        table.add_row(
            m.id + mark, m.provider, m.family, f"{m.context_length:,}", f"{m.prompt_per_mtok:g}",
            f"{m.completion_per_mtok:g}", "" if m.coding_score is None else f"{m.coding_score:.2f}",
            bands.get(m.id, ""),
        )  # fmt: skip
    for meta in registry.meta_models:
        variants = ", ".join(f":{v}" for v in meta.variants)
        table.add_row(
            meta.id, "openrouter", f"router ({meta.plugin_id}; {variants})", f"{meta.context_length:,}",
            "per model", "per model", "coding only" if meta.coding_only else "", "",
        )  # fmt: skip
    console = Console()
    console.print(table)
    if synced:
        console.print(
            f"* prices or context window from the sync overlay {overlay}", highlight=False
        )


@registry_app.command("sync")
def registry_sync(
    config: ConfigOpt = None,
    gateway: Annotated[
        SyncGateway, typer.Option(help="auto: OpenRouter with a key, else the sandbox.")
    ] = SyncGateway.auto,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the changes without writing the overlay.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Fetch /models and write changed prices and context windows of known models to the overlay.

    The shipped registry file is never edited; the overlay lives in the user data directory.
    """
    from llm_council.gateway.factory import make_gateway
    from llm_council.registry_sync import sync_registry

    cfg, registry = _load(config)
    try:
        # The sandbox plays OpenRouter as of the shipped snapshot, not as of our own overlay
        # (which would make it echo back whatever the last sync wrote).
        upstream = load_registry()
        chosen = make_gateway(cfg, upstream, cast("GatewayChoice", gateway.value))
    except (RegistryError, GatewayConfigError) as exc:
        raise fail(str(exc), 2) from None
    if chosen.notice:
        Console(stderr=True).print(f"[yellow]{chosen.notice}[/yellow]", highlight=False)

    async def fetch() -> SyncResult:
        try:
            return await sync_registry(
                chosen.gateway, registry, default_overlay_path(), dry_run=dry_run
            )
        finally:
            await chosen.gateway.aclose()

    try:
        result = asyncio.run(fetch())
    except GatewayError as exc:
        raise fail(f"could not fetch the model list: {exc}", 1) from None
    except OSError as exc:
        raise fail(
            f"cannot write the overlay {default_overlay_path()}: {exc.strerror}", 1
        ) from None
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
        return
    console = Console()
    for change in result.changes:
        console.print(
            f"{change.model} {change.field}: {change.old} → {change.new}", highlight=False
        )
    if not result.changes:
        verb = "no changes; nothing written to"
    elif dry_run:
        verb = "dry run; would write"
    else:
        verb = "wrote"
    console.print(
        f"{len(result.changes)} changes across {result.matched} known of {result.fetched} "
        f"listed models; {verb} {result.overlay}",
        highlight=False,
    )
