"""How ``sessions list`` and ``sessions show`` look on a terminal.

Model ids, prompts and provider text are outside text: shown through ``textsafe`` (via
``layout``) so they are never parsed as markup and controls are escaped. Tables and lines
follow :mod:`llm_council.layout`: ids whole, narrower terminals get merged columns.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from llm_council.audition.store import SeatBrief, SessionSummary
from llm_council.cli.render import render_result
from llm_council.council.result import CallRecord, SeatResult, SessionResult
from llm_council.layout import (
    Column,
    Para,
    cell,
    fitted_table,
    make_console,
    print_wrapped,
    seat_model,
)
from llm_council.pareto import is_pareto_model
from llm_council.textsafe import one_line, plain


def say_notices(notices: list[str]) -> None:
    """The store's notices (e.g. a newer schema) on stderr."""
    err = Console(stderr=True, soft_wrap=True)
    for notice in notices:
        err.print(Text.assemble(("note:", "yellow"), " ", plain(notice)), highlight=False)


def print_session_list(
    rows: list[SessionSummary], total: int, where: str, console: Console | None = None
) -> None:
    """``sessions list``: one row per session, one line per seat, newest first."""
    console = console or make_console()
    if not rows:
        print_wrapped(console, f"no sessions recorded in {where}")
        return
    console.print(
        fitted_table(
            console, session_list_layouts(rows), title=f"sessions in {where}", show_lines=True
        )
    )
    if len(rows) < total:
        print_wrapped(
            console, f"showing {len(rows)} of {total}; --all for every session", style="dim"
        )


def session_list_layouts(rows: list[SessionSummary]) -> list[list[Column]]:
    """Widest first. As it narrows, the time goes under the date, then the cost goes (a
    session's cost is in ``sessions show``); session, seats and flags always stay."""

    def session(r: SessionSummary, stacked: bool) -> list[Para]:
        when = [f"{r.created_at:%Y-%m-%d}", f"{r.created_at:%H:%M}"]
        return [
            (r.session_id[:8], "bold"),
            *[(w, "") for w in (when if stacked else [" ".join(when)])],
            (r.tier, ""),
            (r.status, "" if r.status == "ok" else "yellow"),
        ]

    wide = Column("session", [session(r, False) for r in rows])
    narrow = Column("session", [session(r, True) for r in rows])
    seats = [[(r.prompt, "dim"), *map(_seat_line, r.seats)] for r in rows]
    flags = Column(
        "flags", [[(f"{n} {kind}", "magenta") for kind, n in r.flag_counts.items()] for r in rows]
    )
    cost = Column("cost $", [cell(f"{r.cost_usd:.5f}") for r in rows], justify="right")
    header = "prompt · seats (requested → resolved)"
    return [
        [wide, Column(header, seats, wrap=True, want="line"), flags, cost],
        [narrow, Column(header, seats, wrap=True), flags, cost],
        [narrow, Column(header, seats, wrap=True), flags],
    ]  # fmt: skip


def _seat_line(seat: SeatBrief) -> Para:
    """``s4 pareto → openai/gpt-5.4-mini exact: s1``. The list does not carry a seat's
    min_coding_score, so a Pareto seat reads ``pareto`` here (``sessions show`` has it)."""
    if seat.status != "ok":
        return (
            f"{seat.seat_id} {seat_model(seat.requested_model, None, None, failed=seat.status)}",
            "red",
        )
    resolved = seat.resolved_model or None
    text = f"{seat.seat_id} {seat_model(seat.requested_model, None, resolved)}"
    if seat.duplicate_kind:
        return (f"{text} {seat.duplicate_kind}: {', '.join(seat.duplicate_of)}", "magenta")
    return (text, "")


def print_session(result: SessionResult, console: Console | None = None) -> None:
    """``sessions show``: the header, the session as ``run`` shows it, then its routing."""
    console = console or make_console()
    _print_header(console, result)
    render_result(console, result)
    _print_routing(console, result)


def _print_header(console: Console, result: SessionResult) -> None:
    chairman = result.chairman
    outcome = chairman.status + (f" ({chairman.error})" if chairman.error else "")
    print_wrapped(
        console,
        f"{result.created_at:%Y-%m-%d %H:%M:%S} UTC · gateway {result.gateway} · duplicate "
        f"policy {result.duplicate_policy}",
        lead="recorded ",
        lead_style="bold",
    )
    lines = result.prompt.splitlines() or [""]
    print_wrapped(console, lines[0], lead="prompt ", lead_style="bold")
    for line in lines[1:]:  # the prompt as written, line by line, each wrapped
        print_wrapped(console, line, lead="  ", hang=0)
    for item in result.attachments:  # what was attached; the store never kept the content
        print_wrapped(
            console,
            f"{item.kind} {one_line(item.name)} · {item.size:,} bytes · sha256 {item.sha256[:12]}",
            lead="attached ",
            lead_style="bold",
        )
    print_wrapped(
        console,
        f"{chairman.requested_model} → {chairman.resolved_model or '—'} · {outcome}",
        lead="chairman ",
        lead_style="bold",
    )


def _print_routing(console: Console, result: SessionResult) -> None:
    """How each seat's answer came (router or direct), and what the router did per call."""
    console.print(Text("routing", style="bold"))
    for seat in result.seats:
        print_wrapped(console, f"{seat.seat_id} {_answered_via(seat)}", lead="  ", hang=4)
        for call in result.calls:
            if (
                call.seat_id == seat.seat_id
                and call.router
                and is_pareto_model(call.requested_model)
            ):
                for line in _router_lines(call):
                    print_wrapped(console, line, lead="    ", hang=4)


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
