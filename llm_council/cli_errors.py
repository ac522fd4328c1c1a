"""The one way CLI commands report a problem: a plain line on stderr and an exit code."""

from __future__ import annotations

import typer
from rich.console import Console


def fail(message: str, code: int) -> typer.Exit:
    """Print ``error: message`` unwrapped on stderr; return the Exit to raise (1 work, 2 input)."""
    Console(stderr=True, soft_wrap=True).print(
        f"[red]error:[/red] {message}", highlight=False, markup=True
    )
    return typer.Exit(code)
