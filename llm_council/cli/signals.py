"""Ctrl-C for long CLI commands: the first press cancels the work so what finished is kept,
a second press leaves at once (exit 130)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable

from rich.console import Console


def cancel_on_sigint(err: Console, what_is_kept: str) -> Callable[[], None]:
    """Install the handler for the running task; return the function that removes it.

    ``what_is_kept`` completes the line shown on the first press ("interrupting: ...").
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    presses = 0

    def on_sigint() -> None:
        nonlocal presses
        presses += 1
        if presses > 1:
            sys.stderr.write("\ninterrupted again: exiting now\n")
            sys.stderr.flush()
            os._exit(130)
        err.print(
            f"\n[yellow]interrupting: {what_is_kept} (Ctrl-C again to exit at once)[/yellow]",
            highlight=False,
        )
        if task is not None:
            task.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    except (NotImplementedError, RuntimeError):  # not the main thread, or no signal support
        return lambda: None
    return lambda: loop.remove_signal_handler(signal.SIGINT)
