"""The audition store: SQLAlchemy Core over SQLite (default) or PostgreSQL."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, insert, inspect, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from llm_council.audition import schema, store_read
from llm_council.audition.rows import session_rows
from llm_council.audition.store_errors import (
    AuditionStoreError,
    InvalidSessionIdError,
    SessionNotFoundError,
    StoreConfigError,
)
from llm_council.audition.store_read import (
    SchemaView,
    SeatBrief,
    SessionSummary,
    StoredReview,
    Thread,
)
from llm_council.audition.store_url import (
    check_url,
    plain_sqlite_file,
    read_only_by_url,
    sqlite_read_only_url,
)
from llm_council.config import CouncilConfig
from llm_council.council.result import CallRecord, SessionResult
from llm_council.paths import user_data_dir
from llm_council.registry import Registry

__all__ = [
    "AuditionStore",
    "AuditionStoreError",
    "InvalidSessionIdError",
    "SeatBrief",
    "SessionNotFoundError",
    "SessionRowsRejectedError",
    "SessionSummary",
    "StoreConfigError",
    "StoredReview",
    "Thread",
    "default_store_url",
    "open_store",
]

_PG_MIGRATION_LOCK = 727_043  # advisory lock id: one migrating process at a time
_WRITE = "llm_council_write"  # execution option: this connection's transactions write
_BUSY_TIMEOUT_MS = 30_000
_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_TABLES = store_read.TABLES
# A write refused because this process may not write here (not because something broke):
# PostgreSQL insufficient_privilege / read_only_sql_transaction; SQLite PERM, READONLY,
# CANTOPEN (no journal can be created), AUTH.
_PG_READ_ONLY = {"42501", "25006"}
_SQLITE_READ_ONLY = {3, 8, 14, 23}


def default_store_url() -> str:
    """A SQLite file ``audition.db`` in the per-user data directory."""
    return f"sqlite:///{user_data_dir() / 'audition.db'}"


def open_store(config: CouncilConfig) -> AuditionStore:
    """The store named by ``audition.url`` / ``LLM_COUNCIL_AUDITION_URL``, else the default.

    Raises StoreConfigError at once for a URL that cannot work (see AuditionStore); connects
    nothing.
    """
    return AuditionStore(config.audition.url or default_store_url())


class SessionRowsRejectedError(AuditionStoreError):
    """A row of a batch of sessions broke a constraint (e.g. a seat id twice, or another
    writer stored one of them meanwhile); nothing of the batch was kept."""


class _SessionRowTaken(Exception):
    """The session row's insert hit a constraint: maybe another writer stored it first."""


class AuditionStore:
    """Durable record of sessions, seats, flags and every gateway call.

    The URL is checked and its driver loaded when the store is created; nothing is opened
    until first use. Writing brings the schema to the current version first. Reading does
    too when the store can be written; a store that cannot be written (a read-only file or
    directory, ``mode=ro``, a role with only SELECT, a read replica) is read as it is, and
    ``notices`` says when that is behind this llm-council.
    """

    def __init__(self, url: str) -> None:
        """Raises StoreConfigError for a URL that cannot work (bad, unsupported, no driver)."""
        self._url = check_url(url)
        # SQLite URLs hold no password: show them as given (rendering would escape "file:").
        self.url_for_humans = (
            url.strip() if self.is_sqlite else self._url.render_as_string(hide_password=True)
        )
        self.notices: list[str] = []  # said once per store, e.g. "read-only and behind"
        self.schema_upgrades: tuple[int, ...] = ()  # versions this store object applied
        self._engine: Engine | None = None
        self._view: SchemaView | None = None
        self._read_only = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AuditionStore({self.url_for_humans!r})"

    @property
    def is_sqlite(self) -> bool:
        return self._url.get_backend_name() == "sqlite"

    @property
    def read_only(self) -> bool:
        """Known not to be writable by this process (after first use)."""
        return self._read_only

    # -- connection and schema ------------------------------------------------------------

    def engine(self) -> Engine:
        """The engine for reading; on first use the schema is upgraded if the store is writable.

        Transactions opened on it directly are plain (deferred) ones, right for reading;
        the store's own writes take SQLite's write lock up front. Check ``has_table`` /
        ``has_column`` before reading tables newer than version 1: a read-only store may
        be behind.
        """
        return self._open(write=False)

    def _open(self, *, write: bool) -> Engine:
        with self._lock:
            if self._engine is None:
                with self._errors("open the audition store at"):
                    self._engine = self._create_engine()
            view = self._view
            if view is None or (write and view.version != schema.SCHEMA_VERSION):
                with self._errors("open the audition store at"):
                    self._view = self._prepare(self._engine, write=write)
            return self._engine

    def _create_engine(self) -> Engine:
        self._read_only = read_only_by_url(self._url)
        if not self.is_sqlite:
            return create_engine(self._url, pool_pre_ping=True)
        url = self._url
        path = plain_sqlite_file(url)
        if path is not None and (read_only_url := sqlite_read_only_url(url)) is not None:
            url, path, self._read_only = read_only_url, None, True
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise AuditionStoreError(
                    f"cannot create the directory for {self.url_for_humans}: {exc.strerror or exc}"
                ) from None
        in_memory = not url.database or url.database == ":memory:"
        connect_args: dict[str, Any] = {"timeout": _BUSY_TIMEOUT_MS / 1000}
        extra: dict[str, Any] = {}
        if in_memory:
            # One shared connection, or each thread (asyncio.to_thread) would see its own DB.
            connect_args["check_same_thread"] = False
            extra["poolclass"] = StaticPool
        engine = create_engine(url, connect_args=connect_args, **extra)
        set_wal = not self._read_only and not in_memory

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # Hand transaction control to the "begin" hook below (pysqlite's own is lazy).
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            if set_wal:
                # WAL: readers never block the writer and several processes can log at once.
                _switch_to_wal(cursor)
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

    def _prepare(self, engine: Engine, *, write: bool) -> SchemaView:
        """Bring the schema current (always for a writer, when possible for a reader)."""
        # Fast path without the write lock: every open after the first finds the schema current.
        with engine.connect() as conn:
            found = schema.current_version(conn)
        if found == schema.SCHEMA_VERSION:
            return SchemaView(found)
        if found > schema.SCHEMA_VERSION:
            raise AuditionStoreError(self._too_new(found))
        if not write and self._read_only:
            return self._as_it_is(engine, found)
        try:
            self._migrate(engine)
        except SQLAlchemyError as exc:
            if write or not _is_refused_write(exc):
                raise
            self._read_only = True
            return self._as_it_is(engine, found)
        return SchemaView(schema.SCHEMA_VERSION)

    def _as_it_is(self, engine: Engine, found: int) -> SchemaView:
        if found == 0:
            notice = (
                f"the store at {self.url_for_humans} holds no llm-council tables and cannot "
                "be written from here: nothing has been recorded in it"
            )
        else:
            notice = (
                f"the store at {self.url_for_humans} is at schema version {found}, this "
                f"llm-council writes {schema.SCHEMA_VERSION}; open it writable once to upgrade"
            )
        if notice not in self.notices:
            self.notices.append(notice)
        with engine.connect() as conn:
            return SchemaView.of(conn, found)

    def _migrate(self, engine: Engine) -> None:
        with self._writing(engine) as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
            try:
                applied = schema.upgrade(conn)
            except schema.SchemaTooNewError as exc:
                raise AuditionStoreError(self._too_new(exc.found)) from None
        self.schema_upgrades += tuple(applied)

    def _too_new(self, found: int) -> str:
        return (
            f"the audition store at {self.url_for_humans} has schema version {found}, newer than "
            f"this llm-council understands ({schema.SCHEMA_VERSION}); upgrade llm-council or "
            "point LLM_COUNCIL_AUDITION_URL at another store"
        )

    @contextmanager
    def _writing(self, engine: Engine | None = None) -> Iterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite) on a current schema."""
        with (engine or self._open(write=True)).connect() as conn:
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

    @contextmanager
    def _reading(self) -> Iterator[tuple[Connection, SchemaView]]:
        with self._errors("read"):
            engine = self.engine()
            assert self._view is not None  # set by engine()
            with engine.connect() as conn:
                yield conn, self._view

    def schema_version(self) -> int:
        """The schema version the database is at (after any upgrade on open)."""
        with self._reading() as (conn, _view):
            return schema.current_version(conn)

    def has_table(self, table: str) -> bool:
        """Whether ``table`` of this llm-council's schema exists (always, unless behind)."""
        self.engine()
        return self._view is not None and self._view.has_table(table)

    def has_column(self, table: str, column: str) -> bool:
        """Whether ``table.column`` exists (always, unless a read-only store is behind)."""
        self.engine()
        return self._view is not None and self._view.has_column(table, column)

    def close(self) -> None:
        """Release the connections; the store reopens on next use."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
                self._view = None

    # -- writing ------------------------------------------------------------------------

    def write_session(self, result: SessionResult, registry: Registry) -> bool:
        """Write a session with its seats, flags, calls, router and review rows, in one transaction.

        Returns False when the session was already stored: writing twice is a no-op. Any
        other failure, a constraint included (two seats with one id), raises
        AuditionStoreError and nothing of the session is kept.
        """
        rows = session_rows(result, registry)
        with self._errors(f"write session {result.session_id} to"):
            try:
                with self._writing() as conn:
                    if self._has_session(conn, result.session_id):
                        return False
                    try:
                        conn.execute(insert(schema.sessions), rows["sessions"])
                    except IntegrityError as exc:
                        raise _SessionRowTaken from exc
                    for table in _TABLES[1:]:
                        if rows[table]:
                            conn.execute(insert(getattr(schema, table)), rows[table])
                return True
            except _SessionRowTaken as taken:
                # Only the session row can collide with another writer (PostgreSQL: both saw
                # it missing, the other committed first). Stored now means that race.
                with self.engine().connect() as conn:
                    if self._has_session(conn, result.session_id):
                        return False
                raise taken.__cause__ from None  # type: ignore[misc]

    def write_sessions(self, results: Sequence[SessionResult], registry: Registry) -> list[bool]:
        """Write several sessions in one transaction: one commit, one insert per table.

        For each result, False when it was already stored (or repeats an earlier result of
        the batch): a no-op, as in ``write_session``. All or nothing: a row breaking a
        constraint raises SessionRowsRejectedError (write them one by one to keep the good
        ones), any other failure AuditionStoreError; in both cases none is kept.
        """
        if not results:
            return []
        # Rows are built before the write lock is taken: other writers wait only for inserts.
        prepared = [(result.session_id, session_rows(result, registry)) for result in results]
        fresh: list[bool] = []
        with self._errors(f"write {len(results)} sessions to"):
            try:
                with self._writing() as conn:
                    taken = self._stored_ids(conn, [sid for sid, _ in prepared])
                    batched: dict[str, list[dict[str, Any]]] = {table: [] for table in _TABLES}
                    for session_id, rows in prepared:
                        fresh.append(session_id not in taken)
                        if fresh[-1]:
                            taken.add(session_id)
                            for table in _TABLES:
                                batched[table] += rows.get(table, ())
                    for table in _TABLES:
                        if batched[table]:
                            conn.execute(insert(getattr(schema, table)), batched[table])
            except IntegrityError as exc:
                raise SessionRowsRejectedError(
                    f"a session of the batch was refused by {self.url_for_humans}: {_cause(exc)}"
                ) from None
        return fresh

    @staticmethod
    def _stored_ids(conn: Connection, session_ids: Sequence[str]) -> set[str]:
        s = schema.sessions
        found: set[str] = set()
        for start in range(0, len(session_ids), 500):  # bounded bind parameters per query
            chunk = session_ids[start : start + 500]
            found.update(
                conn.execute(select(s.c.session_id).where(s.c.session_id.in_(chunk))).scalars()
            )
        return found

    @staticmethod
    def _has_session(conn: Connection, session_id: str) -> bool:
        s = schema.sessions
        return (
            conn.execute(select(s.c.session_id).where(s.c.session_id == session_id)).first()
            is not None
        )

    # -- reading ------------------------------------------------------------------------

    def count_sessions(self, tier: str | None = None) -> int:
        """How many sessions are stored (of one tier)."""
        with self._reading() as (conn, view):
            return store_read.count_sessions(conn, view, tier)

    def list_sessions(self, last: int | None = 20, tier: str | None = None) -> list[SessionSummary]:
        """The ``last`` most recent sessions (every one when None), newest first."""
        with self._reading() as (conn, view):
            return store_read.summaries(conn, view, last, tier)

    def get_session(self, session_id: str) -> SessionResult:
        """A stored session by full id or unique prefix, with its ``calls`` read back.

        Raises InvalidSessionIdError for text that cannot be an id, SessionNotFoundError
        for an unknown or ambiguous one.
        """
        wanted = _checked_id(session_id)
        with self._reading() as (conn, view):
            rows = store_read.find_session(conn, view, wanted)
            if len(rows) == 1:
                result = store_read.session_result(*rows[0])
                result.calls = store_read.calls(conn, view, result.session_id)
                return result
        if not rows:
            raise SessionNotFoundError(f"no session {wanted!r} in {self.url_for_humans}")
        shown = ", ".join(r[0] for r in rows[:3])
        raise SessionNotFoundError(
            f"{wanted!r} matches several sessions ({shown}, ...); give more of the id"
        )

    def get_calls(self, session_id: str) -> list[CallRecord]:
        """Every gateway call of the session with this exact id, in order, router data parsed.

        Raises SessionNotFoundError when no session has that id.
        """
        wanted = _checked_id(session_id)
        with self._reading() as (conn, view):
            found = view.has_table("sessions") and self._has_session(conn, wanted)
            if found:
                return store_read.calls(conn, view, wanted)
        raise SessionNotFoundError(f"no session {wanted!r} in {self.url_for_humans}")

    def thread(self, session_id: str) -> Thread:
        """The follow-up thread around the session with this exact id: its ancestors (the
        first question first) and its direct follow-ups (oldest first)."""
        wanted = _checked_id(session_id)
        with self._reading() as (conn, view):
            return store_read.thread(conn, view, wanted)

    def get_reviews(self, session_ids: Sequence[str]) -> dict[str, list[StoredReview]]:
        """The stage 2 reviews of each of these sessions (exact ids), in the session's order.

        A session without stored reviews (unknown, or written before schema version 2) is
        absent from the answer. Aggregates over many sessions belong in SQL over
        ``schema.reviews`` / ``schema.review_ranks``; this is for a few sessions at a time.
        """
        with self._reading() as (conn, view):
            return store_read.reviews_for(conn, view, session_ids)

    def counts(self) -> dict[str, int]:
        """Rows per table (0 for a table a read-only store does not have yet)."""
        with self._reading() as (conn, view):
            return {
                name: int(
                    conn.execute(select(func.count()).select_from(getattr(schema, name))).scalar()
                    or 0
                )
                if (view.version > 0 if name == "schema_version" else view.has_table(name))
                else 0
                for name in ("schema_version", *_TABLES)
            }

    def table_names(self) -> list[str]:
        """The tables present in the database."""
        with self._errors("read"):
            return sorted(inspect(self.engine()).get_table_names())


def _checked_id(session_id: str) -> str:
    wanted = session_id.strip()
    if not _SESSION_ID.fullmatch(wanted):
        raise InvalidSessionIdError(
            f"{session_id!r} is not a session id (letters, digits and '-', as "
            "`llm-council sessions list` shows them)"
        )
    return wanted


def _is_refused_write(exc: SQLAlchemyError) -> bool:
    """The database refused a write for lack of permission, not for a fault."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in _PG_READ_ONLY:
        return True
    code = getattr(orig, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in _SQLITE_READ_ONLY


def _cause(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig or exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _switch_to_wal(cursor: Any) -> None:
    """Put the database file in WAL mode (a property of the file: once is enough).

    SQLite answers a contended switch with "database is locked" at once, without calling the
    busy handler (seen with several processes opening a new file together), so the wait
    busy_timeout would give every other statement is done here, for this one.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()
            if mode and str(mode[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = exc.sqlite_errorcode == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
