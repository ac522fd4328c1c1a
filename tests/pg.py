"""A throwaway PostgreSQL server on 127.0.0.1 for the store tests (Debian's postgresql package).

Import the fixtures into a test module: ``from tests.pg import postgres_server, postgres_url``.
They skip when no server can be started, unless ``LLM_COUNCIL_REQUIRE_POSTGRES`` is set (CI
sets it), in which case failing to start is a test error.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

_START_TRIES = 3  # the free port can be taken between choosing it and the server binding it


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_postgres(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; drop to the package's postgres user when we are root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _unavailable(reason: str) -> None:
    if os.environ.get("LLM_COUNCIL_REQUIRE_POSTGRES"):
        pytest.fail(f"PostgreSQL is required (LLM_COUNCIL_REQUIRE_POSTGRES) but {reason}")
    pytest.skip(f"no PostgreSQL server: {reason}")


def _run(cmd: list[str], timeout: float) -> None:
    subprocess.run(_as_postgres(cmd), check=True, capture_output=True, timeout=timeout)


def _why(exc: Exception, log: Path) -> str:
    detail = (getattr(exc, "stderr", b"") or b"").decode(errors="replace")
    if log.is_file():
        detail += " | server log: " + log.read_text(errors="replace")[-400:]
    return f"{exc} {detail.strip()[:600]}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Yield a server URL ``postgresql+psycopg://postgres@127.0.0.1:PORT``; stop it at the end."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        _unavailable("initdb not found (apt-get install postgresql)")
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed")
    root = Path(tempfile.mkdtemp(prefix="llm-council-pg-"))
    data, sock, log = root / "data", root / "sock", root / "server.log"
    sock.mkdir()
    if os.geteuid() == 0:
        for path in (root, sock):
            shutil.chown(path, "postgres")
        os.chmod(root, 0o755)
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data)]
    port, problem = 0, ""
    try:
        _run([*initdb, "--no-sync"], timeout=120)
        for _ in range(_START_TRIES):
            port = free_port()
            options = (
                f"-p {port} -c listen_addresses=127.0.0.1 -k {sock} "
                "-c fsync=off -c max_connections=200"
            )
            try:
                _run([*pg_ctl, "-l", str(log), "-w", "-t", "60", "-o", options, "start"], 90)
                problem = ""
                break
            except (subprocess.SubprocessError, OSError) as exc:
                problem = _why(exc, log)
    except (subprocess.SubprocessError, OSError) as exc:
        problem = _why(exc, log)
    if problem:
        shutil.rmtree(root, ignore_errors=True)
        _unavailable(f"could not start a cluster: {problem}")
        return
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_postgres([*pg_ctl, "-m", "immediate", "stop"]), capture_output=True, timeout=60
        )
        shutil.rmtree(root, ignore_errors=True)


_databases = itertools.count(1)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the session's server: ``postgresql+psycopg://.../tN``."""
    import psycopg

    name = f"t{os.getpid()}_{next(_databases)}"
    admin = postgres_server.replace("postgresql+psycopg", "postgresql") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{postgres_server}/{name}"


def add_role(url: str, name: str, *, write: bool = False) -> str:
    """Create login role ``name`` on ``url``'s database allowed to read every table there now
    (and insert/update/delete when ``write``), never to create or alter any; return the URL
    that connects as it. Roles are cluster-wide: give each test its own name.
    """
    import psycopg
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = target.set(drivername="postgresql").render_as_string(hide_password=False)
    grants = "SELECT, INSERT, UPDATE, DELETE" if write else "SELECT"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{name}" LOGIN')
        conn.execute(f'GRANT CONNECT ON DATABASE "{target.database}" TO "{name}"')
        conn.execute(f'GRANT USAGE ON SCHEMA public TO "{name}"')
        conn.execute(f'GRANT {grants} ON ALL TABLES IN SCHEMA public TO "{name}"')
        conn.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{name}"')
    return target.set(username=name).render_as_string(hide_password=False)


def admin_execute(url: str, *statements: str) -> None:
    """Run ``statements`` as the superuser on ``url``'s database (autocommit)."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(url).set(drivername="postgresql", username="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)
