"""The audition store: SQLAlchemy Core over SQLite (default) or PostgreSQL."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, create_engine, event, func, insert, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from llm_council.audition import schema
from llm_council.audition.duplicates import seat_sort_key
from llm_council.audition.rows import as_utc, session_rows
from llm_council.config import CouncilConfig
from llm_council.council.result import SessionResult
from llm_council.paths import user_data_dir
from llm_council.registry import Registry

_PG_MIGRATION_LOCK = 727_043  # advisory lock id: one migrating process at a time
_WRITE = "llm_council_write"  # execution option: this connection's transactions write
_BUSY_TIMEOUT_MS = 30_000
_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_TABLES = ("sessions", "seats", "flags", "calls")


class AuditionStoreError(Exception):
    """A store operation failed; the message says what and where (never a password)."""


class SessionNotFoundError(AuditionStoreError, LookupError):
    """No stored session has that id or prefix, or several share the prefix."""


class InvalidSessionIdError(AuditionStoreError, ValueError):
    """The text given cannot be a session id (or a prefix of one)."""


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


def default_store_url() -> str:
    """A SQLite file ``audition.db`` in the per-user data directory."""
    return f"sqlite:///{user_data_dir() / 'audition.db'}"


def open_store(config: CouncilConfig) -> AuditionStore:
    """The store named by ``audition.url`` / ``LLM_COUNCIL_AUDITION_URL``, else the default."""
    return AuditionStore(config.audition.url or default_store_url())


class AuditionStore:
    """Durable record of sessions, seats, flags and every gateway call.

    Nothing is opened until first use; the schema is created or upgraded then.
    """

    def __init__(self, url: str) -> None:
        try:
            self._url = make_url(url)
        except Exception as exc:  # ArgumentError, ValueError: whatever make_url rejects
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
        """The engine, with the schema migrated to the current version (once per store).

        Transactions opened on it directly are plain (deferred) ones, right for reading;
        the store's own writes take SQLite's write lock up front.
        """
        with self._lock:
            if self._engine is None:
                with self._errors("open the audition store at"):
                    self._engine = self._create_engine()
            if not self._ready:
                with self._errors("open the audition store at"):
                    self._migrate(self._engine)
                self._ready = True
            return self._engine

    def _create_engine(self) -> Engine:
        if not self.is_sqlite:
            return create_engine(self._url, pool_pre_ping=True)
        database = self._url.database
        in_memory = not database or database == ":memory:"
        if not in_memory and not database.startswith("file:"):
            try:
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise AuditionStoreError(
                    f"cannot create the directory for {self.url_for_humans}: {exc.strerror or exc}"
                ) from None
        connect_args: dict[str, Any] = {"timeout": _BUSY_TIMEOUT_MS / 1000}
        extra: dict[str, Any] = {}
        if in_memory:
            # One shared connection, or each thread (asyncio.to_thread) would see its own DB.
            connect_args["check_same_thread"] = False
            extra["poolclass"] = StaticPool
        engine = create_engine(self._url, connect_args=connect_args, **extra)
        read_only = self._url.query.get("mode") == "ro"

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # Hand transaction control to the "begin" hook below (pysqlite's own is lazy).
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            if not read_only and not in_memory:
                # WAL: readers never block the writer and several processes can log at once.
                cursor.execute("PRAGMA journal_mode=WAL")
                # One commit per session: an fsync each is cheap and survives power loss.
                cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # A writer takes the write lock at BEGIN, so it waits on busy_timeout; a deferred
            # transaction upgrading to write under WAL fails at once with SQLITE_BUSY instead.
            immediate = conn.get_execution_options().get(_WRITE)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    def _migrate(self, engine: Engine) -> None:
        # Fast path without the write lock: every open after the first finds the schema current.
        with engine.connect() as conn:
            found = schema.current_version(conn)
        if found == schema.SCHEMA_VERSION:
            return
        if found > schema.SCHEMA_VERSION:
            raise AuditionStoreError(self._too_new(found))
        with self._writing(engine) as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
            try:
                schema.upgrade(conn)
            except schema.SchemaTooNewError as exc:
                raise AuditionStoreError(self._too_new(exc.found)) from None

    def _too_new(self, found: int) -> str:
        return (
            f"the audition store at {self.url_for_humans} has schema version {found}, newer than "
            f"this llm-council understands ({schema.SCHEMA_VERSION}); upgrade llm-council or "
            "point LLM_COUNCIL_AUDITION_URL at another store"
        )

    @contextmanager
    def _writing(self, engine: Engine | None = None) -> Iterator[Connection]:
        """A write transaction: BEGIN IMMEDIATE on SQLite, a normal one elsewhere."""
        with (engine or self.engine()).connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn driver and filesystem failures into one AuditionStoreError naming the URL."""
        try:
            yield
        except AuditionStoreError:
            raise
        except (SQLAlchemyError, ImportError, OSError) as exc:
            raise AuditionStoreError(
                f"cannot {action} {self.url_for_humans}: {_cause(exc)}"
            ) from None

    def schema_version(self) -> int:
        """The schema version the database is at (after any upgrade on open)."""
        with self._errors("read"), self.engine().connect() as conn:
            return schema.current_version(conn)

    def close(self) -> None:
        """Release the connections; the store reopens on next use."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
                self._ready = False

    # -- writing ------------------------------------------------------------------------

    def write_session(self, result: SessionResult, registry: Registry) -> bool:
        """Write one session (session, seats, flags, calls) in one transaction.

        Returns False when the session was already stored: writing twice is a no-op.
        """
        rows = session_rows(result, registry)
        with self._errors(f"write session {result.session_id} to"):
            try:
                with self._writing() as conn:
                    if self._has_session(conn, result.session_id):
                        return False
                    for table in _TABLES:
                        if rows[table]:
                            conn.execute(insert(getattr(schema, table)), rows[table])
                return True
            except IntegrityError:
                # Another process may have stored this session between our check and insert
                # (PostgreSQL); any other constraint failure is a real problem and is raised.
                with self.engine().connect() as conn:
                    if self._has_session(conn, result.session_id):
                        return False
                raise

    @staticmethod
    def _has_session(conn: Connection, session_id: str) -> bool:
        s = schema.sessions
        return (
            conn.execute(select(s.c.session_id).where(s.c.session_id == session_id)).first()
            is not None
        )

    # -- reading ------------------------------------------------------------------------

    def list_sessions(self, last: int = 20, tier: str | None = None) -> list[SessionSummary]:
        """The ``last`` most recent sessions, newest first, optionally of one tier."""
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
        query = query.order_by(s.c.created_at.desc(), s.c.session_id).limit(max(last, 0))
        with self._errors("read"), self.engine().connect() as conn:
            heads = conn.execute(query).mappings().all()
            ids = [h["session_id"] for h in heads]
            seat_rows = (
                conn.execute(
                    select(
                        st.c.session_id,
                        st.c.seat_id,
                        st.c.requested_model,
                        st.c.resolved_model,
                        st.c.status,
                        st.c.duplicate_kind,
                        st.c.duplicate_of,
                    ).where(st.c.session_id.in_(ids))
                )
                .mappings()
                .all()
                if ids
                else []
            )
            flag_rows = (
                conn.execute(
                    select(fl.c.session_id, fl.c.kind, func.count())
                    .where(fl.c.session_id.in_(ids))
                    .group_by(fl.c.session_id, fl.c.kind)
                ).all()
                if ids
                else []
            )
        seats_of: dict[str, list[Any]] = {}
        for row in seat_rows:
            seats_of.setdefault(row["session_id"], []).append(row)
        flags_of: dict[str, dict[str, int]] = {}
        for session_id, kind, count in flag_rows:
            flags_of.setdefault(session_id, {})[kind] = int(count)
        summaries = []
        for h in heads:
            kinds = dict(sorted(flags_of.get(h["session_id"], {}).items()))
            seats = sorted(
                seats_of.get(h["session_id"], []), key=lambda r: seat_sort_key(r["seat_id"])
            )
            summaries.append(
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
        return summaries

    def get_session(self, session_id: str) -> SessionResult:
        """A stored session by full id or unique prefix (its stored SessionResult JSON).

        Raises InvalidSessionIdError for text that cannot be an id, SessionNotFoundError
        for an unknown or ambiguous one.
        """
        wanted = session_id.strip()
        if not _SESSION_ID.fullmatch(wanted):
            raise InvalidSessionIdError(
                f"{session_id!r} is not a session id (letters, digits and '-', as "
                "`llm-council sessions list` shows them)"
            )
        s = schema.sessions
        with self._errors("read"), self.engine().connect() as conn:
            exact = conn.execute(select(s.c.result_json).where(s.c.session_id == wanted)).first()
            if exact is not None:
                return SessionResult.model_validate_json(exact[0])
            pattern = re.sub(r"([\\%_])", r"\\\1", wanted) + "%"
            rows = conn.execute(
                select(s.c.session_id, s.c.result_json)
                .where(s.c.session_id.like(pattern, escape="\\"))
                .order_by(s.c.session_id)
                .limit(5)
            ).all()
        # SQLite's LIKE ignores case; keep prefix matching case-sensitive on every backend.
        rows = [r for r in rows if r[0].startswith(wanted)]
        if not rows:
            raise SessionNotFoundError(f"no session {wanted!r} in {self.url_for_humans}")
        if len(rows) > 1:
            shown = ", ".join(r[0] for r in rows[:3])
            raise SessionNotFoundError(
                f"{wanted!r} matches several sessions ({shown}, ...); give more of the id"
            )
        return SessionResult.model_validate_json(rows[0][1])

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        with self._errors("read"), self.engine().connect() as conn:
            return {
                name: int(
                    conn.execute(select(func.count()).select_from(getattr(schema, name))).scalar()
                    or 0
                )
                for name in ("schema_version", *_TABLES)
            }

    def table_names(self) -> list[str]:
        """The tables present in the database."""
        with self._errors("read"):
            return sorted(inspect(self.engine()).get_table_names())


def _first_line(text: str, width: int = 80) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def _cause(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig or exc).strip() or type(exc).__name__
    return text.splitlines()[0]
