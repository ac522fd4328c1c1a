"""Terminal rendering for a session: live per-seat progress and the final result.

Everything that came from outside (model ids, errors, notices, labels, the synthesis) reaches
Rich as ``Text`` built by :mod:`llm_council.textsafe`, never as markup: a model id such as
``[/x]evil`` must not raise, and an escape sequence in an answer must not drive the terminal.
Tables and prose follow :mod:`llm_council.layout`: model ids are never split inside a
token, and narrow terminals get merged columns instead of folded ids.
"""

from __future__ import annotations

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from llm_council.cli.explain import flag_sentences
from llm_council.council.plan import SessionPlan
from llm_council.council.result import SeatResult, SessionResult, Stage
from llm_council.layout import (
    NBSP,
    Column,
    cell,
    fitted_table,
    is_plain,
    print_wrapped,
    seat_model,
    seat_name,
)
from llm_council.textsafe import TerminalSafe, terminal_text

_STAGES: tuple[Stage, ...] = ("answer", "review", "chairman")
_STYLE = {"ok": "green", "pending": "dim", "running": "yellow", "skipped": "dim"}


class LiveProgress:
    """A ProgressListener drawing one row per seat (and the chairman) through the stages."""

    def __init__(self, console: Console, plan: SessionPlan) -> None:
        self._console = console
        self._rows: dict[str, dict[str, str]] = {
            s.seat_id: {"model": seat_name(s.requested_model, s.min_coding_score)}
            for s in plan.seats
        }
        self._rows["chairman"] = {"model": plan.chairman}
        self._synthesis: list[str] = []  # the chairman's text as it streams in
        self._live = Live(self._table(), console=console, refresh_per_second=12, transient=False)

    def __enter__(self) -> LiveProgress:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        # A call never made (a duplicate not asked to review its twin) or cut short must
        # not stay "running" in the table left on screen.
        for row in self._rows.values():
            for stage in _STAGES:
                if row.get(stage) == "running":
                    row[stage] = "skipped"
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
        rows = list(self._rows.items())
        seats = Column("seat", [cell(seat_id) for seat_id, _ in rows])
        models = [cell(_live_model(row)) for _, row in rows]
        stages = [
            Column(stage, [_stage_cell(row.get(stage)) for _, row in rows]) for stage in _STAGES
        ]
        merged = Column(
            "answer · review · chairman",
            [[_stage_para(s, row.get(s)) for s in _STAGES] for _, row in rows],
            wrap=True,
        )
        layouts = [
            [seats, Column("requested → resolved", models, wrap=True, want="line"), *stages],
            [seats, Column("requested → resolved", models, wrap=True), *stages],
            [seats, Column("requested → resolved", models, wrap=True), merged],
        ]
        return fitted_table(self._console, layouts, title="council session")


def _live_model(row: dict[str, str]) -> str:
    resolved = row.get("resolved")
    return (
        row["model"] if not resolved or resolved == row["model"] else f"{row['model']} → {resolved}"
    )


def _stage_cell(value: str | None) -> list[tuple[str, str]]:
    if value is None:
        return cell("·", "dim")
    return cell(value, _STYLE.get(value.split(" ", 1)[0], "red"))


def _stage_para(stage: str, value: str | None) -> tuple[str, str]:
    if value is None:
        return (f"{stage} ·", "dim")
    return (f"{stage} {value}", _STYLE.get(value.split(" ", 1)[0], "red"))


def render_result(console: Console, result: SessionResult) -> None:
    """Seats with requested → resolved model, flags in plain words with what the duplicate
    policy did, ranking, notes, verdict, then the synthesis as Markdown."""
    title = f"session {result.session_id} · {result.tier} · {result.mode} · {result.status}"
    console.print(fitted_table(console, session_layouts(result), title=title))
    sentences = flag_sentences(result)
    if sentences:
        console.print(Text("duplicate flags", style="bold magenta"), soft_wrap=True)
        for sentence in sentences:
            print_wrapped(console, sentence, lead="  ", hang=4)
    if result.ranking:
        order = " · ".join(  # one entry never breaks across lines
            f"{i}. {e.seat_id} ({e.borda:.2f}, {e.votes} vote{'' if e.votes == 1 else 's'})".replace(
                " ", NBSP
            )
            for i, e in enumerate(result.ranking, 1)
        )
        print_wrapped(console, order, lead="ranking ", lead_style="bold", hang=8)
    for note in result.notices:
        print_wrapped(console, note, lead="note: ", lead_style="yellow", hang=6)
    if result.verdict is not None:
        _print_verdict(console, result)
    if result.synthesis:
        title = "fallback (chairman failed)" if result.synthesis_is_fallback else "synthesis"
        # Cleaned before parsing (so the layout measures what is drawn) and guarded after:
        # Markdown decodes character references such as ``&#x202e;`` into real characters.
        synthesis = TerminalSafe(Markdown(terminal_text(result.synthesis)))
        frame = box.ASCII if is_plain(console) else box.ROUNDED
        console.print(Panel(synthesis, title=title, box=frame))
    usage = result.usage
    print_wrapped(
        console,
        f"tokens {usage.prompt_tokens}+{usage.completion_tokens} · cost "
        f"${usage.cost_usd:.5f} · gateway {result.gateway}",
        style="dim",
    )


def session_layouts(result: SessionResult) -> list[list[Column]]:
    """The session table from widest to narrowest. Priority as it narrows: the label joins
    the seat id, a failed seat's status takes the place of its resolved model, votes join
    Borda; then the per-seat cost goes (the total is printed below) so that each seat's
    models stay on one line; then models may wrap at ``→`` and ``/``; then Borda goes (the
    ranking line below has it). Seat, model and flags always stay."""
    seats = result.seats
    ok = [s.status == "ok" for s in seats]
    seat_ids = Column("seat", [cell(s.seat_id) for s in seats])
    seat_labels = Column("seat", [cell(_seat_label(s)) for s in seats])
    full = [
        cell(
            seat_model(
                s.requested_model, s.min_coding_score, s.resolved_model,
                rerouted_from=s.rerouted_from,
            )
        )
        for s in seats
    ]  # fmt: skip
    merged = [
        cell(
            seat_model(
                s.requested_model, s.min_coding_score, s.resolved_model,
                failed=None if good else s.status, rerouted_from=s.rerouted_from,
            ),
            "" if good else "red",
        )
        for s, good in zip(seats, ok, strict=True)
    ]  # fmt: skip
    status = Column(
        "status", [cell(s.status, "" if good else "red") for s, good in zip(seats, ok, strict=True)]
    )
    label = Column("label", [cell(s.label or "") for s in seats])
    borda = Column("borda", [cell(_num(s.borda, ".2f")) for s in seats], justify="right")
    votes = Column("votes", [cell(str(s.votes)) for s in seats], justify="right")
    borda_votes = Column(
        "borda (n)",
        [cell("" if s.borda is None else f"{s.borda:.2f} ({s.votes})") for s in seats],
        justify="right",
    )
    cost = Column("cost $", [cell(_num(s.cost_usd, ".5f")) for s in seats], justify="right")
    flags = [cell(_flag_cell(s), "magenta") for s in seats]
    model = "requested → resolved"
    line, word = Column(model, merged, wrap=True, want="line"), Column(model, merged, wrap=True)
    flags_line = Column("flags", flags, wrap=True, want="line")
    return [
        [
            seat_ids, Column(model, full, wrap=True, want="line"), status, label, borda, votes,
            cost, flags_line,
        ],
        [seat_labels, line, borda_votes, cost, flags_line],
        [seat_labels, line, borda_votes, flags_line],
        [seat_labels, word, borda_votes, Column("flags", flags, wrap=True)],
        [seat_labels, word, Column("flags", flags, wrap=True)],
    ]  # fmt: skip


def _seat_label(seat: SeatResult) -> str:
    letter = (seat.label or "").removeprefix("Response ")
    return f"{seat.seat_id} ({letter})" if letter else seat.seat_id


def _num(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def _flag_cell(seat: SeatResult) -> str:
    parts = []
    for flag in seat.flags:
        if flag.kind in ("exact", "family"):
            parts.append(f"{flag.kind} with {flag.with_seat}")
        else:
            parts.append(flag.kind)
    return ", ".join(parts)


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
    print_wrapped(console, head, style="bold")
    for point in verdict.consensus:
        print_wrapped(console, point, lead="  agreed: ", hang=4)
    for item in verdict.disagreements:
        sides = "; ".join(f"{who(s)}: {position}" for s, position in item.seats.items())
        print_wrapped(
            console, item.point + (f" — {sides}" if sides else ""), lead="  disputed: ", hang=4
        )
    for point in verdict.blind_spots:
        print_wrapped(console, point, lead="  missed by all: ", hang=4)
