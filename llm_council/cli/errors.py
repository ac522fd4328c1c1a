"""The one way CLI commands report a problem: a plain line on stderr and an exit code."""

from __future__ import annotations

import typer


def fail(message: str, code: int) -> typer.Exit:
    """Print ``error: message`` unwrapped on stderr; return the Exit to raise (1 work, 2 input).

    ``message`` often quotes outside text (a provider's error, a file name, an argument), so
    it is shown literally: ``[bold]`` stays visible, ``[/x]`` cannot raise, controls are
    neutralised.
    """
    from rich.console import Console

    from llm_council.textsafe import markup_text

    Console(stderr=True, soft_wrap=True).print(
        f"[red]error:[/red] {markup_text(message)}", highlight=False, markup=True, emoji=False
    )
    return typer.Exit(code)
