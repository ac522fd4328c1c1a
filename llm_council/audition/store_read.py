"""Reading the audition store: session summaries, stored sessions and their calls.

Every query here works on any schema version from 1 on: a read-only store that is behind
this llm-council is read for what it has (``SchemaView`` says which tables and columns).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Column, Connection, func, inspect, select

from llm_council.audition import schema
from llm_council.audition.store_errors import AuditionStoreError
from llm_council.council.duplicates import seat_sort_key
from llm_council.council.result import CallRecord, SessionResult
from llm_council.gateway.router_metadata import RouterMetadata
from llm_council.timeutil import as_utc

_M = TypeVar("_M", bound=BaseModel)
TABLES = (
    "sessions",
    "seats",
    "flags",
    "calls",
    "router_candidates",
    "router_attempts",
    "reviews",
    "review_ranks",
    "attachments",
)
THREAD_LIMIT = 100  # ancestors followed, children listed: a thread is read by a person


@dataclass(frozen=True)
class SchemaView:
    """The schema version found and, when it is not the current one, what exists."""

    version: int
    columns: Mapping[str, frozenset[str]] | None = None  # None: every current table and column

    @classmethod
    def of(cls, conn: Connection, version: int) -> SchemaView:
        """Look at the database once: cheap, and only needed for a store that is behind."""
        if version == schema.SCHEMA_VERSION:
            return cls(version)
        found = inspect(conn)
        names = set(found.get_table_names())
        return cls(
            version,
            {
                table: frozenset(c["name"] for c in found.get_columns(table))
                for table in TABLES
                if table in names
            },
        )

    def has_table(self, table: str) -> bool:
        return self.columns is None or table in self.columns

    def has_column(self, table: str, column: str) -> bool:
        return self.columns is None or column in self.columns.get(table, frozenset())

    def present(self, table: str) -> list[Column[Any]]:
        """The columns of ``table`` (as this code defines them) that the database has."""
        return [c for c in getattr(schema, table).c if self.has_column(table, c.name)]


class SeatBrief(BaseModel):
    """What one seat asked for and what it really was."""

    seat_id: str
    requested_model: str
    resolved_model: str | None
    status: str
    duplicate_kind: str | None = None
    duplicate_of: list[str] = Field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.seat_id} {self.requested_model} → {self.resolved_model or self.status}"


class SessionSummary(BaseModel):
    """One entry of ``sessions list``."""

    session_id: str
    created_at: datetime
    tier: str
    mode: str
    status: str
    gateway: str
    prompt: str  # the first line, shortened
    seats: list[SeatBrief]
    flags: int  # all duplicate flags of the session
    flag_counts: dict[str, int]  # by kind: {"exact": 2, "drift": 1}
    cost_usd: float


def count_sessions(conn: Connection, view: SchemaView, tier: str | None) -> int:
    if not view.has_table("sessions"):
        return 0
    s = schema.sessions
    query = select(func.count()).select_from(s)
    if tier:
        query = query.where(s.c.tier == tier)
    return int(conn.execute(query).scalar() or 0)


def summaries(
    conn: Connection, view: SchemaView, last: int | None, tier: str | None
) -> list[SessionSummary]:
    """The ``last`` most recent sessions (all when None), newest first."""
    if not view.has_table("sessions"):
        return []
    s, st, fl = schema.sessions, schema.seats, schema.flags
    query = select(
        s.c.session_id,
        s.c.created_at,
        s.c.tier,
        s.c.mode,
        s.c.status,
        s.c.gateway,
        func.substr(s.c.prompt, 1, 200).label("prompt"),
        s.c.cost_usd,
    )
    if tier:
        query = query.where(s.c.tier == tier)
    query = query.order_by(s.c.created_at.desc(), s.c.session_id)
    if last is not None:
        query = query.limit(max(last, 0))
    heads = conn.execute(query).mappings().all()
    ids = [h["session_id"] for h in heads]
    seats_of: dict[str, list[Any]] = {}
    flags_of: dict[str, dict[str, int]] = {}
    # Chunks keep the IN list under every backend's parameter limit, even with --all.
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        if view.has_table("seats"):
            for row in conn.execute(
                select(
                    st.c.session_id,
                    st.c.seat_id,
                    st.c.requested_model,
                    st.c.resolved_model,
                    st.c.status,
                    st.c.duplicate_kind,
                    st.c.duplicate_of,
                ).where(st.c.session_id.in_(chunk))
            ).mappings():
                seats_of.setdefault(row["session_id"], []).append(row)
        if view.has_table("flags"):
            for session_id, kind, count in conn.execute(
                select(fl.c.session_id, fl.c.kind, func.count())
                .where(fl.c.session_id.in_(chunk))
                .group_by(fl.c.session_id, fl.c.kind)
            ):
                flags_of.setdefault(session_id, {})[kind] = int(count)
    out = []
    for h in heads:
        kinds = dict(sorted(flags_of.get(h["session_id"], {}).items()))
        seats = sorted(seats_of.get(h["session_id"], []), key=lambda r: seat_sort_key(r["seat_id"]))
        out.append(
            SessionSummary(
                session_id=h["session_id"],
                created_at=as_utc(h["created_at"]),
                tier=h["tier"],
                mode=h["mode"],
                status=h["status"],
                gateway=h["gateway"],
                prompt=_first_line(h["prompt"] or ""),
                seats=[
                    SeatBrief(
                        seat_id=r["seat_id"],
                        requested_model=r["requested_model"],
                        resolved_model=r["resolved_model"],
                        status=r["status"],
                        duplicate_kind=r["duplicate_kind"],
                        duplicate_of=r["duplicate_of"].split(",") if r["duplicate_of"] else [],
                    )
                    for r in seats
                ],
                flags=sum(kinds.values()),
                flag_counts=kinds,
                cost_usd=float(h["cost_usd"]),
            )
        )
    return out


class ThreadEntry(BaseModel):
    """One session of a follow-up thread, as one line shows it."""

    session_id: str
    created_at: datetime
    tier: str
    status: str
    prompt: str  # the first line, shortened


class Thread(BaseModel):
    """The follow-ups around one session: ``ancestors`` from the first question down to the
    parent, ``children`` (direct follow-ups) oldest first. ``missing_parent`` names an
    ancestor the store does not hold (the chain stops there)."""

    ancestors: list[ThreadEntry] = Field(default_factory=list)
    children: list[ThreadEntry] = Field(default_factory=list)
    missing_parent: str | None = None


def thread(conn: Connection, view: SchemaView, session_id: str) -> Thread:
    """The thread around ``session_id`` (an exact id); empty before schema version 3."""
    if not view.has_column("sessions", "parent_session_id"):
        return Thread()
    s = schema.sessions
    columns = (
        s.c.session_id,
        s.c.created_at,
        s.c.tier,
        s.c.status,
        func.substr(s.c.prompt, 1, 200).label("prompt"),
        s.c.parent_session_id,
    )

    def entry(row: Mapping[str, Any]) -> ThreadEntry:
        return ThreadEntry(
            session_id=row["session_id"],
            created_at=as_utc(row["created_at"]),
            tier=row["tier"],
            status=row["status"],
            prompt=_first_line(row["prompt"] or ""),
        )

    ancestors: list[ThreadEntry] = []
    seen = {session_id}
    missing = None
    parent = conn.execute(
        select(s.c.parent_session_id).where(s.c.session_id == session_id)
    ).scalar()
    # Each step is one primary-key lookup; ``seen`` guards against a cycle in bad data.
    while parent and parent not in seen and len(ancestors) < THREAD_LIMIT:
        row = conn.execute(select(*columns).where(s.c.session_id == parent)).mappings().first()
        if row is None:
            missing = parent
            break
        ancestors.append(entry(row))
        seen.add(parent)
        parent = row["parent_session_id"]
    children = conn.execute(
        select(*columns)
        .where(s.c.parent_session_id == session_id)
        .order_by(s.c.created_at, s.c.session_id)
        .limit(THREAD_LIMIT)
    ).mappings()
    return Thread(
        ancestors=ancestors[::-1],
        children=[entry(row) for row in children],
        missing_parent=missing,
    )


def find_session(conn: Connection, view: SchemaView, wanted: str) -> list[tuple[str, str]]:
    """``(session_id, result_json)`` of the session ``wanted`` names exactly, else of up to
    five whose id starts with it (case-sensitively, on every backend)."""
    if not view.has_table("sessions"):
        return []
    s = schema.sessions
    exact = conn.execute(
        select(s.c.session_id, s.c.result_json).where(s.c.session_id == wanted)
    ).first()
    if exact is not None:
        return [(exact[0], exact[1])]
    pattern = re.sub(r"([\\%_])", r"\\\1", wanted) + "%"
    rows = conn.execute(
        select(s.c.session_id, s.c.result_json)
        .where(s.c.session_id.like(pattern, escape="\\"))
        .order_by(s.c.session_id)
        .limit(5)
    ).all()
    # SQLite's LIKE ignores case; keep prefix matching case-sensitive on every backend.
    return [(r[0], r[1]) for r in rows if r[0].startswith(wanted)]


def session_result(session_id: str, result_json: str) -> SessionResult:
    try:
        return _from_json(SessionResult, result_json)
    except ValidationError as exc:
        raise AuditionStoreError(
            f"stored session {session_id} cannot be read: {_first_error(exc)}"
        ) from None


def calls(conn: Connection, view: SchemaView, session_id: str) -> list[CallRecord]:
    """The session's gateway calls in the order they were recorded (``seq``)."""
    if not view.has_table("calls"):
        return []
    ca = schema.calls
    rows = conn.execute(
        select(*view.present("calls")).where(ca.c.session_id == session_id).order_by(ca.c.seq)
    ).mappings()
    out = []
    for row in rows:
        try:
            router_json = row.get("router_json")
            out.append(
                CallRecord(
                    stage=row["stage"],
                    seat_id=row["seat_id"],
                    requested_model=row["requested_model"],
                    resolved_model=row["resolved_model"],
                    min_coding_score=row["min_coding_score"],
                    variant=row["variant"],
                    generation_id=row["generation_id"],
                    status=row["status"],
                    error=row["error"],
                    started_at=as_utc(row["started_at"]),
                    latency_ms=row["latency_ms"],
                    prompt_tokens=row["prompt_tokens"],
                    completion_tokens=row["completion_tokens"],
                    cost_usd=row["cost_usd"],
                    cost_estimated=bool(row["cost_estimated"]),
                    attempts=row["attempts"],
                    provider=row.get("provider"),
                    router=_from_json(RouterMetadata, router_json) if router_json else None,
                )
            )
        except ValidationError as exc:
            raise AuditionStoreError(
                f"stored call {row['seq']} of session {session_id} cannot be read: "
                f"{_first_error(exc)}"
            ) from None
    return out


class StoredReview(BaseModel):
    """One stage 2 review as the ``reviews`` table keeps it (see ``schema.reviews``)."""

    session_id: str
    reviewer: str  # a seat id, or "judge1".. for an independent judge
    tier: str
    judge: bool
    requested_model: str | None
    resolved_model: str | None
    status: str
    abstained: bool
    parse: str
    shown_first: str | None  # the seat whose answer was shown first
    top_choice: str | None  # the seat ranked best (counted votes only)
    candidates: int  # how many answers were shown
    order: list[str]  # seat ids in the order shown, first first
    ranking: list[str]  # seat ids best first, counted votes only

    @property
    def chose_first_shown(self) -> bool | None:
        """Whether the top choice was the answer shown first; None without a counted vote."""
        if self.top_choice is None or self.shown_first is None:
            return None
        return self.top_choice == self.shown_first


def reviews_for(
    conn: Connection, view: SchemaView, session_ids: Sequence[str]
) -> dict[str, list[StoredReview]]:
    """The stored reviews of each of ``session_ids``, in the session's own order.

    Sessions without reviews (none given, or stored before schema version 2) are absent.
    """
    if not view.has_table("reviews"):
        return {}
    rv = schema.reviews
    out: dict[str, list[StoredReview]] = {}
    ids = list(dict.fromkeys(session_ids))
    # Chunks keep the IN list under every backend's parameter limit.
    for start in range(0, len(ids), 500):
        query = (
            select(rv)
            .where(rv.c.session_id.in_(ids[start : start + 500]))
            .order_by(rv.c.session_id, rv.c.seq)
        )
        for row in conn.execute(query).mappings():
            out.setdefault(row["session_id"], []).append(
                StoredReview(
                    session_id=row["session_id"],
                    reviewer=row["reviewer"],
                    tier=row["tier"],
                    judge=bool(row["judge"]),
                    requested_model=row["requested_model"],
                    resolved_model=row["resolved_model"],
                    status=row["status"],
                    abstained=bool(row["abstained"]),
                    parse=row["parse"],
                    shown_first=row["shown_first"],
                    top_choice=row["top_choice"],
                    candidates=row["candidates"],
                    order=json.loads(row["order_json"]),
                    ranking=json.loads(row["ranking_json"]),
                )
            )
    return out


def _from_json(model: type[_M], text: str) -> _M:
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        # pydantic's JSON parser refuses the "\\ud800" escapes rows.model_json writes for
        # unpaired surrogates; Python's json module reads them back exactly.
        try:
            data = json.loads(text)
        except ValueError:
            raise exc from None
        return model.model_validate(data)


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "value"
    return f"{where}: {first.get('msg', 'invalid')}"


def _first_line(text: str, width: int = 80) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"
