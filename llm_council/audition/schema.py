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
    text,
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
    # v2, from stage 2 (report_stats.session_agreement / paired_diff); null when the session
    # had nothing to measure. Kendall's W of its reviewers, W's chance level, and the
    # Pareto seats' mean Borda minus the named seats'.
    Column("kendall_w", Float),
    Column("kendall_w_chance", Float),
    Column("paired_diff", Float),
    Column("result_json", Text, nullable=False),
    # v3: the session this one follows up (``run --continue``); null for a first question.
    # Its index, ix_sessions_parent, is made by the v3 step (see there).
    Column("parent_session_id", String(64)),
    # v2: covers the report's per-tier session query, so it never reads the (large) rows;
    # "tier", "created_at" lead, so it also serves what ix_sessions_tier_created did in v1.
    Index(
        "ix_sessions_report",
        "tier",
        "created_at",
        "pareto_seats",
        "distinct_models",
        "provider_entropy",
        "pareto_exact",
        "pareto_family",
        "pareto_drift",
    ),
    # v2: covers the report's stage 2 query, grouped by tier and paired difference in order.
    Index("ix_sessions_stage2", "tier", "paired_diff", "kendall_w", "kendall_w_chance"),
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
    # v2: the session's tier and day, copied at write time (backfilled on upgrade) like
    # calls.tier, so the report groups seats without a lookup into the (large) sessions rows.
    Column("tier", String(16)),
    Column("day", String(10)),
    Index("ix_seats_pareto", "is_pareto", "session_id"),
    # v2: cover the report's seat queries (Borda per tier and group; Pareto models per day).
    Index("ix_seats_report", "tier", "is_pareto", "borda", "borda_peers", "is_first"),
    Index("ix_seats_days", "is_pareto", "tier", "day", "resolved_model"),
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
    # v2: the report's duplicated-seats query starts from the (few) duplicate flags.
    Index("ix_flags_report", "kind", "session_id", "seat_id", "with_seat"),
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
    # v2: covers the report's cost query (an index-only scan instead of 1M table rows); its
    # "tier", "is_pareto" prefix serves what ix_calls_tier_pareto did in v1.
    Index(
        "ix_calls_report",
        "tier",
        "is_pareto",
        "min_coding_score",
        "stage",
        "cost_usd",
        "prompt_tokens",
        "completion_tokens",
    ),
    # v2: Pareto calls that carried router metadata (the denominator of fallbacks.share),
    # counted from this small partial index rather than by reading router_json.
    Index(
        "ix_calls_router",
        "tier",
        "stage",
        # Each dialect spelled as its queries spell it, so the planner matches the predicate.
        sqlite_where=text("router_json IS NOT NULL AND is_pareto = 1"),
        postgresql_where=text("router_json IS NOT NULL AND is_pareto"),
    ),
)


# Version 2: the router's own account of each call (OpenRouter's openrouter_metadata).
# ``calls.provider`` / ``calls.router_json`` keep it whole; the two tables below flatten
# the parts reports aggregate in SQL (the shortlist the router saw, its failed attempts).
# ``is_pareto`` (copied from the call, like ``tier``) marks a *Pareto seat call*: a seat's
# call to ``openrouter/pareto-code[:variant]``, never the chairman's; reports read these
# tables without joining ``calls``.
router_candidates = Table(
    "router_candidates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(64), nullable=False),
    Column("call_seq", Integer, nullable=False),
    Column("tier", String(16), nullable=False),
    Column("is_pareto", Boolean, nullable=False),
    # One row per (call, model): a model the router listed from several providers is one
    # candidate, ``selected`` if any of its endpoints was, ``provider`` the selected
    # endpoint's (else the first listed). Each endpoint stays in ``calls.router_json``.
    Column("model", String(128), nullable=False),
    Column("provider", String(128)),
    Column("selected", Boolean, nullable=False),
    UniqueConstraint("session_id", "call_seq", "model", name="uq_router_candidates_call_model"),
    # Covers the report's shortlist query: an index-only range scan, no join, no DISTINCT.
    Index("ix_router_candidates_report", "is_pareto", "tier", "model", "selected"),
)

router_attempts = Table(
    "router_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(64), nullable=False),
    Column("call_seq", Integer, nullable=False),
    Column("tier", String(16), nullable=False),
    Column("is_pareto", Boolean, nullable=False),
    Column("model", String(128)),
    Column("provider", String(128)),
    Column("status", Integer),
    Index("ix_router_attempts_session", "session_id"),
    # Covers the report's fallback queries (failed attempts are a range on status).
    Index(
        "ix_router_attempts_report",
        "is_pareto",
        "status",
        "tier",
        "model",
        "session_id",
        "call_seq",
    ),
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
    # Judges are rare: the report counts judged sessions from a short range of this index.
    Index("ix_reviews_judge", "judge", "tier", "session_id"),
    # Covers the report's position-bias query.
    Index("ix_reviews_position", "tier", "top_choice", "shown_first", "candidates"),
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


# Version 3: what was attached to a session's question (ADR-015): one row per file or diff,
# by name, content hash and size; the content itself is never stored.
attachments = Table(
    "attachments",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("position", Integer, primary_key=True),  # order in SessionResult.attachments
    Column("name", Text, nullable=False),
    Column("kind", String(8), nullable=False),  # file | diff
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Index("ix_attachments_sha256", "sha256"),  # which sessions saw this exact content
)


def _v1_create(conn: Connection) -> None:
    # A new database gets today's table shapes at once; later steps only add what is missing.
    metadata.create_all(conn, tables=[sessions, seats, flags, calls])


def _add_missing_columns(conn: Connection, table: Table, columns: tuple[str, ...]) -> list[str]:
    """Add those of ``columns`` the table lacks (nullable); return the ones added."""
    present = {c["name"] for c in inspect(conn).get_columns(table.name)}
    added = [name for name in columns if name not in present]
    for name in added:
        sql_type = table.c[name].type.compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {name} {sql_type}")
    return added


def _v2_router_and_reviews(conn: Connection) -> None:
    _add_missing_columns(conn, calls, ("provider", "router_json"))
    if _add_missing_columns(conn, seats, ("borda_peers", "tier", "day")):
        # Plain SQL both backends run: each seat takes its session's tier and day.
        conn.exec_driver_sql(
            "UPDATE seats SET tier = (SELECT tier FROM sessions WHERE sessions.session_id = "
            "seats.session_id), day = (SELECT day FROM sessions WHERE sessions.session_id = "
            "seats.session_id)"
        )
    # Not backfilled: version 1 sessions have no review rows to compute them from (ADR-009).
    _add_missing_columns(conn, sessions, ("kendall_w", "kendall_w_chance", "paired_diff"))
    # The report's covering indexes replace v1's narrower ones (their prefixes).
    for old in ("ix_sessions_tier_created", "ix_calls_tier_pareto"):
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {old}")
    for table in (sessions, seats, flags, calls):
        for index in table.indexes:
            index.create(conn, checkfirst=True)
    metadata.create_all(conn, tables=[router_candidates, router_attempts, reviews, review_ranks])


def _v3_attachments_and_threads(conn: Connection) -> None:
    _add_missing_columns(conn, sessions, ("parent_session_id",))
    # Plain SQL, not an Index on the table: the v2 step creates every index the sessions
    # table declares, and on a v1 store it runs before this column exists.
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_sessions_parent ON sessions (parent_session_id)"
    )
    metadata.create_all(conn, tables=[attachments])


def _v4_repair_edited_steps(conn: Connection) -> None:
    # The v2 step gained seats.tier and seats.day (and its covering indexes) after some
    # stores had already run it; those stores reached v3 without them and refuse every
    # write ("table seats has no column named tier"). Steps 2 and 3 only add what is
    # missing, so running them again brings any such store to the shapes they declare.
    _v2_router_and_reviews(conn)
    _v3_attachments_and_threads(conn)


Migration = tuple[int, str, Callable[[Connection], None]]

# Forward-only: append a step, never edit a shipped one (on main is shipped: stores ran it;
# version 4 exists because step 2 was edited). Each runs in the transaction that
# records its version, so a crash mid-migration leaves the database at the old version.
MIGRATIONS: tuple[Migration, ...] = (
    (1, "create sessions, seats, flags, calls", _v1_create),
    (
        2,
        "router metadata (calls.provider, calls.router_json, router_* tables); stage 2 "
        "reviews (reviews, review_ranks, seats.borda_peers, sessions.kendall_w, "
        "sessions.kendall_w_chance, sessions.paired_diff); seats.tier and seats.day; report "
        "covering indexes",
        _v2_router_and_reviews,
    ),
    (
        3,
        "attachments (name, kind, sha256, size; never content); sessions.parent_session_id "
        "with ix_sessions_parent for follow-up threads",
        _v3_attachments_and_threads,
    ),
    (
        4,
        "repair: whatever steps 2 and 3 declare but an earlier build of them did not add "
        "(seats.tier and seats.day, backfilled, and their indexes)",
        _v4_repair_edited_steps,
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
