"""Serve the sandbox over HTTP with uvicorn (``llm-council sandbox serve``)."""

from __future__ import annotations

import uvicorn

from llm_council.registry import Registry, load_registry
from llm_council.sandbox.app import SandboxOptions, create_app


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    options: SandboxOptions | None = None,
    registry: Registry | None = None,
) -> None:
    """Block serving the simulated OpenRouter API at ``http://host:port/api/v1``."""
    app = create_app(registry or load_registry(), options)
    uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="on", access_log=False)
