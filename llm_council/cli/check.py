"""``llm-council check``: validate config and registry, predict each pool's Pareto seat."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from llm_council.cli.common import (
    OBSERVED_SINCE,
    ConfigOpt,
    JsonOpt,
    cells,
    load_all,
    since_or_exit,
)

if TYPE_CHECKING:
    from rich.console import Console

    from llm_council.check import CheckResult


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
        from llm_council.cli.cost import show_cost_estimates

        show_cost_estimates(cfg, registry, as_json)
        return
    observed, notes = observe_store(cfg, registry, since_at) if store else (None, [])
    result = run_check(cfg, registry, observed, notes)
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        from rich.console import Console

        _print_check(Console(), result)
    if result.errors:
        raise typer.Exit(2)
    if strict and result.warnings:
        raise typer.Exit(1)


def _print_check(console: Console, result: CheckResult) -> None:
    from rich.table import Table
    from rich.text import Text

    from llm_council.textsafe import terminal_text

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
