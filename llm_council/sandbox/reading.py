"""What a simulated reviewer or chairman can see in a prompt and in an answer's text.

The council wraps answers in ``<candidate label="...">`` blocks (HTML-escaped) and the
question in ``<question>`` tags; these helpers take them apart again and read off the
visible features of an answer: its code, its asserts, the edge cases or considerations it
lists, whether it says it is simulated and which known bug it carries.
"""

from __future__ import annotations

import hashlib
import html
import random
import re
from dataclasses import dataclass

from llm_council.sandbox.topics import Topic, topic_with_bug

CANDIDATE_RE = re.compile(
    r'<candidate label="(Response [A-Z]+)">\n?(.*?)\n?</candidate>', re.DOTALL
)
_QUESTION_RE = re.compile(r"<question>\n?(.*?)\n?</question>", re.DOTALL)
_RANKED_RE = re.compile(
    r"^\s*\d+\.\s+(Response [A-Z]+)\b(?:\s*\(Borda\s+(-?\d+(?:\.\d+)?)\))?", re.MULTILINE
)
_CODE_RE = re.compile(r"```python\n(.*?)```", re.DOTALL)
_NOTE_RE = re.compile(r"^- (?:Edge case|Consideration): (.+?)\s*$", re.MULTILINE)
SIMULATED_MARK = "This is a simulated answer"


def rng_for(*parts: object) -> random.Random:
    """A Random seeded from the parts' text (stable across runs, unlike ``hash()``)."""
    # surrogatepass: a request's JSON may carry a lone surrogate ("\ud800"); hash it, don't fail.
    text = "\x1f".join(map(str, parts))
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def banner(model: str) -> str:
    """The first line of every sandbox reply, so nobody mistakes it for real model output."""
    return f"_(sandbox answer from {model}; simulated, not a real model)_\n\n"


def candidates_in(prompt: str) -> dict[str, str]:
    """label -> answer text (unescaped), in prompt order."""
    return {label: html.unescape(text) for label, text in CANDIDATE_RE.findall(prompt)}


def question_in(prompt: str) -> str:
    """The user's question from a review or chairman prompt ("" when there is none).

    The first ``<question>`` tag is ours: candidate texts are escaped, so theirs cannot be.
    """
    match = _QUESTION_RE.search(prompt)
    return html.unescape(match.group(1)) if match else ""


def ranking_in(prompt: str, labels: set[str]) -> list[tuple[str, float | None]]:
    """The aggregate ranking after the last candidate: (label, Borda or None), best first."""
    # Only the text after the last candidate counts: a candidate's own text may hold
    # numbered lines that look like a ranking.
    tail = prompt.rsplit("</candidate>", 1)[-1]
    seen: dict[str, float | None] = {}
    for label, score in _RANKED_RE.findall(tail):
        if label in labels and label not in seen:
            seen[label] = float(score) if score else None
    return list(seen.items())


@dataclass(frozen=True, slots=True)
class Reading:
    """The features of one answer that the sandbox's reviewers and chairman look at."""

    code: str | None  # the first Python block
    asserts: int
    notes: tuple[str, ...]  # edge cases / considerations, as written
    bug: Topic | None  # the topic whose known bug the answer carries
    simulated: bool  # says in so many words that it is a simulated answer


def read(text: str) -> Reading:
    """Read the visible features of an answer."""
    code = _CODE_RE.search(text)
    return Reading(
        code=code.group(1) if code else None,
        asserts=text.count("assert "),
        notes=tuple(dict.fromkeys(_NOTE_RE.findall(text))),
        bug=topic_with_bug(text),
        simulated=SIMULATED_MARK in text,
    )


def quality_of(text: str) -> float:
    """What a sandbox reviewer sees of an answer's quality: tests, edge cases, points raised."""
    return text.count("assert ") + 1.5 * text.count("Edge case:") + text.count("Consideration:")
