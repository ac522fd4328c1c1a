"""The inputs of a batch: the prompts file and the journal that makes ``--resume`` possible.

Prompts files:

* ``.txt``: one prompt per non-empty line (surrounding whitespace trimmed); the id of a
  prompt is its line number, ``line-7``. Multi-line prompts need ``.jsonl``.
* ``.jsonl``: one JSON object per non-empty line, ``{"id": "merge", "prompt": "...",
  "tier": "high"}``; ``tier`` is optional, other keys are ignored (so an ``eval`` task
  file works as is). Ids must be unique.

The journal is JSON Lines, appended and flushed one line per event, so it survives a
crash up to the last whole line: ``{"id", "prompt_sha256", "session_id", "status",
"tier", "estimate_usd", "cost_usd", "error", "at"}``. ``status`` is ``running`` when a
session starts, then the session's own status (``ok``, ``partial``, ``failed``,
``interrupted``), or ``refused`` / ``error`` when no session could run, or ``lost`` for a
session whose process died without recording it. The last line of an id wins.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ValidationError

from llm_council.choices import TIERS

try:  # an advisory lock keeps two batches off one journal (POSIX only)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

JournalStatus = Literal[
    "running", "ok", "partial", "failed", "interrupted", "refused", "error", "lost"
]
# A prompt whose last journal line says one of these has a finished, recorded session;
# ``--resume`` does not run it again. Everything else (interrupted, lost, refused, error,
# never started) runs again.
FINISHED: frozenset[str] = frozenset({"ok", "partial", "failed"})
MAX_ID_LENGTH = 200


class BatchInputError(ValueError):
    """The prompts file or the journal cannot be used; the message names file, line and fix."""


@dataclass(frozen=True, slots=True)
class PromptItem:
    id: str
    prompt: str
    tier: str | None  # None: the batch's --tier, else the config's default tier
    line: int

    @property
    def sha256(self) -> str:
        return prompt_sha256(self.prompt)


def prompt_sha256(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest()


def load_prompts(path: Path) -> list[PromptItem]:
    """The prompts of a ``.txt`` or ``.jsonl`` file (see the module docstring)."""
    kind = path.suffix.lower()
    if kind not in (".txt", ".jsonl"):
        raise BatchInputError(
            f"{path}: a prompts file must end in .txt (one prompt per line) or .jsonl "
            '({"id": ..., "prompt": ...} per line)'
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BatchInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BatchInputError(
            f"{path} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "convert it first, e.g. with iconv -t utf-8"
        ) from None
    lines = text.splitlines()
    items = _txt_items(lines) if kind == ".txt" else _jsonl_items(path, lines)
    if not items:
        raise BatchInputError(f"{path} holds no prompts")
    return items


def _txt_items(lines: list[str]) -> list[PromptItem]:
    return [
        PromptItem(id=f"line-{n}", prompt=line.strip(), tier=None, line=n)
        for n, line in enumerate(lines, start=1)
        if line.strip()
    ]


def _jsonl_items(path: Path, lines: list[str]) -> list[PromptItem]:
    items: list[PromptItem] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path} line {n}"
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise BatchInputError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise BatchInputError(f"{where}: must be a JSON object with 'id' and 'prompt'")
        item = _item(row, n, where)
        if item.id in seen:
            raise BatchInputError(
                f"{where}: id {item.id!r} is already used on line {seen[item.id]}"
            )
        seen[item.id] = n
        items.append(item)
    return items


def _item(row: dict[str, Any], n: int, where: str) -> PromptItem:
    raw_id = row.get("id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    if not isinstance(raw_id, str) or not raw_id.strip() or len(raw_id) > MAX_ID_LENGTH:
        raise BatchInputError(
            f"{where}: 'id' must be a non-empty string of at most {MAX_ID_LENGTH} characters"
        )
    prompt = row.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise BatchInputError(f"{where}: 'prompt' must be a non-empty string")
    tier = row.get("tier")
    if tier is not None and tier not in TIERS:
        raise BatchInputError(f"{where}: unknown tier {tier!r}; tiers are {', '.join(TIERS)}")
    return PromptItem(id=raw_id, prompt=prompt, tier=tier, line=n)


class JournalEntry(BaseModel):
    id: str
    prompt_sha256: str
    session_id: str | None = None
    status: JournalStatus
    tier: str | None = None
    estimate_usd: float | None = None
    cost_usd: float | None = None
    error: str | None = None
    at: str = ""


class Journal:
    """An append-only JSON Lines journal, locked against a second batch while open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.skipped_lines: list[int] = []  # unreadable lines (a crash mid-write, an edit)
        self._file: IO[str] | None = None

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    def exists(self) -> bool:
        return self.path.is_file() and self.path.stat().st_size > 0

    def read(self) -> list[JournalEntry]:
        """Every readable entry in order; unreadable lines are listed in ``skipped_lines``."""
        if not self.path.is_file():
            return []
        entries: list[JournalEntry] = []
        self.skipped_lines = []
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise BatchInputError(f"cannot read the journal {self.path}: {exc.strerror}") from None
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entries.append(JournalEntry.model_validate_json(line))
            except ValidationError:
                self.skipped_lines.append(n)
        return entries

    def open(self) -> None:
        """Open for appending and take the lock; BatchInputError if another batch holds it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise BatchInputError(
                f"cannot write the journal {self.path}: {exc.strerror}; choose another with "
                "--journal"
            ) from None
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                raise BatchInputError(
                    f"the journal {self.path} is in use by another batch; wait for it or use "
                    "another --journal"
                ) from None
        self._file = handle

    def append(self, entry: JournalEntry) -> None:
        """Write one line and flush it to the OS, so a later crash cannot lose it."""
        if self._file is None:
            return
        if not entry.at:
            entry = entry.model_copy(update={"at": datetime.now(UTC).isoformat()})
        self._file.write(entry.model_dump_json() + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()  # closing releases the lock
            self._file = None


def latest(entries: list[JournalEntry]) -> dict[str, JournalEntry]:
    """The last entry of each prompt id."""
    return {e.id: e for e in entries}


def sessions(entries: list[JournalEntry]) -> Iterator[JournalEntry]:
    """The last entry of each session (one session can have a ``running`` and an end line)."""
    last: dict[str, JournalEntry] = {}
    for entry in entries:
        if entry.session_id:
            last[entry.session_id] = entry
    yield from last.values()
