"""The eval's bundled coding tasks, as the sandbox sees them: prompt, reference, wrong variant.

``llm-council eval`` asks the council each bundled task's prompt as it is (stage-1 prompts
carry no wrapping), so the sandbox recognises a task by its exact prompt (a hash lookup) or,
should a caller add words around it, by the prompt appearing verbatim in the question. It
then answers with the task's stored ``reference`` or ``wrong`` code (see ``solving``).

The sandbox reads ``llm_council/evaluation/data/tasks.jsonl`` itself instead of importing
the evaluation package: the sandbox sits in the gateway layer, below the evaluation that
drives councils (ADR-010), and ``sandbox serve`` should not load the eval machinery. Only
tasks that carry both a ``reference`` and a ``wrong`` solution are kept; a user's own task
file usually has neither, and its questions get the ordinary sandbox answers.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

# Where the bundled set lives inside the package (resolved without importing the
# evaluation package, whose __init__ may pull in the council).
BUNDLED_TASKS = ("evaluation", "data", "tasks.jsonl")
_DIFFICULTY_NAMES = {"easy": 0.0, "medium": 0.5, "hard": 1.0}
# A prompt shorter than this is too generic to look for inside a longer question.
_MIN_SUBSTRING_PROMPT = 40


@dataclass(frozen=True, slots=True)
class KnownTask:
    """A bundled task the sandbox can answer with real code."""

    id: str
    prompt: str
    entry_point: str
    reference: str  # passes the task's tests
    wrong: str  # a plausible solution that fails them
    difficulty: float  # 0 (easy) .. 1 (hard)
    category: str = ""


def prompt_key(text: str) -> str:
    """A stable hash of a prompt, insensitive to surrounding and repeated whitespace."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8", "surrogatepass")).hexdigest()


class TaskBook:
    """Known tasks, looked up by the question a request asks."""

    def __init__(self, tasks: Iterable[KnownTask] = ()) -> None:
        self.tasks: tuple[KnownTask, ...] = tuple(tasks)
        self._by_key = {prompt_key(t.prompt): t for t in self.tasks}
        # Longest prompt first, so a task whose prompt contains another's wins.
        self._by_length = sorted(
            (t for t in self.tasks if len(t.prompt.strip()) >= _MIN_SUBSTRING_PROMPT),
            key=lambda t: -len(t.prompt),
        )

    def __len__(self) -> int:
        return len(self.tasks)

    def __repr__(self) -> str:
        return f"TaskBook(tasks={len(self.tasks)})"

    def match(self, question: str) -> KnownTask | None:
        """The task whose prompt is ``question``, or appears verbatim in it; else None."""
        if not self.tasks or not question.strip():
            return None
        exact = self._by_key.get(prompt_key(question))
        if exact is not None:
            return exact
        flat = " ".join(question.split())
        return next((t for t in self._by_length if " ".join(t.prompt.split()) in flat), None)


def difficulty_of(value: object) -> float:
    """0..1 from "easy"/"medium"/"hard", a number in [0, 1], or a 1..5 level; else medium."""
    if isinstance(value, str):
        return _DIFFICULTY_NAMES.get(value.strip().lower(), 0.5)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.5
    if 0 <= value <= 1:
        return float(value)
    if 1 < value <= 5:
        return (float(value) - 1) / 4
    return 0.5


def parse_tasks(lines: Iterable[str], source: str) -> TaskBook:
    """The tasks with a reference and a wrong solution; a malformed line is an error."""
    tasks = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue  # blank lines and // comments, as the eval's loader allows
        try:
            raw: Any = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{source}:{number}: not JSON ({exc.msg}); fix the line") from None
        if not isinstance(raw, dict):
            raise ValueError(f"{source}:{number}: a task must be a JSON object")
        fields = ("id", "prompt", "entry_point", "reference", "wrong")
        if not all(isinstance(raw.get(f), str) and raw[f].strip() for f in fields):
            continue  # not answerable by the sandbox (e.g. a user's task without solutions)
        tasks.append(
            KnownTask(
                id=raw["id"],
                prompt=raw["prompt"],
                entry_point=raw["entry_point"],
                reference=raw["reference"],
                wrong=raw["wrong"],
                difficulty=difficulty_of(raw.get("difficulty")),
                category=raw["category"] if isinstance(raw.get("category"), str) else "",
            )
        )
    return TaskBook(tasks)


def load_tasks(path: Path | Traversable) -> TaskBook:
    """Read a JSON Lines task file; a missing file is an empty book."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return TaskBook()
    return parse_tasks(text.splitlines(), str(path))


@functools.cache
def bundled_tasks() -> TaskBook:
    """The bundled task set, read once per process on first use (not at import)."""
    return load_tasks(resources.files("llm_council").joinpath(*BUNDLED_TASKS))
