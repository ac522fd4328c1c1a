"""Deterministic synthetic answers, peer reviews and chairman syntheses for the sandbox.

Answer quality follows the registry's coding score (stronger models write more tests and
edge-case notes), and reviewers rank candidates from their *text*, with noise that shrinks
as the reviewer gets stronger. Reports on sandbox data therefore show a real signal.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Sequence
from typing import Literal

RequestKind = Literal["answer", "review", "chairman"]

_CANDIDATE = re.compile(r'<candidate label="(Response [A-Z]{1,2})">\n?(.*?)</candidate>', re.DOTALL)
_RANKED = re.compile(r"^\s*\d+\.\s+(Response [A-Z]{1,2})", re.MULTILINE)
_CODING = re.compile(
    r"\b(code|function|python|rust|go|java|typescript|javascript|sql|regex|bug|debug|refactor|"
    r"implement|class|method|api|test|compile|algorithm|script|merge|sort|parse)\b",
    re.IGNORECASE,
)
_EDGE_CASES = (
    "empty inputs return an empty result",
    "inputs of very different lengths",
    "duplicate values keep their relative order (stable)",
    "non-comparable elements raise TypeError early",
    "very large inputs stay O(n) in time and memory",
    "None is rejected with a clear message",
)


def rng_for(*parts: object) -> random.Random:
    """A Random seeded from the parts' text (stable across runs, unlike ``hash()``)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def classify(messages: Sequence[dict[str, str]]) -> RequestKind:
    system = next((m.get("content", "") for m in messages if m.get("role") == "system"), "")
    last_user = next(
        (m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), ""
    )
    if system.startswith("You are the chairman"):
        return "chairman"
    if _CANDIDATE.search(last_user):
        return "review"
    return "answer"


def banner(model: str) -> str:
    return f"_(sandbox answer from {model}; simulated, not a real model)_\n\n"


def answer(model: str, coding_score: float, prompt: str, seed: int) -> str:
    rng = rng_for(seed, model, prompt)
    if not _CODING.search(prompt):
        sentences = 3 + round(coding_score * 4)
        body = " ".join(
            f"Point {i + 1}: a consideration weighed at confidence {rng.random():.2f}."
            for i in range(sentences)
        )
        return banner(model) + body + "\n"
    tests = 1 + round(coding_score * 6 + rng.uniform(-1, 1))
    edges = max(0, round(coding_score * 4 + rng.uniform(-1, 1)))
    asserts = "\n".join(
        f"assert merge_sorted({list(range(i))}, {list(range(i, 2 * i))}) == {list(range(2 * i))}"
        for i in range(max(1, tests))
    )
    notes = "\n".join(
        f"- Edge case: {e}" for e in rng.sample(_EDGE_CASES, min(edges, len(_EDGE_CASES)))
    )
    return (
        banner(model) + "Here is an implementation with tests.\n\n```python\n"
        "def merge_sorted(a: list, b: list) -> list:\n"
        "    out, i, j = [], 0, 0\n"
        "    while i < len(a) and j < len(b):\n"
        "        if b[j] < a[i]:\n"
        "            out.append(b[j]); j += 1\n"
        "        else:\n"
        "            out.append(a[i]); i += 1\n"
        "    return out + a[i:] + b[j:]\n\n"
        f"{asserts}\n```\n\n{notes}\n"
    )


def quality_of(text: str) -> float:
    """What a sandbox reviewer can see of an answer's quality: its tests and edge cases."""
    return text.count("assert ") + 1.5 * text.count("Edge case:")


def review(model: str, coding_score: float, prompt: str, last_user: str, seed: int) -> str:
    candidates = _CANDIDATE.findall(last_user)
    noise = 0.5 + 3.0 * (1.0 - coding_score)
    rng = rng_for(seed, model, prompt)
    scored = [(quality_of(text) + rng.gauss(0, noise), label) for label, text in candidates]
    ranking = [label for _, label in sorted(scored, key=lambda p: (-p[0], p[1]))]
    critique = "\n".join(
        f"- {label}: {quality_of(text):.0f} checks and edge cases noted."
        for label, text in candidates
    )
    return banner(model) + f"{critique}\n\n```json\n{json.dumps({'ranking': ranking})}\n```\n"


def chairman(model: str, last_user: str) -> str:
    ranked = _RANKED.findall(last_user)
    best = ranked[0] if ranked else "the answers"
    return (
        banner(model)
        + f"## Final answer\n\nBuilding on {best}, which the council ranked highest:\n\n"
        "```python\n"
        "def merge_sorted(a: list, b: list) -> list:\n"
        "    import heapq\n"
        "    return list(heapq.merge(a, b))\n\n"
        "assert merge_sorted([], []) == []\n"
        "assert merge_sorted([1, 3], [2]) == [1, 2, 3]\n"
        "```\n"
    )


def tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4)
