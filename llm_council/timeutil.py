"""Time values as the project keeps them: timezone-aware, in UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta


def as_utc(value: datetime) -> datetime:
    """A tz-aware UTC datetime; naive values (SQLite hands them back) are taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_SPAN = re.compile(r"(\d+)\s*([wdhm])")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """``7d``, ``2w``, ``12h``, ``30m``, a date ``2026-11-01`` or an ISO time -> aware UTC.

    A date or time without a zone is read as UTC (the store keeps UTC). ValueError otherwise.
    """
    text = value.strip()
    match = _SPAN.fullmatch(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--since takes a span (7d, 2w, 12h, 30m), a date (2026-11-01) or an ISO time "
            f"(got {value!r})"
        ) from None
    return as_utc(parsed)
