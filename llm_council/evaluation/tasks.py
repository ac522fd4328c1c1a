"""Eval tasks: the model, and loading them from JSON Lines, a directory, or the bundled set.

A task file is JSON Lines, one task per line (blank lines and lines starting with ``//`` are
skipped)::

    {"id": "merge-sorted", "prompt": "...", "entry_point": "merge",
     "tests": "assert merge([1, 3], [2]) == [1, 2, 3]\\n", "language": "python"}

``tests`` is Python run after the extracted answer in the same module; the task passes when
it exits 0 within the limits. Optional fields: ``reference`` (a solution that passes),
``wrong`` (a plausible solution that must fail), ``difficulty`` (easy|medium|hard) and
``category``. A directory holds ``*.jsonl`` files and/or one sub-directory per task with
``task.json`` (the same fields; ``id`` defaults to the directory name) and, instead of the
inline fields, ``prompt.md``, ``tests.py``, ``reference.py`` and ``wrong.py``.
"""

from __future__ import annotations

import json
import keyword
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

BUNDLED = "tasks.jsonl"
_MAX_FILE_BYTES = 50 * 1024 * 1024  # a task file larger than this is a mistake, not a task set
_DIR_FILES = {
    "prompt": "prompt.md",
    "tests": "tests.py",
    "reference": "reference.py",
    "wrong": "wrong.py",
}


class TaskFileError(ValueError):
    """A task file or directory that cannot be used; the message names the file and line."""


class Task(BaseModel):
    """One coding problem with hidden tests."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    prompt: str
    entry_point: str
    tests: str
    language: Literal["python"] = "python"
    reference: str | None = None
    wrong: str | None = None
    difficulty: Literal["easy", "medium", "hard"] | None = None
    category: str | None = None

    @field_validator("id")
    @classmethod
    def _id_is_plain(cls, value: str) -> str:
        if not value or len(value) > 100 or not all(c.isalnum() or c in "-_." for c in value):
            raise ValueError("id must be 1-100 letters, digits, '-', '_' or '.'")
        return value

    @field_validator("entry_point")
    @classmethod
    def _entry_is_identifier(cls, value: str) -> str:
        if not value.isidentifier() or keyword.iskeyword(value):
            raise ValueError(f"entry_point {value!r} is not a Python identifier")
        return value

    @field_validator("prompt", "tests")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


def load_tasks(source: Path | None = None) -> list[Task]:
    """Tasks from a JSONL file or a directory (see the module docstring); bundled when None.

    Raises :class:`TaskFileError` naming the file (and line) for anything unusable: a missing
    path, bad JSON, a missing or unknown field, a duplicate id, or no task at all.
    """
    if source is None:
        text = (
            resources.files("llm_council.evaluation")
            .joinpath("data", BUNDLED)
            .read_text(encoding="utf-8")
        )
        tasks = _parse_jsonl(text, f"<bundled {BUNDLED}>")
    else:
        path = Path(source)
        if path.is_dir():
            tasks = _load_dir(path)
        elif path.is_file():
            tasks = _parse_jsonl(_read(path), str(path))
        else:
            raise TaskFileError(
                f"{path}: no such task file or directory; pass a .jsonl file or a directory"
            )
    return _check_unique(tasks, str(source) if source is not None else f"<bundled {BUNDLED}>")


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > _MAX_FILE_BYTES:
            raise TaskFileError(f"{path}: larger than {_MAX_FILE_BYTES // 2**20} MB; split it")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TaskFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise TaskFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None


def _parse_jsonl(text: str, name: str) -> list[Task]:
    tasks = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("//"):
            continue
        try:
            raw = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise TaskFileError(
                f"{name}:{number}: not valid JSON ({exc.msg}, column {exc.colno})"
            ) from None
        tasks.append(_task(raw, f"{name}:{number}"))
    if not tasks:
        raise TaskFileError(f"{name}: no tasks in it; write one JSON object per line")
    return tasks


def _task(raw: Any, where: str) -> Task:
    if not isinstance(raw, dict):
        raise TaskFileError(f"{where}: a task must be a JSON object, got {type(raw).__name__}")
    try:
        return Task.model_validate(raw)
    except ValidationError as exc:
        raise TaskFileError(f"{where}: {_first_problem(exc)}") from None


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error["loc"]) or "task"
    if error["type"] == "missing":
        return f"missing field {field!r}"
    if error["type"] == "extra_forbidden":
        return f"unknown field {field!r} (allowed: {', '.join(Task.model_fields)})"
    message = str(error["msg"]).removeprefix("Value error, ")
    more = f" (and {len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
    return f"field {field!r}: {message}{more}"


def _load_dir(path: Path) -> list[Task]:
    tasks: list[Task] = []
    for file in sorted(path.glob("*.jsonl")):
        tasks += _parse_jsonl(_read(file), str(file))
    for sub in sorted(p for p in path.iterdir() if p.is_dir() and (p / "task.json").is_file()):
        meta = sub / "task.json"
        try:
            raw = json.loads(_read(meta))
        except json.JSONDecodeError as exc:
            raise TaskFileError(f"{meta}:{exc.lineno}: not valid JSON ({exc.msg})") from None
        if isinstance(raw, dict):
            raw.setdefault("id", sub.name)
            for field, filename in _DIR_FILES.items():
                if (sub / filename).is_file():
                    if field in raw:
                        raise TaskFileError(
                            f"{meta}: {field!r} is given both inline and as {filename}; keep one"
                        )
                    raw[field] = _read(sub / filename)
        tasks.append(_task(raw, str(meta)))
    if not tasks:
        raise TaskFileError(
            f"{path}: no tasks found; put *.jsonl files or task directories with task.json in it"
        )
    return tasks


def _check_unique(tasks: list[Task], name: str) -> list[Task]:
    seen: set[str] = set()
    for task in tasks:
        if task.id in seen:
            raise TaskFileError(
                f"{name}: task id {task.id!r} appears more than once; ids must be unique"
            )
        seen.add(task.id)
    return tasks
