"""The audition store's tables and its forward-only migrations."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    inspect,
    select,
)

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("day", String(10), nullable=False),  # YYYY-MM-DD (UTC), for per-day grouping
    Column("tier", String(16), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("gateway", String(16), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("chairman_model", String(128), nullable=False),
    Column("chairman_resolved", String(128)),
    Column("chairman_status", String(32), nullable=False),
    Column("chairman_error", Text),
    Column("synthesis_is_fallback", Boolean, nullable=False),
    Column("duplicate_policy", String(16), nullable=False),
    Column("config_hash", String(64)),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("cost_usd", Float, nullable=False),
    # Per-session metrics computed once at write time so reports aggregate in SQL.
    Column("distinct_models", Integer, nullable=False),
    Column("provider_entropy", Float, nullable=False),
    Column("pareto_seats", Integer, nullable=False),
    Column("pareto_exact", Boolean, nullable=False),
    Column("pareto_family", Boolean, nullable=False),
    Column("pareto_drift", Boolean, nullable=False),
    Column("result_json", Text, nullable=False),
    Index("ix_sessions_tier_created", "tier", "created_at"),
    Index("ix_sessions_created", "created_at"),
)

seats = Table(
    "seats",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("seat_id", String(16), primary_key=True),
    Column("requested_model", String(128), nullable=False),
    Column("is_pareto", Boolean, nullable=False),
    Column("variant", String(16)),
    Column("min_coding_score", Float),
    Column("resolved_model", String(128)),
    Column("provider", String(64)),
    Column("family", String(128)),
    Column("status", String(32), nullable=False),
    Column("error", Text),
    Column("latency_ms", Float),
    Column("cost_usd", Float),
    Column("label", String(32)),
    Column("borda", Float),
    Column("votes", Integer, nullable=False),
    Column("borda_peers", Float),  # v2: Borda from seat reviewers only (judges left out)
    Column("is_first", Boolean, nullable=False),
    Column("duplicate_kind", String(16)),
    Column("duplicate_of", String(256)),
    Column("rerouted_from", String(128)),
    Index("ix_seats_pareto", "is_pareto", "session_id"),
)

flags = Table(
    "flags",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(64), nullable=False),
    Column("seat_id", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("with_seat", String(16)),
    Column("model", String(128)),
    Column("stage2_model", String(128)),
    Index("ix_flags_session", "session_id"),
)

calls = Table(
    "calls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("tier", String(16), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("seat_id", String(16), nullable=False),
    Column("requested_model", String(128), nullable=False),
    Column("is_pareto", Boolean, nullable=False),
    Column("resolved_model", String(128)),
    Column("min_coding_score", Float),
    Column("variant", String(16)),
    Column("generation_id", String(128)),
    Column("status", String(32), nullable=False),
    Column("error", Text),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("cost_usd", Float),
    Column("cost_estimated", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("provider", String(128)),  # v2
    Column("router_json", Text),  # v2: RouterMetadata as JSON, null when none was sent
    UniqueConstraint("session_id", "seq", name="uq_calls_session_seq"),
    Index("ix_calls_tier_pareto", "tier", "is_pareto"),
)


# Version 2: the router's own account of each call (OpenRouter's openrouter_metadata).
# ``calls.provider`` / ``calls.router_json`` keep it whole; the two tables below flatten
# the parts reports aggregate in SQL (the shortlist the router saw, its failed attempts).
router_candidates = Table(
    "router_candidates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(64), nullable=False),
    Column("call_seq", Integer, nullable=False),
    Column("tier", String(16), nullable=False),
    Column("model", String(128), nullable=False),
    Column("provider", String(128)),
    Column("selected", Boolean, nullable=False),
    Index("ix_router_candidates_session", "session_id"),
    Index("ix_router_candidates_tier", "tier"),
)

router_attempts = Table(
    "router_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(64), nullable=False),
    Column("call_seq", Integer, nullable=False),
    Column("tier", String(16), nullable=False),
    Column("model", String(128)),
    Column("provider", String(128)),
    Column("status", Integer),
    Index("ix_router_attempts_session", "session_id"),
    Index("ix_router_attempts_tier", "tier"),
)


# Version 2 also keeps stage 2 per review, for position bias, agreement (Kendall's W) and
# Borda with and without judges. ``reviews`` has one row per reviewer (a seat, or an
# independent judge "judge1"..); ``review_ranks`` flattens each counted ranking so
# per-seat rank sums are a GROUP BY, with no JSON functions (which differ per database).
reviews = Table(
    "reviews",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("reviewer", String(16), primary_key=True),
    Column("seq", Integer, nullable=False),  # position in SessionResult.reviews
    Column("tier", String(16), nullable=False),
    Column("judge", Boolean, nullable=False),
    Column("requested_model", String(128)),  # the judge's model, or the reviewing seat's
    Column("resolved_model", String(128)),
    Column("status", String(32), nullable=False),
    Column("abstained", Boolean, nullable=False),
    Column("parse", String(16), nullable=False),
    Column("shown_first", String(16)),  # seat id of the answer shown first; null: none shown
    Column("top_choice", String(16)),  # seat id ranked best; null: no counted vote
    Column("candidates", Integer, nullable=False),  # answers shown (len(order)); chance 1/n
    Column("order_json", Text, nullable=False),  # seat ids in the order shown, first first
    Column("ranking_json", Text, nullable=False),  # seat ids best first, counted votes only
    Index("ix_reviews_tier", "tier", "judge"),
)

review_ranks = Table(
    "review_ranks",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("reviewer", String(16), primary_key=True),
    Column("position", Integer, primary_key=True),  # 0 = best
    Column("tier", String(16), nullable=False),
    Column("judge", Boolean, nullable=False),
    Column("seat_id", String(16), nullable=False),
    Index("ix_review_ranks_tier", "tier", "judge"),
)


def _v1_create(conn: Connection) -> None:
    # A new database gets today's table shapes at once; later steps only add what is missing.
    metadata.create_all(conn, tables=[sessions, seats, flags, calls])


def _add_missing_columns(conn: Connection, table: Table, columns: tuple[str, ...]) -> None:
    present = {c["name"] for c in inspect(conn).get_columns(table.name)}
    for name in columns:
        if name not in present:
            sql_type = table.c[name].type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {name} {sql_type}")


def _v2_router_and_reviews(conn: Connection) -> None:
    _add_missing_columns(conn, calls, ("provider", "router_json"))
    _add_missing_columns(conn, seats, ("borda_peers",))
    metadata.create_all(conn, tables=[router_candidates, router_attempts, reviews, review_ranks])


Migration = tuple[int, str, Callable[[Connection], None]]

# Forward-only: append a step, never edit a shipped one. Each runs in the transaction that
# records its version, so a crash mid-migration leaves the database at the old version.
MIGRATIONS: tuple[Migration, ...] = (
    (1, "create sessions, seats, flags, calls", _v1_create),
    (
        2,
        "router metadata (calls.provider, calls.router_json, router_* tables); stage 2 "
        "reviews (reviews, review_ranks, seats.borda_peers)",
        _v2_router_and_reviews,
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


class SchemaTooNewError(Exception):
    """The database was written by a newer llm-council than this one."""

    def __init__(self, found: int, supported: int) -> None:
        super().__init__(
            f"schema version {found} is newer than this llm-council understands ({supported}); "
            "upgrade llm-council"
        )
        self.found, self.supported = found, supported


def current_version(conn: Connection) -> int:
    """The highest applied migration; 0 for a database without a ``schema_version`` table."""
    if not inspect(conn).has_table(schema_version.name):
        return 0
    return int(conn.execute(select(func.max(schema_version.c.version))).scalar() or 0)


def upgrade(conn: Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply, in order, every step newer than the database; return the versions applied.

    The caller owns the transaction (and any lock that keeps two processes from migrating
    at once), so the steps and their ``schema_version`` rows commit or roll back together.
    """
    target = migrations[-1][0] if migrations else 0
    schema_version.create(conn, checkfirst=True)
    found = current_version(conn)
    if found > target:
        raise SchemaTooNewError(found, target)
    applied = []
    for version, _description, step in migrations:
        if version > found:
            step(conn)
            conn.execute(
                insert(schema_version).values(version=version, applied_at=datetime.now(UTC))
            )
            applied.append(version)
    return applied
