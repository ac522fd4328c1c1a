"""``llm-council registry list|sync``: the model registry and its local overlay.

Model ids, paths and provider notices are outside text: on the terminal they are shown as
Rich ``Text`` or through ``textsafe.markup_text``; ``--json`` keeps them exact.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llm_council.cli.common import (
    OBSERVED_SINCE,
    ConfigOpt,
    GatewayOpt,
    JsonOpt,
    load_all,
    since_or_exit,
)
from llm_council.cli.errors import fail

if TYPE_CHECKING:
    from rich.console import Console

    from llm_council.layout import Column
    from llm_council.registry import Registry
    from llm_council.registry_sync import ShortlistSyncResult, SyncResult

registry_app = typer.Typer(help="The model registry and its price overlay.", no_args_is_help=True)


@registry_app.command("list")
def registry_list(as_json: JsonOpt = False) -> None:
    """Models in the registry (with the sync overlay applied) and the Pareto shortlist."""
    from llm_council.layout import fitted_table, make_console, print_wrapped
    from llm_council.paths import default_overlay_path
    from llm_council.registry import RegistryError, load_registry

    overlay = default_overlay_path()
    try:
        shipped, registry = load_registry(), load_registry(overlay=overlay)
    except RegistryError as exc:
        raise fail(str(exc), 2) from None
    bands = {m: b for b, ms in registry.pareto.shortlist.items() for m in ms}
    synced = {m.id for m in registry.models if m != shipped.get(m.id)}
    # Bands `registry sync --from-store` rewrote (the overlay replaces whole bands).
    moved = [
        b
        for b in registry.pareto.shortlist
        if set(registry.pareto.shortlist[b]) != set(shipped.pareto.shortlist.get(b, ()))
    ]
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
            "shortlist_bands_from_overlay": moved,
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    console = make_console()
    console.print(
        fitted_table(
            console, _registry_layouts(registry, bands, synced), title=f"registry {registry.source}"
        )
    )
    if synced:
        print_wrapped(console, f"* prices or context window from the sync overlay {overlay}")
    if moved:
        print_wrapped(
            console,
            f"shortlist bands {', '.join(moved)} from the sync overlay {overlay} (observed with "
            "`registry sync --from-store`)",
        )


def _registry_layouts(
    registry: Registry, bands: dict[str, str], synced: set[str]
) -> list[list[Column]]:
    """Widest first. As it narrows: the family goes (the id names it), then the provider (the
    id's vendor names it), prices in and out merge, then the context window goes."""
    from llm_council.layout import Column, cell

    rows: list[tuple[str, ...]] = [
        (
            m.id + (" *" if m.id in synced else ""),
            m.provider,
            m.family,
            f"{m.context_length:,}",
            f"{m.prompt_per_mtok:g}",
            f"{m.completion_per_mtok:g}",
            "" if m.coding_score is None else f"{m.coding_score:.2f}",
            bands.get(m.id, ""),
        )
        for m in registry.models
    ]
    for meta in registry.meta_models:
        variants = ", ".join(f":{v}" for v in meta.variants)
        rows.append(
            (
                meta.id,
                "openrouter",
                f"router ({meta.plugin_id}; {variants})",
                f"{meta.context_length:,}",
                "per model",
                "per model",
                "coding only" if meta.coding_only else "",
                "",
            )
        )

    def col(header: str, index: int, wrap: bool = False, right: bool = False) -> Column:
        cells = [cell(r[index]) for r in rows]
        return Column(header, cells, wrap=wrap, justify="right" if right else "left")

    model, provider, family = (
        col("model", 0, wrap=True),
        col("provider", 1),
        col("family", 2, wrap=True),
    )
    context, inn, out = (
        col("context", 3, right=True),
        col("$/M in", 4, right=True),
        col("$/M out", 5, right=True),
    )
    coding, band = col("coding", 6, wrap=True), col("band", 7)
    price = Column(
        "$/M in / out",
        [cell(r[4] if r[4] == r[5] else f"{r[4]} / {r[5]}") for r in rows],
        justify="right",
    )
    return [
        [model, provider, family, context, inn, out, coding, band],
        [model, provider, context, inn, out, coding, band],
        [model, context, price, coding, band],
        [model, price, coding, band],
    ]


@registry_app.command("sync")
def registry_sync(
    config: ConfigOpt = None,
    gateway: GatewayOpt = "auto",
    from_store: Annotated[
        bool,
        typer.Option(
            "--from-store",
            help="Update the Pareto shortlist from what the router listed in the audition "
            "store, instead of fetching prices.",
        ),
    ] = False,
    since: Annotated[
        str | None, typer.Option(help="With --from-store: calls since 30d, a DATE, ...")
    ] = OBSERVED_SINCE,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the changes without writing the overlay.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Fetch /models and write changed prices and context windows of known models to the overlay.

    With --from-store, rewrite the overlay's Pareto shortlist bands from the models the
    router listed on recent Pareto calls instead. The shipped registry file is never edited;
    the overlay lives in the user data directory.
    """
    import asyncio

    from rich.console import Console
    from rich.text import Text

    from llm_council.gateway.base import GatewayConfigError, GatewayError
    from llm_council.paths import default_overlay_path
    from llm_council.registry import RegistryError, load_registry
    from llm_council.textsafe import markup_text, terminal_text

    if from_store:
        _sync_from_store(config, since_or_exit(since), dry_run=dry_run, as_json=as_json)
        return
    from llm_council.gateway.factory import make_gateway
    from llm_council.registry_sync import sync_registry

    cfg, registry = load_all(config)
    try:
        # The sandbox plays OpenRouter as of the shipped snapshot, not as of our own overlay
        # (which would make it echo back whatever the last sync wrote).
        upstream = load_registry()
        chosen = make_gateway(cfg, upstream, gateway)
    except (RegistryError, GatewayConfigError) as exc:
        raise fail(str(exc), 2) from None
    if chosen.notice:
        Console(stderr=True).print(
            f"[yellow]{markup_text(chosen.notice)}[/yellow]", highlight=False
        )

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
            Text(terminal_text(f"{change.model} {change.field}: {change.old} → {change.new}"))
        )
    console.print(
        Text(
            terminal_text(
                f"{len(result.changes)} changes across {result.matched} known of "
                f"{result.fetched} listed models; {_verb(bool(result.changes), dry_run)} "
                f"{result.overlay}"
            )
        )
    )


def _verb(changed: bool, dry_run: bool) -> str:
    if not changed:
        return "no changes; nothing written to"
    return "dry run; would write" if dry_run else "wrote"


def _sync_from_store(
    config: Path | None, since: datetime | None, *, dry_run: bool, as_json: bool
) -> None:
    """``registry sync --from-store``: the overlay's shortlist from the observed shortlist."""
    from rich.console import Console

    from llm_council.audition.report_router import observe_shortlist
    from llm_council.audition.store import AuditionStoreError, open_store
    from llm_council.paths import default_overlay_path
    from llm_council.registry_sync import sync_shortlist

    cfg, registry = load_all(config)
    try:
        store = open_store(cfg)
    except AuditionStoreError as exc:
        raise fail(str(exc), 2) from None
    try:
        observed = observe_shortlist(store, registry, since)
    except AuditionStoreError as exc:
        raise fail(str(exc), 1) from None
    finally:
        store.close()
    overlay = default_overlay_path()
    try:
        result = sync_shortlist(registry, observed, overlay, dry_run=dry_run)
    except OSError as exc:
        raise fail(f"cannot write the overlay {overlay}: {exc.strerror}", 1) from None
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
        return
    _print_shortlist_sync(Console(), result)


def _print_shortlist_sync(console: Console, result: ShortlistSyncResult) -> None:
    from rich.text import Text

    from llm_council.textsafe import terminal_text

    for change in result.changes:
        added = ", ".join(f"+{m}" for m in change.added)
        removed = ", ".join(f"-{m}" for m in change.removed)
        line = f"{change.band} band ({change.calls} observed calls): " + "; ".join(
            part for part in (added, removed) if part
        )
        console.print(Text(terminal_text(line)))
    for note in result.notes:
        console.print(Text.assemble(("note: ", "dim"), terminal_text(note)))
    window = f" since {result.since:%Y-%m-%d %H:%M} UTC" if result.since else ""
    console.print(
        Text(
            terminal_text(
                f"{len(result.changes)} shortlist bands changed from {result.calls} Pareto calls "
                f"with router metadata in {result.store}{window}; "
                f"{_verb(bool(result.changes), result.dry_run)} {result.overlay}"
            )
        )
    )
