"""``llm-council check --cost``: the estimated cost of one session per tier."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from llm_council.choices import TIERS
from llm_council.cli.batch_progress import money
from llm_council.cli.common import cells
from llm_council.config import CouncilConfig
from llm_council.council.estimate import (
    ESTIMATE_LABEL,
    REFERENCE_PROMPT_TOKENS,
    SessionEstimate,
    estimate_plan,
)
from llm_council.council.plan import plan_session
from llm_council.registry import Registry
from llm_council.textsafe import terminal_text


def show_cost_estimates(config: CouncilConfig, registry: Registry, as_json: bool) -> None:
    """``check --cost``: the estimated cost of one session per tier, for a reference prompt."""
    estimates = {
        tier: estimate_plan(
            plan_session(config, tier, config.council.mode), registry, REFERENCE_PROMPT_TOKENS
        )
        for tier in TIERS
    }
    if as_json:
        payload = {
            "label": ESTIMATE_LABEL,
            "prompt_tokens": REFERENCE_PROMPT_TOKENS,
            "tiers": {t: e.model_dump(mode="json") for t, e in estimates.items()},
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    console = Console()
    table = Table(title=f"estimated cost of one session (a {REFERENCE_PROMPT_TOKENS}-token prompt)")
    for column in ("tier", "seats", "Pareto seat priced as", "answer", "review", "chairman"):
        table.add_column(column, overflow="fold")
    table.add_column(f"total ({ESTIMATE_LABEL})", overflow="fold")
    for tier, estimate in estimates.items():
        table.add_row(*cells(*_cost_row(tier, estimate)))
    console.print(table)
    first = next(iter(estimates.values()))
    console.print(Text(terminal_text(f"estimates: {first.assumptions}"), style="dim"))
    for tier, estimate in estimates.items():
        if estimate.unpriced:
            console.print(
                Text(
                    terminal_text(f"{tier}: no registry price for {', '.join(estimate.unpriced)}"),
                    style="yellow",
                )
            )


def _cost_row(tier: str, estimate: SessionEstimate) -> list[str]:
    def stage(name: str) -> str:
        costs = [c.cost_usd for c in estimate.calls if c.stage == name]
        if not costs:
            return "—"
        known = sum(c for c in costs if c is not None)
        return money(known) + ("+?" if None in costs else "")

    pareto = sorted(
        {
            f"{c.seat_id} {c.priced_model or 'no band member'}"
            for c in estimate.calls
            if c.stage == "answer" and c.priced_model != c.requested_model
        }
    )
    seats = sum(1 for c in estimate.calls if c.stage == "answer")
    total = money(estimate.cost_usd) + ("+?" if estimate.unpriced else "")
    return [
        tier,
        str(seats),
        ", ".join(pareto) or "—",
        stage("answer"),
        stage("review"),
        stage("chairman"),
        total,
    ]
