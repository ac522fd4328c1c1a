"""The follow-up thread of a session for ``sessions show``: one line per session.

Ancestors first (the first question at the top), then the session itself, then its direct
follow-ups, each as ``id prefix, time, tier, status, question``. Questions are outside
text: they pass through ``textsafe`` before reaching the terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from llm_council.audition.store_read import Thread, ThreadEntry
    from llm_council.council.result import SessionResult

__all__ = ["print_thread", "thread_lines"]

ID_PREFIX = 8  # enough to pass to `sessions show` or `run --continue`
QUESTION_WIDTH = 72


def thread_lines(result: SessionResult, thread: Thread) -> list[str]:
    """The thread as plain lines (not yet terminal-safe); [] for a session on its own."""
    if not (thread.ancestors or thread.children or thread.missing_parent):
        return []
    lines = ["Thread (follow-ups: llm-council run --continue ID):"]
    if thread.missing_parent:
        lines.append(f"  ↑ {thread.missing_parent[:ID_PREFIX]}  (not in this store)")
    lines += [_line("↑", entry) for entry in thread.ancestors]
    when = result.created_at.strftime("%Y-%m-%d %H:%M")
    lines.append(
        f"  ● {result.session_id[:ID_PREFIX]}  {when}  {result.tier:<9} {result.status:<11} "
        f"{_question(result.prompt)}  (this session)"
    )
    lines += [_line("↓", entry) for entry in thread.children]
    return lines


def print_thread(result: SessionResult, thread: Thread, console: Console | None = None) -> None:
    """Print the thread on stdout (nothing for a session with no follow-up or parent)."""
    from rich.console import Console
    from rich.text import Text

    from llm_council.textsafe import terminal_text

    lines = thread_lines(result, thread)
    if not lines:
        return
    out = console or Console(soft_wrap=True)
    out.print()
    for line in lines:
        out.print(Text(terminal_text(line)), highlight=False)


def _line(mark: str, entry: ThreadEntry) -> str:
    when = entry.created_at.strftime("%Y-%m-%d %H:%M")
    return (
        f"  {mark} {entry.session_id[:ID_PREFIX]}  {when}  {entry.tier:<9} {entry.status:<11} "
        f"{_question(entry.prompt)}"
    )


def _question(prompt: str) -> str:
    line = " ".join(prompt.split())
    return line if len(line) <= QUESTION_WIDTH else line[: QUESTION_WIDTH - 1] + "…"
