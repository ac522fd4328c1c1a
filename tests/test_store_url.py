"""A store URL that cannot work is refused when the store is created: before any paid call.

Unparsable URLs, databases other than SQLite/PostgreSQL, unknown or async drivers and a
missing PostgreSQL driver each give one StoreConfigError line naming the URL (password
hidden); ``llm-council run`` turns it into exit code 2 without calling anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llm_council.audition.store import (
    AuditionStore,
    AuditionStoreError,
    StoreConfigError,
    open_store,
)
from llm_council.config import load_config

ROOT = Path(__file__).resolve().parents[1]
PG_URL = "postgresql+psycopg://council:hunter2@db.example:5432/audition"
PG_SHOWN = "postgresql+psycopg://council:***@db.example:5432/audition"
HINT = "pip install 'llm-council[postgres]'"


def refused(url: str) -> str:
    with pytest.raises(StoreConfigError) as caught:
        open_store(load_config(None, {"LLM_COUNCIL_AUDITION_URL": url}))
    message = str(caught.value)
    assert "\n" not in message and "hunter2" not in message
    assert isinstance(caught.value, AuditionStoreError) and isinstance(caught.value, ValueError)
    return message


def test_other_databases_are_refused_by_name():
    message = refused("mysql://council:hunter2@db.example/audition")
    assert message == (
        "unsupported database 'mysql' in the audition store URL "
        "mysql://council:***@db.example/audition; supported: sqlite, postgresql"
    )
    assert "unsupported database 'mssql'" in refused("mssql+pyodbc://council:hunter2@dsn")


def test_unparsable_urls_are_refused():
    message = refused("not a url at all")
    assert message.startswith("invalid audition store URL 'not a url at all': ")
    assert "sqlite:///" in message  # an example of what would work
    message = refused("postgresql//council:hunter2@db.example/audition")  # no colon
    assert "'postgresql//council:***@db.example/audition'" in message


def test_unknown_and_async_drivers_are_refused():
    message = refused("postgresql+nosuchdriver://council:hunter2@db.example/audition")
    assert "unknown postgresql driver 'nosuchdriver'" in message and "council:***@" in message
    message = refused("postgresql+asyncpg://council:hunter2@db.example/audition")
    assert "async driver 'asyncpg'" in message and "postgresql+psycopg://" in message
    assert "async driver 'aiosqlite'" in refused("sqlite+aiosqlite:///x.db")


def test_working_urls_connect_nothing(tmp_path):
    store = AuditionStore(PG_URL)  # psycopg is installed here; nothing is contacted
    assert store.url_for_humans == PG_SHOWN and "hunter2" not in repr(store)
    path = tmp_path / "sub" / "audition.db"
    AuditionStore(f"sqlite:///{path}")
    assert not path.parent.exists()


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_a_missing_postgres_driver_is_named_with_the_install_hint():
    """A real interpreter in which ``import psycopg`` fails, as when the extra is missing."""
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from llm_council.audition.store import AuditionStore, StoreConfigError\n"
        f"for url in ({PG_URL!r}, 'postgresql://council:hunter2@db.example/audition'):\n"
        "    try:\n"
        "        AuditionStore(url)\n"
        "    except StoreConfigError as exc:\n"
        "        print(exc)\n"
    )
    out = _python(code)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert first == (
        f"the audition store URL {PG_SHOWN} needs the Python driver 'psycopg', which is not "
        f"installed: {HINT}"
    )
    assert "council:***@db.example" in second and second.endswith(HINT)
    assert "hunter2" not in out.stdout + out.stderr


@pytest.fixture
def run_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "LLM_"))}
    return env | {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "llm_council", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=env["HOME"],
    )


def test_run_without_the_postgres_driver_exits_2_before_any_call(run_env, tmp_path):
    """``psycopg`` missing (a package on PYTHONPATH whose import fails): exit 2, one line,
    no session shown, stored or spilled."""
    shadow = tmp_path / "shadow" / "psycopg"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('psycopg is not installed here')\n")
    env = run_env | {
        "PYTHONPATH": os.pathsep.join([str(shadow.parent), str(ROOT)]),
        "LLM_COUNCIL_AUDITION_URL": PG_URL,
    }
    out = _cli(env, "run", "Merge two sorted lists.", "--gateway", "sandbox", "--json")
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stdout == ""  # no session result
    said = " ".join(out.stderr.split())
    assert PG_SHOWN in said and HINT in said and "hunter2" not in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "data").exists()  # nothing stored or spilled anywhere
    listed = _cli(env, "sessions", "list")
    assert listed.returncode == 2 and HINT in " ".join(listed.stderr.split())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://council:hunter2@db.example/audition", "unsupported database 'mysql'"),
        ("not a url at all", "invalid audition store URL"),
    ],
)
def test_run_with_an_unusable_url_exits_2(run_env, tmp_path, url, expected):
    out = _cli(run_env | {"LLM_COUNCIL_AUDITION_URL": url}, "run", "x", "--gateway", "sandbox")
    assert out.returncode == 2, out.stdout + out.stderr
    assert expected in out.stderr and "hunter2" not in out.stderr
    assert not (tmp_path / "data").exists()


def test_a_working_url_still_runs(run_env, tmp_path):
    """The control: the same command with a usable store runs and stores the session."""
    url = f"sqlite:///{tmp_path / 'audition.db'}"
    out = _cli(
        run_env | {"LLM_COUNCIL_AUDITION_URL": url}, "run", "x", "--gateway", "sandbox", "--json"
    )
    assert out.returncode == 0, out.stderr
    session_id = json.loads(out.stdout)["session_id"]
    assert AuditionStore(url).get_session(session_id).calls
