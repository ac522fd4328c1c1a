"""The command line: a typer app with one module per command group (``llm-council``)."""

from __future__ import annotations

from llm_council.cli.app import app, main

__all__ = ["app", "main"]
