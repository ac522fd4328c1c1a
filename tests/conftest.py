"""Shared fixtures: serving an ASGI app over a real socket on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from hypothesis import settings

# CI (.ci/run sets HYPOTHESIS_PROFILE=ci) runs the same examples every time and no per-example
# deadline on a shared machine, so what passed on the commit passes there; a developer's run
# explores new examples each time.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_asgi(
    app: Any, *, on_shutdown: Callable[[], Awaitable[None]] | None = None
) -> Iterator[str]:
    """Run ``app`` under uvicorn in a background thread; yield its base URL (no trailing slash).

    ``on_shutdown`` runs in the server's event loop after it stops: where an app's clients
    (a council's gateway) made their connections, so they can be closed there.
    """
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)

    async def run() -> None:
        try:
            await server.serve()
        finally:
            if on_shutdown is not None:
                await on_shutdown()

    thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def asgi_server() -> Iterator[Callable[[Any], Any]]:
    """``with asgi_server(app) as base_url: ...`` inside a test."""
    yield serve_asgi


@pytest.fixture(autouse=True)
def _hermetic_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """Every test gets empty user data/config/cache dirs and no key or store from the
    developer's shell, so an overlay or store in someone's home cannot change results."""
    home = tmp_path_factory.mktemp("home")
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, str(home / name.lower()))
    monkeypatch.setenv("HOME", str(home))
    for name in (
        "OPENROUTER_API_KEY",
        "OPENROUTER_BASE_URL",
        "LLM_COUNCIL_CONFIG",
        "LLM_COUNCIL_AUDITION_URL",
        "LLM_COUNCIL_CHAIRMAN",
        "LLM_COUNCIL_LOG_LEVEL",
        *(n for n in os.environ if n.startswith("LLM_COUNCIL_MODELS_")),
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI sets up the ``llm_council`` logger (a stderr handler, a level); undo it per test."""
    logger = logging.getLogger("llm_council")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


@pytest.fixture(scope="module")
def scripted() -> Iterator[tuple[Any, str]]:
    """One scripted OpenRouter-compatible server per test module: ``server, url``."""
    from tests.scripted_openrouter import ScriptedServer

    server = ScriptedServer()
    with serve_asgi(server) as url:
        yield server, url
