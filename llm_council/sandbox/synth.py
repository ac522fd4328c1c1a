"""Deterministic synthetic answers, peer reviews and chairman syntheses for the sandbox.

Everything is seeded with hashlib from (seed, concrete model, prompt text), never ``hash()``,
so a run is reproducible across processes. Answers are about what was asked: one of the
eval's bundled tasks gets its stored right or wrong code (``solving``, ``task_chairman``), a
recognised coding question (see ``topics``) working Python with tests, anything else an
honest generic answer that restates the question and says it is simulated. Quality follows the
registry's coding score: stronger models write more tests and edge cases, weaker ones
sometimes ship a subtle bug. Reviewers rank candidates from their *text* (and the strong
ones spot the bug), with noise that shrinks as the reviewer gets stronger, so reports on
sandbox data show a real, if simulated, quality signal.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Sequence
from typing import Any, Literal

from llm_council.sandbox import chairman as chairman_text
from llm_council.sandbox import solving, task_chairman
from llm_council.sandbox.bundled import TaskBook, bundled_tasks
from llm_council.sandbox.reading import (
    CANDIDATE_RE,
    SIMULATED_MARK,
    banner,
    candidates_in,
    quality_of,
    question_in,
    read,
    rng_for,
)
from llm_council.sandbox.topics import (
    GENERIC_CODING,
    GENERIC_GENERAL,
    TOPICS,
    Topic,
    other_language,
    render_tests,
    topic_for,
)

__all__ = ["answer", "banner", "classify", "compose", "quality_of", "review", "rng_for", "tokens"]

RequestKind = Literal["answer", "review", "chairman"]

_CODING_RE = re.compile(
    r"\b(code|coding|function|python|rust|golang|java|typescript|javascript|sql|regex|bug|"
    r"debug|refactor|implement|class|method|api|tests?|compile|algorithm|script|merge|sort|"
    r"parse|programs?|software)\b",
    re.IGNORECASE,
)
# How much a reviewer marks an answer down when it spots the known bug: about as much as
# four missing tests, so a spotted bug usually costs the answer its place.
_BUG_PENALTY = 4.0
_RESTATE_CHARS = 200


def classify(messages: Sequence[dict[str, Any]]) -> RequestKind:
    """Chairman (by its system prompt), peer review (candidate blocks) or a plain answer."""
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    if system.lstrip().startswith("You are the chairman"):
        return "chairman"
    return "review" if CANDIDATE_RE.search(_last_user(messages)) else "answer"


def compose(
    model: str,
    coding_score: float,
    messages: Sequence[dict[str, Any]],
    seed: int,
    *,
    tasks: TaskBook | None = None,
) -> str:
    """The synthetic reply of ``model`` to ``messages`` (contents already plain text).

    A question that is one of the eval's bundled ``tasks`` (default: the bundled set, read
    on first use) gets real code that is right as often as the model is good (``solving``);
    any other question a topical or generic answer.
    """
    book = bundled_tasks() if tasks is None else tasks
    kind = classify(messages)
    question = _last_user(messages)
    if kind != "answer":
        question = question_in(question)
    task = book.match(question)
    if kind == "chairman":
        if task is not None:
            return task_chairman.synthesis(model, coding_score, task, _last_user(messages), seed)
        return chairman_text.synthesis(model, _last_user(messages))
    if kind == "review":
        if task is not None:
            return solving.review(model, coding_score, task, _last_user(messages), seed)
        return review(model, coding_score, _last_user(messages), seed)
    if task is not None:
        return solving.answer(model, coding_score, task, seed)
    return answer(model, coding_score, messages, seed)


def answer(model: str, coding_score: float, messages: Sequence[dict[str, Any]], seed: int) -> str:
    """A topical coding answer (code, asserts, edge cases) or an honest generic one."""
    full = "\n".join(m["content"] for m in messages)
    question = _last_user(messages)
    rng = rng_for(seed, model, full)
    topic = topic_for(question)
    if topic is not None:
        return banner(model) + _topical(topic, question, coding_score, rng)
    # The question, not the system prompt, says whether it is about code: coding mode's
    # system prompt mentions code whatever the user asked.
    return banner(model) + _generic(question, bool(_CODING_RE.search(question)), coding_score, rng)


def bug_chance(coding_score: float) -> float:
    """How often a model of this coding score ships the topic's subtle bug (0 at >= 0.9)."""
    return min(0.8, max(0.0, (0.9 - coding_score) * 2))


def _topical(topic: Topic, question: str, coding_score: float, rng: random.Random) -> str:
    # Stronger models test more and think about more edge cases; the jitter keeps
    # neighbouring scores from always producing identical answers.
    tests = min(len(topic.checks), max(1, 1 + round(coding_score * 6 + rng.uniform(-1.2, 1.2))))
    buggy = rng.random() < bug_chance(coding_score)
    # A buggy answer's author did not look where the bug is: none of its tests exposes it
    # and it claims no edge case that the bug breaks. Its own asserts therefore pass.
    checks = [c for c in topic.checks if not (buggy and c.exposes_bug)][:tests]
    edges = [e for e in topic.edge_cases if not (buggy and e.bug_related)]
    count = min(len(edges), max(0, round(coding_score * 4 + rng.uniform(-1, 1))))
    notes = "".join(f"- Edge case: {e.note}\n" for e in rng.sample(edges, count))
    code = topic.buggy_code if buggy else topic.code
    lead = ""
    if language := other_language(question):
        lead = (
            f"You asked for {language}; the sandbox only writes Python, "
            "so here is the Python version.\n\n"
        )
    explanation = topic.explanation if buggy else f"{topic.explanation} {topic.insight}"
    return (
        f"{lead}{explanation}\n\n```python\n{code}\n\n{render_tests(topic, checks)}\n```\n\n{notes}"
    )


def _generic(question: str, coding: bool, coding_score: float, rng: random.Random) -> str:
    known = ", ".join(t.name for t in TOPICS)
    if coding:
        intro = (
            f"{SIMULATED_MARK}: no model read your question, and the sandbox only has worked "
            f"answers for a few coding questions ({known}), so it will not invent code for "
            "this one. A real answer should cover:"
        )
        pool, kind = GENERIC_CODING, "Edge case"
    else:
        intro = (
            f"{SIMULATED_MARK}: no model read your question, so what follows is a generic "
            "checklist, not an answer. A real answer would weigh:"
        )
        pool, kind = GENERIC_GENERAL, "Consideration"
    count = min(len(pool), max(1, round(1 + coding_score * 4 + rng.uniform(-1, 1))))
    chosen = sorted(rng.sample(range(len(pool)), count))  # the pool's order reads best
    points = "".join(f"- {kind}: {pool[i]}\n" for i in chosen)
    return f'You asked: "{restate(question)}"\n\n{intro}\n\n{points}'


def restate(question: str) -> str:
    """The question on one line, shortened, with nothing that could open a code fence."""
    line = " ".join(question.split()).replace("`", "'").replace('"', "'")
    if len(line) > _RESTATE_CHARS:
        line = line[: _RESTATE_CHARS - 1].rstrip() + "\u2026"
    return line or "(an empty question)"


def review(model: str, coding_score: float, review_prompt: str, seed: int) -> str:
    """A short critique of every candidate block, then a fenced JSON ranking, best first."""
    candidates = candidates_in(review_prompt)
    prompt_key = hashlib.sha256(review_prompt.encode("utf-8", "surrogatepass")).hexdigest()
    # A strong reviewer sees quality differences clearly (and spots the known bug more
    # often); a weak one is easily swayed.
    noise = 0.5 + 3.0 * (1.0 - coding_score)
    scored: list[tuple[float, str]] = []
    critique = []
    for label, text in candidates.items():
        reading = read(text)
        quality = quality_of(text)
        spotted = (
            reading.bug is not None
            and rng_for(seed, model, prompt_key, label, "bug").random() < coding_score
        )
        if spotted:
            quality -= _BUG_PENALTY
        jitter = rng_for(seed, model, prompt_key, label).gauss(0, noise)
        scored.append((-(quality + jitter), label))
        line = (
            f"- {label}: {reading.asserts} test assertions, "
            f"{text.count('Edge case:')} edge cases discussed"
        )
        if considered := text.count("Consideration:"):
            line += f", {considered} points considered"
        if spotted and reading.bug is not None:
            line += f"; possible bug: it {reading.bug.bug_wrong}"
        critique.append(line + ".\n")
    ranking = [label for _, label in sorted(scored)]
    return (
        banner(model) + "".join(critique) + f"\n```json\n{json.dumps({'ranking': ranking})}\n```\n"
    )


def tokens(text: str) -> int:
    """OpenRouter-ish token estimate: four characters a token, at least one."""
    return max(1, len(text) // 4)


def _last_user(messages: Sequence[dict[str, Any]]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
