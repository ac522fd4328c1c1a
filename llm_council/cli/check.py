"""``llm-council check``: validate config and registry, predict each pool's Pareto seat."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from llm_council.cli.common import (
    OBSERVED_SINCE,
    ConfigOpt,
    JsonOpt,
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
        from llm_council.layout import make_console

        _print_check(make_console(), result)
    if result.errors:
        raise typer.Exit(2)
    if strict and result.warnings:
        raise typer.Exit(1)


def _print_check(console: Console, result: CheckResult) -> None:
    """The prediction, pool and observed-shortlist tables, then notes and findings.

    Layouts narrow by priority (``llm_council.layout``): tier and seat merge, score and band merge,
    then the fallbacks and the ``:nitro`` pick go under the primary model in one column.
    """
    from llm_council.layout import Column, cell, fitted_table, print_wrapped

    print_wrapped(console, f"config {result.config} · registry {result.registry}")
    ps = result.predictions
    scores = ["omitted" if p.min_coding_score is None else f"{p.min_coding_score:g}" for p in ps]
    primary = [cell(p.primary or "—") for p in ps]
    fallbacks = [cell(", ".join(p.fallbacks) or "—") for p in ps]
    nitro = [cell(p.nitro or "—") for p in ps]
    tier_seat = Column("tier · seat", [cell(f"{p.tier} {p.seat_id}") for p in ps])
    score_band = Column(
        "score · band", [cell(f"{s} {p.band}") for s, p in zip(scores, ps, strict=True)]
    )
    stacked = [
        [
            (p.primary or "—", ""),
            (f"then {', '.join(p.fallbacks) or '—'}", "dim"),
            (f":nitro {p.nitro or '—'}", "dim"),
        ]
        for p in ps
    ]
    layouts = [
        [
            Column("tier", [cell(p.tier) for p in ps]), Column("seat", [cell(p.seat_id) for p in ps]),
            Column("score", [cell(s) for s in scores]), Column("band", [cell(p.band) for p in ps]),
            Column("primary", primary, wrap=True, want="line"),
            Column("fallbacks", fallbacks, wrap=True, want="line"),
            Column(":nitro", nitro, wrap=True, want="line"),
        ],
        [
            tier_seat, score_band, Column("primary", primary, wrap=True),
            Column("fallbacks", fallbacks, wrap=True), Column(":nitro", nitro, wrap=True),
        ],
        [tier_seat, score_band, Column("primary, then fallbacks; :nitro", stacked, wrap=True)],
    ]  # fmt: skip
    title = "predicted Pareto resolution (registry shortlist snapshot)"
    console.print(fitted_table(console, layouts, title=title))
    pools = result.pools
    tiers = Column("tier", [cell(p.tier) for p in pools])
    seats = Column("seats", [cell(str(p.seats)) for p in pools], justify="right")
    providers = [cell(", ".join(p.providers)) for p in pools]
    entropy = [cell(f"{p.provider_entropy:.2f}") for p in pools]
    pool_layouts = [
        [tiers, seats, Column("providers", providers, wrap=True, want="line"),
         Column("provider entropy", entropy, justify="right")],
        [tiers, seats, Column("providers", providers, wrap=True),
         Column("entropy", entropy, justify="right")],
    ]  # fmt: skip
    console.print(fitted_table(console, pool_layouts, title="pools as predicted"))
    if result.observed is not None and result.observed.bands:
        bands = result.observed.bands
        listed = [
            cell(", ".join(f"{m.model} {m.seen}/{m.selected}" for m in b.models)) for b in bands
        ]
        seen = [
            [
                Column("band", [cell(b.band) for b in bands]),
                Column("calls", [cell(str(b.calls)) for b in bands], justify="right"),
                Column("models listed (calls listing / selecting)", listed, wrap=True),
            ]
        ]
        title = "router shortlist observed in the audition store"
        console.print(fitted_table(console, seen, title=title))
    for note in result.notes:
        print_wrapped(console, note, lead="note: ", lead_style="dim")
    for finding in result.findings:
        style = "red" if finding.level == "error" else "yellow"
        print_wrapped(console, finding.message, lead=f"{finding.level}: ", lead_style=style)
    if not result.findings:
        print_wrapped(console, "no warnings", style="green")
