"""Terminal rendering for a session: live per-seat progress and the final result.

Everything that came from outside (model ids, errors, notices, labels, the synthesis) reaches
Rich as ``Text`` built by :mod:`llm_council.textsafe`, never as markup: a model id such as
``[/x]evil`` must not raise, and an escape sequence in an answer must not drive the terminal.
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.live import Live
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from llm_council.council.plan import SessionPlan
from llm_council.council.result import SeatResult, SessionResult, Stage
from llm_council.textsafe import TerminalSafe, plain, terminal_text

_STAGES: tuple[Stage, ...] = ("answer", "review", "chairman")
_STYLE = {"ok": "green", "pending": "dim", "running": "yellow"}


class LiveProgress:
    """A ProgressListener drawing one row per seat (and the chairman) through the stages."""

    def __init__(self, console: Console, plan: SessionPlan) -> None:
        self._console = console
        self._rows: dict[str, dict[str, str]] = {
            s.seat_id: {"model": s.requested_model} for s in plan.seats
        }
        self._rows["chairman"] = {"model": plan.chairman}
        self._synthesis: list[str] = []  # the chairman's text as it streams in
        self._live = Live(self._table(), console=console, refresh_per_second=12, transient=False)

    def __enter__(self) -> LiveProgress:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        # The streamed synthesis gives way to the final rendering, which shows it whole.
        self._live.update(self._table())
        self._live.__exit__(None, None, None)

    def synthesis_delta(self, text: str) -> None:
        """Show the chairman's synthesis as it is written, below the table (the last lines)."""
        self._synthesis.append(text)
        self._live.update(self._view())

    def _view(self) -> Group | Table:
        if not self._synthesis:
            return self._table()
        lines = terminal_text("".join(self._synthesis)).splitlines()
        tail = "\n".join(lines[-max(3, self._console.height - len(self._rows) - 8) :])
        return Group(self._table(), Panel(Text(tail), title="synthesis (writing)"))

    def stage_started(self, stage: Stage, calls: int) -> None:
        for seat_id, row in self._rows.items():
            if (stage == "chairman") == (seat_id == "chairman") and row.get(stage) is None:
                row[stage] = "running"
        self._live.update(self._view())

    def call_finished(
        self, stage: Stage, seat_id: str, status: str, resolved_model: str | None, latency_ms: float
    ) -> None:
        if stage == "judge":
            return  # judges are not seats; their reviews show in the result
        row = self._rows.setdefault(seat_id, {"model": "?"})
        row["answer" if stage == "reroute" else stage] = f"{status} {latency_ms / 1000:.1f}s"
        if resolved_model and stage in ("answer", "reroute", "chairman"):
            row["resolved"] = resolved_model
        self._live.update(self._view())

    def _table(self) -> Table:
        table = Table(title="council session", expand=False)
        for column in ("seat", "requested → resolved", *_STAGES):
            table.add_column(column, overflow="fold")
        for seat_id, row in self._rows.items():
            model = row["model"] + (f" → {row['resolved']}" if row.get("resolved") else "")
            cells = [_cell(row.get(stage)) for stage in _STAGES]
            table.add_row(plain(seat_id), plain(model), *cells)
        return table


def _cell(value: str | None) -> Text:
    if value is None:
        return Text("·", style="dim")
    status = value.split(" ", 1)[0]
    return plain(value, style=_STYLE.get(status, "red"))


def render_result(console: Console, result: SessionResult) -> None:
    """Seats with requested → resolved model, flags, ranking, then the synthesis as Markdown."""
    table = Table(
        title=plain(
            f"session {result.session_id} · {result.tier} · {result.mode} · {result.status}"
        )
    )
    for column in (
        "seat",
        "requested → resolved",
        "status",
        "label",
        "borda",
        "votes",
        "cost $",
        "flags",
    ):
        table.add_column(column, overflow="fold")
    for seat in result.seats:
        table.add_row(
            plain(seat.seat_id),
            plain(_model_cell(seat)),
            plain(seat.status, style="" if seat.status == "ok" else "red"),
            plain(seat.label or ""),
            "" if seat.borda is None else f"{seat.borda:.2f}",
            str(seat.votes),
            "" if seat.cost_usd is None else f"{seat.cost_usd:.5f}",
            plain(
                seat.duplicate_kind
                or ("drift" if any(f.kind == "drift" for f in seat.flags) else "")
            ),
        )
    console.print(table)
    flagged = [seat for seat in result.seats if seat.flags]
    if flagged:
        console.print(Text("duplicate flags", style="bold magenta"))
        for seat in flagged:
            console.print(plain(f"  {seat.seat_id} ({seat.resolved_model}): {_flags_text(seat)}"))
    if result.ranking:
        order = "  ".join(
            f"{i}. {e.seat_id} ({e.borda:.2f}, {e.votes} votes)"
            for i, e in enumerate(result.ranking, 1)
        )
        console.print(Text.assemble(("ranking", "bold"), "  ", plain(order)))
    for note in result.notices:
        console.print(Text.assemble(("note:", "yellow"), " ", plain(note)))
    if result.verdict is not None:
        _print_verdict(console, result)
    if result.synthesis:
        title = "fallback (chairman failed)" if result.synthesis_is_fallback else "synthesis"
        # Cleaned before parsing (so the layout measures what is drawn) and guarded after:
        # Markdown decodes character references such as ``&#x202e;`` into real characters.
        synthesis = TerminalSafe(Markdown(terminal_text(result.synthesis)))
        console.print(Panel(synthesis, title=title))
    usage = result.usage
    console.print(
        plain(
            f"tokens {usage.prompt_tokens}+{usage.completion_tokens} · cost "
            f"${usage.cost_usd:.5f} · gateway {result.gateway}",
            style="dim",
        )
    )


def _model_cell(seat: SeatResult) -> str:
    score = f" @{seat.min_coding_score:g}" if seat.min_coding_score is not None else ""
    resolved = seat.resolved_model or "—"
    if seat.rerouted_from:
        resolved += f" (rerouted from {seat.rerouted_from})"
    return f"{seat.requested_model}{score} → {resolved}"


def _flags_text(seat: SeatResult) -> str:
    parts = []
    for flag in seat.flags:
        if flag.kind == "drift":
            parts.append(f"drift: its review ran on {flag.stage2_model}")
        else:
            model = f" ({flag.model})" if flag.model else ""
            parts.append(f"{flag.kind} with {flag.with_seat}{model}")
    return "; ".join(parts)


def _print_verdict(console: Console, result: SessionResult) -> None:
    """The chairman's verdict, naming seats with the concrete model that wrote each answer."""
    verdict = result.verdict
    assert verdict is not None
    models = {s.seat_id: s.resolved_model or s.requested_model for s in result.seats}

    def who(seat_id: str) -> str:
        return f"{seat_id} ({models.get(seat_id, '?')})"

    head = f"verdict · confidence {verdict.confidence or 'not given'}"
    if verdict.built_on:
        head += " · built on " + ", ".join(who(s) for s in verdict.built_on)
    console.print(plain(head, style="bold"))
    for point in verdict.consensus:
        console.print(Text.assemble("  agreed: ", plain(point)))
    for item in verdict.disagreements:
        sides = "; ".join(f"{who(s)}: {position}" for s, position in item.seats.items())
        console.print(
            Text.assemble("  disputed: ", plain(item.point + (f" — {sides}" if sides else "")))
        )
    for point in verdict.blind_spots:
        console.print(Text.assemble("  missed by all: ", plain(point)))
