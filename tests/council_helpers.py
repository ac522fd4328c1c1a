"""Build councils on the sandbox for tests: config from a dict, sandbox in-process or on a socket."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from llm_council.api import Council
from llm_council.audition.logger import AuditionLogger
from llm_council.audition.store import AuditionStore
from llm_council.choices import TIERS
from llm_council.config import CouncilConfig, parse_config
from llm_council.defaults import shipped_file
from llm_council.gateway.openrouter import OpenRouterGateway
from llm_council.registry import Registry, load_registry
from llm_council.sandbox import SandboxApp, SandboxOptions, create_app
from tests.conftest import serve_asgi

SANDBOX_URL = "http://sandbox.test/api/v1"


def make_config(
    pools: dict[str, list[Any]] | None = None, **sections: dict[str, Any]
) -> CouncilConfig:
    """The shipped config with some pools replaced and sections patched (fast retries)."""
    raw = yaml.safe_load(shipped_file("unified_config.yaml").read_text())
    raw = copy.deepcopy(raw)
    raw["gateway"].update({"backoff_base_s": 0.01, "backoff_max_s": 0.02, "max_attempts": 2})
    for tier, models in (pools or {}).items():
        raw["tiers"]["pools"][tier]["models"] = models
    _merge(raw, sections)
    return parse_config(raw, source="<test>")


def _merge(into: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def sandbox_council(
    config: CouncilConfig,
    *,
    registry: Registry | None = None,
    base_url: str | None = None,
    app: SandboxApp | None = None,
    seed: int = 0,
) -> tuple[Council, SandboxApp]:
    """A Council on the sandbox: in-process via ASGITransport, or over ``base_url`` (a socket)."""
    registry = registry or load_registry()
    app = app or create_app(registry, SandboxOptions(seed=seed, latency_ms=0))
    transport = None if base_url else httpx.ASGITransport(app=app)
    gateway = OpenRouterGateway(
        config.gateway,
        api_key="sk-or-test-key-123",
        kind="sandbox",
        transport=transport,
        base_url=base_url or SANDBOX_URL,
        tier_scores={t.value: s for t, s in config.pareto.tier_scores.items()},
    )
    return Council(config, registry, gateway, audition=None), app


def requests_for(app: SandboxApp, model: str) -> list[dict[str, Any]]:
    return [body for body in app.requests if body.get("model") == model]


def cli_in_subprocess(
    tmp_path: Path, *args: str, cwd: Path | None = None, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    """``python -m llm_council ARGS`` in a fresh process: sandbox only (no key), user dirs and
    the audition store (``cli.db``) under ``tmp_path``, stdin closed."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "LLM_COUNCIL_AUDITION_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        **extra_env,
    }
    return subprocess.run(
        [sys.executable, "-m", "llm_council", *args],
        cwd=cwd or tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


SANDBOX_POOL = ["anthropic/claude-sonnet-4.6", "openai/gpt-5.4", "openrouter/pareto-code"]


@contextmanager
def council_on_sandbox(
    tmp_path: Path, pool: list[str] = SANDBOX_POOL
) -> Iterator[tuple[Council, SandboxApp, AuditionStore]]:
    """A council with a SQLite store, its gateway talking to the sandbox over a socket."""
    registry = load_registry()
    sandbox = create_app(registry, SandboxOptions(latency_ms=0))
    store = AuditionStore(f"sqlite:///{tmp_path / 'audition.db'}")
    with serve_asgi(sandbox) as url:
        council, _ = sandbox_council(
            make_config(dict.fromkeys(TIERS, pool)), registry=registry, base_url=f"{url}/api/v1"
        )
        council.audition = AuditionLogger(store, registry, spill_to=[tmp_path / "unsent"])
        yield council, sandbox, store
    store.close()
