"""How ``sessions list`` and ``sessions show`` look on a terminal.

Model ids, prompts and provider text are outside text: shown through ``textsafe`` so they
are never parsed as markup and controls are escaped.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from llm_council.audition.store import SeatBrief, SessionSummary
from llm_council.cli.render import render_result
from llm_council.council.result import CallRecord, SeatResult, SessionResult
from llm_council.pareto import is_pareto_model
from llm_council.textsafe import markup_text, one_line, plain


def say_notices(notices: list[str]) -> None:
    """The store's notices (e.g. a newer schema) on stderr."""
    err = Console(stderr=True, soft_wrap=True)
    for notice in notices:
        err.print(Text.assemble(("note:", "yellow"), " ", plain(notice)), highlight=False)


def print_session_list(rows: list[SessionSummary], total: int, where: str) -> None:
    """``sessions list``: one row per session, one line per seat, newest first."""
    console = Console(emoji=False)  # a model id like :fire: stays text
    if not rows:
        console.print(plain(f"no sessions recorded in {where}"), highlight=False)
        return
    # Narrow columns for the session, one line per seat: readable in an 80-column terminal.
    table = Table(title=plain(f"sessions in {where}"), show_lines=True)
    table.add_column("session", no_wrap=True)
    table.add_column("prompt · seats (requested → resolved)", overflow="fold", ratio=1)
    table.add_column("flags", no_wrap=True)
    table.add_column("cost $", justify="right", no_wrap=True)
    for r in rows:
        status = markup_text(one_line(r.status))
        if r.status != "ok":
            status = f"[yellow]{status}[/yellow]"
        table.add_row(
            f"{markup_text(r.session_id[:8])}\n{r.created_at:%Y-%m-%d %H:%M}\n"
            f"{markup_text(one_line(r.tier))}\n{status}",
            "\n".join([f"[dim]{markup_text(one_line(r.prompt))}[/dim]", *map(_seat_line, r.seats)]),
            "\n".join(f"{n} {markup_text(one_line(kind))}" for kind, n in r.flag_counts.items()),
            f"{r.cost_usd:.5f}",
        )
    console.print(table)
    if len(rows) < total:
        console.print(
            f"showing {len(rows)} of {total}; --all for every session", style="dim", highlight=False
        )


def _seat_line(seat: SeatBrief) -> str:
    seat_id, requested = markup_text(one_line(seat.seat_id)), markup_text(seat.requested_model)
    if seat.status != "ok":
        return f"{seat_id} {one_line(requested)} [red]{markup_text(one_line(seat.status))}[/red]"
    model = one_line(requested)
    if seat.resolved_model and seat.resolved_model != seat.requested_model:
        model += f" → {markup_text(one_line(seat.resolved_model))}"
    if seat.duplicate_kind:
        kind = markup_text(one_line(seat.duplicate_kind))
        others = markup_text(one_line(", ".join(seat.duplicate_of)))
        model += f" [magenta]{kind}: {others}[/magenta]"
    return f"{seat_id} {model}"


def print_session(result: SessionResult) -> None:
    """``sessions show``: the header, the session as ``run`` shows it, then its routing."""
    console = Console(emoji=False)  # a model id like :fire: stays text
    _print_header(console, result)
    render_result(console, result)
    _print_routing(console, result)


def _print_header(console: Console, result: SessionResult) -> None:
    chairman = result.chairman
    outcome = markup_text(one_line(chairman.status))
    if chairman.status != "ok":
        outcome = f"[red]{outcome}[/red]"
    if chairman.error:
        outcome += f" ({markup_text(one_line(chairman.error))})"
    console.print(
        f"[bold]recorded[/bold] {result.created_at:%Y-%m-%d %H:%M:%S} UTC · gateway "
        f"{markup_text(result.gateway)} · duplicate policy {markup_text(result.duplicate_policy)}",
        highlight=False,
        emoji=False,
    )
    console.print(f"[bold]prompt[/bold] {markup_text(result.prompt)}", highlight=False, emoji=False)
    console.print(
        f"[bold]chairman[/bold] {markup_text(one_line(chairman.requested_model))} → "
        f"{markup_text(one_line(chairman.resolved_model or '—'))} · {outcome}",
        highlight=False,
        emoji=False,
    )


def _print_routing(console: Console, result: SessionResult) -> None:
    """How each seat's answer came (router or direct), and what the router did per call."""
    console.print(Text("routing", style="bold"))
    for seat in result.seats:
        console.print(plain(f"  {seat.seat_id} {_answered_via(seat)}"), highlight=False)
        for call in result.calls:
            if (
                call.seat_id == seat.seat_id
                and call.router
                and is_pareto_model(call.requested_model)
            ):
                for line in _router_lines(call):
                    console.print(plain(f"    {line}"), highlight=False)


def _answered_via(seat: SeatResult) -> str:
    if seat.status != "ok":
        return f"no answer ({one_line(seat.status)})"
    # Sessions recorded before ``answered_via`` existed: a reroute is the only direct way.
    via = seat.answered_via or ("direct" if seat.rerouted_from or not seat.is_pareto else "router")
    model = one_line(seat.resolved_model or "model not named")
    text = f"via the router → {model}" if via == "router" else f"direct: {model}"
    if seat.rerouted_from:
        text += f" (rerouted from {one_line(seat.rerouted_from)})"
    return text


def _router_lines(call: CallRecord) -> list[str]:
    router = call.router
    assert router is not None
    candidates = ", ".join(one_line(c.model) for c in router.candidates) or "none listed"
    selected = one_line(router.selected or call.resolved_model or "none marked")
    lines = [f"{call.stage}: {candidates} → {selected}"]
    failed = [f"{one_line(a.model or 'unknown model')} {a.status}" for a in router.failed_attempts]
    if failed:
        lines.append(f"{call.stage} fallbacks: {', '.join(failed)}")
    return lines
