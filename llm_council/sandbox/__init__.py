"""The offline OpenRouter-compatible sandbox (in-process via httpx.ASGITransport, or uvicorn)."""

from __future__ import annotations

from llm_council.sandbox.app import SandboxApp, SandboxOptions, create_app
from llm_council.sandbox.faults import Fault

__all__ = ["Fault", "SandboxApp", "SandboxOptions", "create_app"]
