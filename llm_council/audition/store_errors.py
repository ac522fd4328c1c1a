"""The audition store's errors (importable from ``llm_council.audition.store`` too)."""

from __future__ import annotations


class AuditionStoreError(Exception):
    """A store operation failed; the message says what and where (never a password)."""


class StoreConfigError(AuditionStoreError, ValueError):
    """The store URL cannot work: unparsable, an unsupported database, or a missing driver.

    Raised when the store object is created, before any session runs (and is paid for);
    interfaces treat it as bad configuration (exit code 2).
    """


class SessionNotFoundError(AuditionStoreError, LookupError):
    """No stored session has that id or prefix, or several share the prefix."""


class InvalidSessionIdError(AuditionStoreError, ValueError):
    """The text given cannot be a session id (or a prefix of one)."""
