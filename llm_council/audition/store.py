"""The audition store: SQLAlchemy Core over SQLite (default) or PostgreSQL."""

from __future__ import annotations

import math
import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, create_engine, event, func, insert, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from llm_council.audition import schema
from llm_council.config import CouncilConfig
from llm_council.council.result import SessionResult
from llm_council.pareto import is_pareto_model
from llm_council.paths import user_data_dir
from llm_council.registry import Registry

_PG_MIGRATION_LOCK = 727_043  # advisory lock id: one migrating process at a time


class AuditionStoreError(Exception):
    """A store operation failed; the message says what and where (never a password)."""


class SessionSummary(BaseModel):
    session_id: str
    created_at: datetime
    tier: str
    mode: str
    status: str
    gateway: str
    seats: list[str]  # "s3 openrouter/pareto-code → openai/gpt-5.4-mini"
    flags: int
    cost_usd: float


def default_store_url() -> str:
    return f"sqlite:///{user_data_dir() / 'audition.db'}"


def open_store(config: CouncilConfig) -> AuditionStore:
    """The store named by ``audition.url`` / ``LLM_COUNCIL_AUDITION_URL``, else the default."""
    return AuditionStore(config.audition.url or default_store_url())


class AuditionStore:
    """Durable record of sessions, seats, flags and every gateway call."""

    def __init__(self, url: str) -> None:
        try:
            self._url = make_url(url)
        except Exception as exc:  # sqlalchemy raises ArgumentError and friends
            raise AuditionStoreError(f"invalid audition store URL: {exc}") from None
        self.url_for_humans = self._url.render_as_string(hide_password=True)
        self._engine: Engine | None = None
        self._ready = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AuditionStore({self.url_for_humans!r})"

    @property
    def is_sqlite(self) -> bool:
        return self._url.get_backend_name() == "sqlite"

    # -- connection and schema ------------------------------------------------------------

    def engine(self) -> Engine:
        """The engine, with the schema migrated to the current version (once per store)."""
        with self._lock:
            if self._engine is None:
                self._engine = self._create_engine()
            if not self._ready:
                self._migrate(self._engine)
                self._ready = True
            return self._engine

    def _create_engine(self) -> Engine:
        if not self.is_sqlite:
            return create_engine(self._url, pool_pre_ping=True)
        database = self._url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            from pathlib import Path

            try:
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise AuditionStoreError(
                    f"cannot create the directory for {self.url_for_humans}: {exc.strerror}"
                ) from None
        engine = create_engine(self._url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE: writers queue on the
            # database lock instead of failing later with "database is locked".
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            if self._url.query.get("mode") != "ro":
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    def _migrate(self, engine: Engine) -> None:
        try:
            with engine.begin() as conn:
                if engine.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
                schema.metadata.create_all(conn, tables=[schema.schema_version])
                current = conn.execute(select(func.max(schema.schema_version.c.version))).scalar()
                current = current or 0
                if current > schema.SCHEMA_VERSION:
                    raise AuditionStoreError(
                        f"{self.url_for_humans} has schema version {current}, newer than this "
                        f"llm-council understands ({schema.SCHEMA_VERSION}); upgrade llm-council"
                    )
                for version, _description, step in schema.MIGRATIONS:
                    if version > current:
                        step(conn)
                        conn.execute(
                            insert(schema.schema_version).values(
                                version=version, applied_at=datetime.now(UTC)
                            )
                        )
        except SQLAlchemyError as exc:
            raise AuditionStoreError(
                f"cannot open the audition store at {self.url_for_humans}: {_cause(exc)}"
            ) from None

    def schema_version(self) -> int:
        with self.engine().connect() as conn:
            return int(
                conn.execute(select(func.max(schema.schema_version.c.version))).scalar() or 0
            )

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._ready = False

    # -- writing ------------------------------------------------------------------------

    def write_session(self, result: SessionResult, registry: Registry) -> bool:
        """Write one session (session, seats, flags, calls) in one transaction.

        Returns False when the session was already stored: writing twice is a no-op.
        """
        rows = _session_rows(result, registry)
        try:
            with self.engine().begin() as conn:
                exists = conn.execute(
                    select(schema.sessions.c.session_id).where(
                        schema.sessions.c.session_id == result.session_id
                    )
                ).first()
                if exists:
                    return False
                conn.execute(insert(schema.sessions), [rows["session"]])
                for table in ("seats", "flags", "calls"):
                    if rows[table]:
                        conn.execute(insert(getattr(schema, table)), rows[table])
            return True
        except IntegrityError:
            return False  # another process wrote the same session first
        except AuditionStoreError:
            raise
        except SQLAlchemyError as exc:
            raise AuditionStoreError(
                f"cannot write session {result.session_id} to {self.url_for_humans}: {_cause(exc)}"
            ) from None

    # -- reading ------------------------------------------------------------------------

    def list_sessions(self, last: int = 20, tier: str | None = None) -> list[SessionSummary]:
        s, st = schema.sessions, schema.seats
        query = select(s).order_by(s.c.created_at.desc(), s.c.session_id).limit(last)
        if tier:
            query = query.where(s.c.tier == tier)
        try:
            with self.engine().connect() as conn:
                heads = conn.execute(query).mappings().all()
                ids = [h["session_id"] for h in heads]
                seat_rows = (
                    conn.execute(
                        select(st).where(st.c.session_id.in_(ids)).order_by(st.c.session_id)
                    )
                    .mappings()
                    .all()
                    if ids
                    else []
                )
                flag_counts = (
                    dict(
                        conn.execute(
                            select(schema.flags.c.session_id, func.count())
                            .where(schema.flags.c.session_id.in_(ids))
                            .group_by(schema.flags.c.session_id)
                        ).all()
                    )
                    if ids
                    else {}
                )
        except SQLAlchemyError as exc:
            raise AuditionStoreError(f"cannot read {self.url_for_humans}: {_cause(exc)}") from None
        by_session: dict[str, list[Any]] = {}
        for row in seat_rows:
            by_session.setdefault(row["session_id"], []).append(row)
        return [
            SessionSummary(
                session_id=h["session_id"],
                created_at=_utc(h["created_at"]),
                tier=h["tier"],
                mode=h["mode"],
                status=h["status"],
                gateway=h["gateway"],
                seats=[
                    f"{r['seat_id']} {r['requested_model']} → {r['resolved_model'] or r['status']}"
                    for r in sorted(
                        by_session.get(h["session_id"], []), key=lambda r: _seat_key(r["seat_id"])
                    )
                ],
                flags=int(flag_counts.get(h["session_id"], 0)),
                cost_usd=float(h["cost_usd"]),
            )
            for h in heads
        ]

    def get_session(self, session_id: str) -> SessionResult:
        """A stored session by full id or unique prefix."""
        s = schema.sessions
        if not session_id or any(c in session_id for c in "%_\\"):
            raise AuditionStoreError(f"not a session id: {session_id!r}")
        try:
            with self.engine().connect() as conn:
                rows = conn.execute(
                    select(s.c.session_id, s.c.result_json)
                    .where(s.c.session_id.like(f"{session_id}%"))
                    .limit(2)
                ).all()
        except SQLAlchemyError as exc:
            raise AuditionStoreError(f"cannot read {self.url_for_humans}: {_cause(exc)}") from None
        if not rows:
            raise KeyError(f"no session {session_id!r} in {self.url_for_humans}")
        if len(rows) > 1:
            raise KeyError(f"{session_id!r} matches several sessions; give more of the id")
        return SessionResult.model_validate_json(rows[0][1])

    def counts(self) -> dict[str, int]:
        with self.engine().connect() as conn:
            return {
                name: int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)
                for name, table in (
                    ("sessions", schema.sessions),
                    ("seats", schema.seats),
                    ("flags", schema.flags),
                    ("calls", schema.calls),
                )
            }

    def table_names(self) -> list[str]:
        return sorted(inspect(self.engine()).get_table_names())


def _session_rows(result: SessionResult, registry: Registry) -> dict[str, Any]:
    answered = [s for s in result.seats if s.status == "ok" and s.resolved_model]
    providers = Counter(registry.provider_of(s.resolved_model or "") for s in answered)
    pareto_kinds = {f.kind for s in result.seats if s.is_pareto for f in s.flags}
    first = result.ranking[0].seat_id if result.ranking else None
    created = _utc(result.created_at)
    session = {
        "session_id": result.session_id,
        "created_at": created,
        "day": created.strftime("%Y-%m-%d"),
        "tier": result.tier,
        "mode": result.mode,
        "status": result.status,
        "gateway": result.gateway,
        "prompt": result.prompt,
        "chairman_model": result.chairman.requested_model,
        "chairman_resolved": result.chairman.resolved_model,
        "chairman_status": result.chairman.status,
        "chairman_error": result.chairman.error,
        "synthesis_is_fallback": result.synthesis_is_fallback,
        "duplicate_policy": result.duplicate_policy,
        "config_hash": result.config_hash,
        "prompt_tokens": result.usage.prompt_tokens,
        "completion_tokens": result.usage.completion_tokens,
        "cost_usd": result.usage.cost_usd,
        "distinct_models": len({s.resolved_model for s in answered}),
        "provider_entropy": normalised_entropy(list(providers.values()), len(answered)),
        "pareto_seats": sum(1 for s in result.seats if s.is_pareto),
        "pareto_exact": "exact" in pareto_kinds,
        "pareto_family": "family" in pareto_kinds,
        "pareto_drift": "drift" in pareto_kinds,
        "result_json": result.model_dump_json(),
    }
    seats = [
        {
            "session_id": result.session_id,
            "seat_id": s.seat_id,
            "requested_model": s.requested_model,
            "is_pareto": s.is_pareto,
            "variant": s.variant,
            "min_coding_score": s.min_coding_score,
            "resolved_model": s.resolved_model,
            "provider": registry.provider_of(s.resolved_model) if s.resolved_model else None,
            "family": registry.family_of(s.resolved_model) if s.resolved_model else None,
            "status": s.status,
            "error": s.error,
            "latency_ms": s.latency_ms,
            "cost_usd": s.cost_usd,
            "label": s.label,
            "borda": s.borda,
            "votes": s.votes,
            "is_first": s.seat_id == first,
            "duplicate_kind": s.duplicate_kind,
            "duplicate_of": ",".join(s.duplicate_of) or None,
            "rerouted_from": s.rerouted_from,
        }
        for s in result.seats
    ]
    flags = [
        {
            "session_id": result.session_id,
            "seat_id": s.seat_id,
            "kind": f.kind,
            "with_seat": f.with_seat,
            "model": f.model,
            "stage2_model": f.stage2_model,
        }
        for s in result.seats
        for f in s.flags
    ]
    calls = []
    for seq, c in enumerate(result.calls):
        cost, estimated = c.cost_usd, c.cost_estimated
        if cost is None and c.resolved_model:
            cost = registry.estimate_cost(c.resolved_model, c.prompt_tokens, c.completion_tokens)
            estimated = cost is not None
        calls.append(
            {
                "session_id": result.session_id,
                "seq": seq,
                "tier": result.tier,
                "stage": c.stage,
                "seat_id": c.seat_id,
                "requested_model": c.requested_model,
                "is_pareto": is_pareto_model(c.requested_model),
                "resolved_model": c.resolved_model,
                "min_coding_score": c.min_coding_score,
                "variant": c.variant,
                "generation_id": c.generation_id,
                "status": c.status,
                "error": c.error,
                "started_at": _utc(c.started_at),
                "latency_ms": c.latency_ms,
                "prompt_tokens": c.prompt_tokens,
                "completion_tokens": c.completion_tokens,
                "cost_usd": cost,
                "cost_estimated": estimated,
                "attempts": c.attempts,
            }
        )
    return {"session": session, "seats": seats, "flags": flags, "calls": calls}


def normalised_entropy(counts: list[int], n: int) -> float:
    """Shannon entropy of ``counts`` divided by its maximum for ``n`` items (0 when n < 2)."""
    if n < 2:
        return 0.0
    total = sum(counts)
    h = -sum((c / total) * math.log(c / total) for c in counts if c)
    return round(h / math.log(n), 6)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _seat_key(seat_id: str) -> tuple[int, str]:
    digits = seat_id.lstrip("s")
    return (int(digits), seat_id) if digits.isdigit() else (1 << 30, seat_id)


def _cause(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig or exc).splitlines()[0]
