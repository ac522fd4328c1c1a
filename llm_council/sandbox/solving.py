"""Answers and reviews for the eval's bundled tasks: real code, right as often as the model is good.

A seat asked a bundled task answers with the task's stored ``reference`` solution with
probability ``pass_chance(coding_score, difficulty)`` and otherwise with the task's stored
``wrong`` variant (an off-by-one, a missing edge case), drawn once per (seed, model, task),
so ``llm-council eval`` on the sandbox shows a real ordering between models, and only
running the code tells right from wrong: the prose around both is the same.

Reviewers and the chairman cannot run code either; they read it. A reviewer of coding
score ``s`` judges a candidate's code right or wrong correctly with probability
``judge_accuracy(s)``, so peer review predicts passing (Borda AUC above 0.5) without being
an oracle. ``task_chairman`` uses the same judgement.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Literal

from llm_council.sandbox.bundled import KnownTask
from llm_council.sandbox.reading import banner, candidates_in, read, rng_for

CodeKind = Literal["reference", "wrong", "other", "none"]

# pass_chance: a line through (coding 0.55, medium task) -> 0.15 rising 1.8 per coding
# point, minus 0.3 from the easiest to the hardest task, kept inside [0.05, 0.95]: the
# registry's weakest models (0.55) still solve easy tasks now and then and its strongest
# (0.97) still miss hard ones, so no pass rate is 0 or 100% by construction.
_FLOOR, _CEILING = 0.05, 0.95
_BASE, _SLOPE, _DIFFICULTY_SPAN = 0.15, 1.8, 0.3
_PIVOT = 0.55
# How strongly a reviewer's judgement (right/wrong) outweighs its noise when ranking.
_JUDGED_RIGHT, _JUDGED_WRONG, _NO_CODE = 2.0, 0.0, -1.0

# The same neutral prose for right and wrong code (a wrong answer reads as confident as a
# right one), so only running the code tells them apart.
_APPROACHES = (
    "It follows the task statement directly; the code is self-contained, so it can be "
    "pasted and tested as is.",
    "It keeps to the standard library and stays close to what the task asks, without "
    "extra options.",
    "It is short on purpose, with the task's edge cases handled in the code itself.",
)
_SANDBOX_NOTE = (
    "Sandbox note: this code is the bundled task's stored solution or its stored wrong "
    "variant, picked by this model's coding score; only running the task's tests tells which."
)


def pass_chance(coding_score: float, difficulty: float) -> float:
    """How likely a model of this coding score answers a task of this difficulty correctly."""
    raw = _BASE + _SLOPE * (coding_score - _PIVOT) - _DIFFICULTY_SPAN * (difficulty - 0.5)
    return min(_CEILING, max(_FLOOR, raw))


def judge_accuracy(coding_score: float) -> float:
    """How likely a reviewer of this coding score tells right code from wrong by reading it."""
    return min(0.95, max(0.55, 0.35 + 0.6 * coding_score))


def solves(model: str, coding_score: float, task: KnownTask, seed: int) -> bool:
    """Whether ``model`` answers ``task`` with the reference: one draw per (seed, model, task)."""
    draw = rng_for(seed, model, task.id, "solve").random()
    return draw < pass_chance(coding_score, task.difficulty)


def answer(model: str, coding_score: float, task: KnownTask, seed: int) -> str:
    """The reference or the wrong variant in one Python block, with the same prose around both."""
    code = task.reference if solves(model, coding_score, task, seed) else task.wrong
    approach = rng_for(seed, model, task.id, "prose").choice(_APPROACHES)
    return (
        f"{banner(model)}Here is `{task.entry_point}`. {approach}\n\n"
        f"```python\n{code.strip()}\n```\n\n{_SANDBOX_NOTE}\n"
    )


def normalise(code: str) -> str:
    """Code without blank lines and trailing spaces, for comparing answers by their code."""
    return "\n".join(line.rstrip() for line in code.strip().splitlines() if line.strip())


def kind_of(code: str | None, task: KnownTask) -> CodeKind:
    """Whether ``code`` is the task's reference, its wrong variant, something else, or absent."""
    if code is None or not code.strip():
        return "none"
    text = normalise(code)
    if text == normalise(task.reference):
        return "reference"
    if text == normalise(task.wrong):
        return "wrong"
    return "other"


def judged_right(
    model: str, coding_score: float, task: KnownTask, code: str | None, seed: int
) -> bool | None:
    """A reader's judgement of ``code`` (None: there is no code to judge).

    Drawn per (seed, reader, task, code), so a reader judges the same code the same way
    wherever it appears. Code that is neither stored version is a coin toss.
    """
    kind = kind_of(code, task)
    if kind == "none":
        return None
    key = hashlib.sha256(normalise(code or "").encode("utf-8", "surrogatepass")).hexdigest()
    draw = rng_for(seed, model, task.id, key, "judge").random()
    if kind == "other":
        return draw < 0.5
    accurate = draw < judge_accuracy(coding_score)
    return accurate if kind == "reference" else not accurate


def judgements(
    model: str, coding_score: float, task: KnownTask, texts: Mapping[str, str], seed: int
) -> dict[str, bool | None]:
    """label -> the reader's judgement of that answer's code."""
    return {
        label: judged_right(model, coding_score, task, read(text).code, seed)
        for label, text in texts.items()
    }


def review(model: str, coding_score: float, task: KnownTask, review_prompt: str, seed: int) -> str:
    """One line per candidate (right, wrong, no code), then the fenced JSON ranking."""
    candidates = candidates_in(review_prompt)
    judged = judgements(model, coding_score, task, candidates, seed)
    prompt_key = hashlib.sha256(review_prompt.encode("utf-8", "surrogatepass")).hexdigest()
    # A weak reviewer's order among answers it judged alike is mostly noise.
    noise = 0.3 + 0.7 * (1.0 - coding_score)
    scored: list[tuple[float, str]] = []
    lines = []
    for label, verdict in judged.items():
        base = _NO_CODE if verdict is None else _JUDGED_RIGHT if verdict else _JUDGED_WRONG
        jitter = rng_for(seed, model, prompt_key, label).gauss(0, noise)
        scored.append((-(base + jitter), label))
        if verdict is None:
            lines.append(f"- {label}: no Python code for `{task.entry_point}`.\n")
        elif verdict:
            lines.append(f"- {label}: `{task.entry_point}` looks correct on reading.\n")
        else:
            lines.append(
                f"- {label}: `{task.entry_point}` looks wrong on reading: I expect it to "
                "fail a case the task asks for.\n"
            )
    ranking = [label for _, label in sorted(scored)]
    return banner(model) + "".join(lines) + f"\n```json\n{json.dumps({'ranking': ranking})}\n```\n"
