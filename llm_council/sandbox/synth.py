"""Deterministic synthetic answers, peer reviews and chairman syntheses for the sandbox.

Everything is seeded with hashlib from (seed, concrete model, prompt text), never ``hash()``,
so a run is reproducible across processes. Answer quality follows the registry's coding
score (stronger models write more tests and edge-case notes) and reviewers rank candidates
from their *text*, with noise that shrinks as the reviewer gets stronger. Reports on
sandbox data therefore show a real, if simulated, quality signal.
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

RequestKind = Literal["answer", "review", "chairman"]

CANDIDATE_RE = re.compile(
    r'<candidate label="(Response [A-Z]+)">\n?(.*?)\n?</candidate>', re.DOTALL
)
_RANKED_RE = re.compile(r"^\s*\d+\.\s+(Response [A-Z]+)\b", re.MULTILINE)
_CODE_RE = re.compile(r"```python\n(.*?)```", re.DOTALL)
_CODING_RE = re.compile(
    r"\b(code|coding|function|python|rust|golang|java|typescript|javascript|sql|regex|bug|"
    r"debug|refactor|implement|class|method|api|tests?|compile|algorithm|script|merge|sort|"
    r"parse|programs?|software)\b",
    re.IGNORECASE,
)
_EDGE_CASES = (
    "an empty input returns an empty result instead of raising",
    "a single element is handled without special-casing the loop",
    "duplicate values keep their relative order (the function is stable)",
    "mixed, non-comparable types raise TypeError early with a clear message",
    "very large inputs stay linear in time and memory",
    "None passed by mistake is rejected explicitly, not treated as empty",
)
_PROSE = (
    "The short answer depends on which trade-off matters most in your setting.",
    "Start from the constraint that cannot move, and let it decide the rest.",
    "A common mistake is to optimise the part that is easy to measure, not the part that hurts.",
    "In practice the simplest design that meets the requirement wins on maintenance.",
    "It helps to state the failure mode you are guarding against before picking a mechanism.",
    "Measure before and after; intuition about this kind of system is often wrong.",
    "There are exceptions, and they are usually about scale or about consistency guarantees.",
    "Write the decision down with its reason, so the next person can revisit it safely.",
)


@dataclass(frozen=True, slots=True)
class _Task:
    """A small coding task the sandbox can answer: code plus a generator of true asserts."""

    keywords: tuple[str, ...]
    code: str
    check: Callable[[int], str]


def _merge_check(i: int) -> str:
    a, b = list(range(0, 2 * i, 2)), list(range(1, 2 * i, 2))
    return f"assert merge_sorted({a}, {b}) == {sorted(a + b)}"


def _search_check(i: int) -> str:
    items = list(range(0, 3 * i, 3))
    target = 3 * (i // 2) if i % 2 else 3 * i + 1  # alternate hits and misses
    expected = items.index(target) if target in items else -1
    return f"assert binary_search({items}, {target}) == {expected}"


_PALINDROMES = ("", "a", "ab", "Racecar", "No lemon, no melon", "abc", "Was it a cat I saw?", "xyz")


def _palindrome_check(i: int) -> str:
    text = _PALINDROMES[i % len(_PALINDROMES)]
    cleaned = [c.lower() for c in text if c.isalnum()]
    return f"assert is_palindrome({text!r}) is {cleaned == cleaned[::-1]}"


def _dedupe_check(i: int) -> str:
    items = [(j * 7) % (i + 2) for j in range(i + 2)]
    return f"assert dedupe({items}) == {list(dict.fromkeys(items))}"


_TASKS = (
    _Task(
        ("merge", "sorted", "sort"),
        "def merge_sorted(a: list, b: list) -> list:\n"
        '    """Merge two sorted lists into one sorted list (stable)."""\n'
        "    out, i, j = [], 0, 0\n"
        "    while i < len(a) and j < len(b):\n"
        "        if b[j] < a[i]:\n"
        "            out.append(b[j])\n"
        "            j += 1\n"
        "        else:\n"
        "            out.append(a[i])\n"
        "            i += 1\n"
        "    return out + a[i:] + b[j:]\n",
        _merge_check,
    ),
    _Task(
        ("search", "find", "bisect", "lookup"),
        "def binary_search(items: list, target: object) -> int:\n"
        '    """Index of ``target`` in the sorted ``items``, or -1."""\n'
        "    lo, hi = 0, len(items) - 1\n"
        "    while lo <= hi:\n"
        "        mid = (lo + hi) // 2\n"
        "        if items[mid] == target:\n"
        "            return mid\n"
        "        if items[mid] < target:\n"
        "            lo = mid + 1\n"
        "        else:\n"
        "            hi = mid - 1\n"
        "    return -1\n",
        _search_check,
    ),
    _Task(
        ("palindrome", "reverse", "string"),
        "def is_palindrome(text: str) -> bool:\n"
        '    """True when ``text`` reads the same backwards, ignoring case and punctuation."""\n'
        "    cleaned = [c.lower() for c in text if c.isalnum()]\n"
        "    return cleaned == cleaned[::-1]\n",
        _palindrome_check,
    ),
    _Task(
        (),
        "def dedupe(items: list) -> list:\n"
        '    """Drop repeated items, keeping the first occurrence of each, in order."""\n'
        "    return list(dict.fromkeys(items))\n",
        _dedupe_check,
    ),
)


def rng_for(*parts: object) -> random.Random:
    """A Random seeded from the parts' text (stable across runs, unlike ``hash()``)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def classify(messages: Sequence[dict[str, Any]]) -> RequestKind:
    """Chairman (by its system prompt), peer review (candidate blocks) or a plain answer."""
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    if system.lstrip().startswith("You are the chairman"):
        return "chairman"
    return "review" if CANDIDATE_RE.search(_last_user(messages)) else "answer"


def compose(model: str, coding_score: float, messages: Sequence[dict[str, Any]], seed: int) -> str:
    """The synthetic reply of ``model`` to ``messages`` (contents already plain text)."""
    kind = classify(messages)
    if kind == "chairman":
        return chairman(model, _last_user(messages))
    if kind == "review":
        return review(model, coding_score, _last_user(messages), seed)
    return answer(model, coding_score, messages, seed)


def banner(model: str) -> str:
    """The first line of every sandbox reply, so nobody mistakes it for real model output."""
    return f"_(sandbox answer from {model}; simulated, not a real model)_\n\n"


def answer(model: str, coding_score: float, messages: Sequence[dict[str, Any]], seed: int) -> str:
    """A coding answer (code, asserts, edge-case notes) or, for other prompts, prose."""
    full = "\n".join(m["content"] for m in messages)
    question = _last_user(messages)
    rng = rng_for(seed, model, full)
    if not _CODING_RE.search(full):
        return banner(model) + _prose(question, coding_score, rng)
    task = next(
        t for t in _TASKS if not t.keywords or any(k in question.lower() for k in t.keywords)
    )
    # Stronger models test more and think about more edge cases; the jitter keeps
    # neighbouring scores from always producing identical answers.
    tests = min(8, max(1, 1 + round(coding_score * 6 + rng.uniform(-1.2, 1.2))))
    edges = min(len(_EDGE_CASES), max(0, round(coding_score * 4 + rng.uniform(-1, 1))))
    asserts = "\n".join(task.check(i) for i in range(tests))
    notes = "".join(f"- Edge case: {e}\n" for e in rng.sample(_EDGE_CASES, edges))
    return (
        banner(model) + "Here is an implementation with tests.\n\n"
        f"```python\n{task.code}\n\n{asserts}\n```\n\n{notes}"
    )


def _prose(question: str, coding_score: float, rng: random.Random) -> str:
    topic = " ".join(question.split()[:12]).rstrip("?.!") or "the question"
    paragraphs = [f"On {topic!r}: {rng.choice(_PROSE)}"]
    for _ in range(1 + round(coding_score * 2)):
        paragraphs.append(" ".join(rng.sample(_PROSE, 3)))
    return "\n\n".join(paragraphs) + "\n"


def quality_of(text: str) -> float:
    """What a sandbox reviewer can see of an answer's quality: its tests and edge cases."""
    return text.count("assert ") + 1.5 * text.count("Edge case:")


def review(model: str, coding_score: float, review_prompt: str, seed: int) -> str:
    """A short critique of every candidate block, then a fenced JSON ranking, best first."""
    candidates = [
        (label, html.unescape(text)) for label, text in CANDIDATE_RE.findall(review_prompt)
    ]
    prompt_key = hashlib.sha256(review_prompt.encode()).hexdigest()
    # A strong reviewer sees quality differences clearly; a weak one is easily swayed.
    noise = 0.5 + 3.0 * (1.0 - coding_score)
    scored = sorted(
        (
            (-(quality_of(text) + rng_for(seed, model, prompt_key, label).gauss(0, noise)), label)
            for label, text in candidates
        ),
    )
    ranking = [label for _, label in scored]
    critique = "".join(
        f"- {label}: {text.count('assert ')} test assertions, "
        f"{text.count('Edge case:')} edge cases discussed.\n"
        for label, text in candidates
    )
    return banner(model) + f"{critique}\n```json\n{json.dumps({'ranking': ranking})}\n```\n"


def chairman(model: str, chairman_prompt: str) -> str:
    """A Markdown synthesis built on the best-ranked candidate, ending in a code block."""
    candidates = {
        label: html.unescape(text) for label, text in CANDIDATE_RE.findall(chairman_prompt)
    }
    # Only the ranking after the last candidate counts: a candidate's own text may hold
    # numbered lines that look like one.
    tail = chairman_prompt.rsplit("</candidate>", 1)[-1]
    ranked = [label for label in _RANKED_RE.findall(tail) if label in candidates]
    if not candidates:
        return banner(model) + "## Final answer\n\nThere were no council answers to build on.\n"
    if ranked:
        best, why = ranked[0], "the answer the council ranked highest"
    else:
        best = max(candidates, key=lambda label: (quality_of(candidates[label]), label))
        why = "the most thoroughly tested answer (no peer ranking was available)"
    parts = [f"This synthesis builds on **{best}**, {why}."]
    if others := [label for label in candidates if label != best]:
        names = others[0] if len(others) == 1 else f"{', '.join(others[:-1])} and {others[-1]}"
        parts.append(f"It keeps what {names} added where that holds up.")
    code = _CODE_RE.search(candidates[best])
    if code:
        parts.append("The final code:")
        block = f"```python\n{code.group(1).rstrip()}\n```\n"
    else:
        block = f"```text\nSummary: see {best} above; no candidate included code.\n```\n"
    return banner(model) + f"## Final answer\n\n{' '.join(parts)}\n\n{block}"


def tokens(text: str) -> int:
    """OpenRouter-ish token estimate: four characters a token, at least one."""
    return max(1, len(text) // 4)


def _last_user(messages: Sequence[dict[str, Any]]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
