"""Time values as the project keeps them: timezone-aware, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime) -> datetime:
    """A tz-aware UTC datetime; naive values (SQLite hands them back) are taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
