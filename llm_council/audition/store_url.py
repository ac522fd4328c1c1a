"""An audition store URL checked before anything runs, and SQLite files opened read-only."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import NoSuchModuleError

from llm_council.audition.store_errors import StoreConfigError

SUPPORTED = ("sqlite", "postgresql")
POSTGRES_HINT = "pip install 'llm-council[postgres]'"
_EXAMPLES = "e.g. sqlite:////path/to/audition.db or postgresql+psycopg://user@host/dbname"
_PASSWORD = re.compile(r":[^:@/]*@")
_TRUE = {"1", "true", "yes", "on"}


def redacted(text: str) -> str:
    """``text`` (a URL that may not even parse) with any ``:password@`` shown as ``:***@``."""
    return _PASSWORD.sub(":***@", text)


def check_url(text: str) -> URL:
    """Parse ``text`` and load its database driver, without connecting.

    Raises StoreConfigError (one line, password hidden) for an unparsable URL, a database
    other than SQLite or PostgreSQL, an unknown or async driver, or a driver that is not
    installed: all of them would otherwise only fail after a session's calls were paid for.
    """
    try:
        url = make_url(text)
    except Exception as exc:  # ArgumentError, ValueError: whatever make_url rejects
        raise StoreConfigError(
            f"invalid audition store URL {redacted(text)!r}: {exc}; {_EXAMPLES}"
        ) from None
    shown = url.render_as_string(hide_password=True)
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if backend not in SUPPORTED:
        raise StoreConfigError(
            f"unsupported database {backend!r} in the audition store URL {shown}; "
            f"supported: {', '.join(SUPPORTED)}"
        )
    try:
        dialect = url.get_dialect()
    except NoSuchModuleError:
        raise StoreConfigError(
            f"unknown {backend} driver {driver!r} in the audition store URL {shown}; {_EXAMPLES}"
        ) from None
    if getattr(dialect, "is_async", False):
        raise StoreConfigError(
            f"the audition store URL {shown} names the async driver {driver!r}, which "
            f"llm-council cannot use; {_EXAMPLES}"
        )
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        module = exc.name or driver
        if backend != "postgresql":
            hint = f"install the {module} module"
        elif driver == "psycopg":
            hint = POSTGRES_HINT
        else:  # the extra installs psycopg 3, not this driver
            hint = f"use postgresql+psycopg:// and {POSTGRES_HINT}"
        raise StoreConfigError(
            f"the audition store URL {shown} needs the Python driver {module!r}, which is "
            f"not installed: {hint}"
        ) from None
    return url


def read_only_by_url(url: URL) -> bool:
    """The URL itself asks for read-only access (SQLite ``mode=ro`` or ``immutable=1``)."""
    query = url.query
    return query.get("mode") == "ro" or str(query.get("immutable", "")).lower() in _TRUE


def plain_sqlite_file(url: URL) -> Path | None:
    """The file of a ``sqlite:///path`` URL; None for memory databases and ``file:`` URIs."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return Path(database).expanduser()


def sqlite_read_only_url(url: URL) -> URL | None:
    """For a SQLite file that exists but this process cannot write, the URL opening it
    read-only; None when the file can be written (or is not a plain file URL).

    The directory counts: the store runs in WAL mode, and SQLite must create the ``-wal`` and
    ``-shm`` files beside the database to write it (and, without ``-shm``, even to read it).
    With no ``-shm`` to share, nobody is writing the file now, so it is opened ``immutable``:
    the only way SQLite reads a WAL database from a directory it cannot write.
    """
    path = plain_sqlite_file(url)
    if path is None or not path.is_file():
        return None
    if os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
        return None
    query = {k: v for k, v in url.query.items() if k not in ("mode", "immutable", "uri")}
    query |= {"mode": "ro", "uri": "true"}
    if not Path(f"{path}-shm").exists():
        query["immutable"] = "1"
    return url.set(database="file:" + quote(str(path.absolute())), query=query)
