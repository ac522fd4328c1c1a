"""The sandbox chairman on a bundled eval task: it ships a candidate's code, checked by reading.

The chairman reads the candidates in the council's ranking order and judges each one's
code the way a reviewer of its coding score would (``solving.judged_right``). It ships the
code of the highest-ranked candidate it judges right, and when it judges none right, the
top-ranked candidate's code, saying it doubts it. It never writes code of its own: a
synthesis builds on the council's answers, so the council passes a task only when some
seat solved it, and it can still do worse than the best seat when the chairman misjudges.
That keeps the eval's "council" row (and ``synthesis_worse_than_best_answer``) meaningful.
The verdict block is derived from the candidates, like the topical chairman's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llm_council.sandbox.bundled import KnownTask
from llm_council.sandbox.chairman import confidence_of, names_of, share_of, verdict_block
from llm_council.sandbox.reading import banner, candidates_in, ranking_in, read
from llm_council.sandbox.solving import judgements, normalise

_CHECK_BLIND_SPOT = "running the code against the task's own tests: the council only read it"


def synthesis(model: str, coding_score: float, task: KnownTask, prompt: str, seed: int) -> str:
    """The chairman's Markdown answer for ``task``, ending in a fenced verdict block."""
    candidates = candidates_in(prompt)
    ranking = ranking_in(prompt, set(candidates))
    ranked = [label for label, _ in ranking]
    # Ranked labels first, then any the ranking left out, in prompt order.
    order = ranked + [label for label in candidates if label not in ranked]
    codes = {label: read(text).code for label, text in candidates.items()}
    judged = judgements(model, coding_score, task, candidates, seed)
    trusted = next((label for label in order if judged[label]), None)
    coded = [label for label in order if codes[label] is not None]
    chosen = trusted or (coded[0] if coded else None)
    if chosen is None:
        body = (
            "## Final answer\n\nNo council answer contained Python code for "
            f"`{task.entry_point}`, so there is nothing to build on.\n"
        )
        return banner(model) + body + "\n" + _verdict(task, order, codes, judged, None, ranking)
    why = _why(chosen, order, judged, bool(ranking))
    code = (codes[chosen] or "").strip()
    body = (
        f"## Final answer\n\nThis synthesis builds on **{chosen}**, {why}\n\n"
        f"```python\n{code}\n```\n"
    )
    return banner(model) + body + "\n" + _verdict(task, order, codes, judged, chosen, ranking)


def _why(chosen: str, order: Sequence[str], judged: Mapping[str, bool | None], ranked: bool) -> str:
    top = "the answer the council ranked highest" if ranked else "the first answer"
    if not judged[chosen]:
        return (
            f"{top}. On reading, the chairman doubts every answer's code, including this "
            "one: test it before relying on it."
        )
    skipped = order[: order.index(chosen)]
    if not skipped:
        return f"{top}; its code looks correct on reading."
    return (
        f"the highest-ranked answer whose code looks correct on reading: "
        f"{names_of(list(skipped))} ranked higher but looked wrong or had no code."
    )


def _verdict(
    task: KnownTask,
    order: Sequence[str],
    codes: Mapping[str, str | None],
    judged: Mapping[str, bool | None],
    chosen: str | None,
    ranking: Sequence[tuple[str, float | None]],
) -> str:
    n = len(order)
    consensus = []
    coded = [label for label in order if codes[label] is not None]
    if coded and 2 * len(coded) > n:
        consensus.append(f"{share_of(len(coded), n)} define `{task.entry_point}` in Python")
    versions = _versions(order, codes)
    largest = max((list(versions.values()).count(v) for v in versions.values()), default=0)
    if largest >= 2 and 2 * largest > n:
        consensus.append(f"{share_of(largest, n)} wrote the same code")
    disagreements: list[dict[str, Any]] = []
    views = {label: judged[label] for label in coded}
    if len(set(views.values())) > 1:
        disagreements.append(
            {
                "point": f"Whether `{task.entry_point}` is correct",
                "responses": {
                    label: "looks correct to the chairman" if ok else "looks wrong to the chairman"
                    for label, ok in views.items()
                },
            }
        )
    if len(set(versions.values())) > 1:
        disagreements.append(
            {
                "point": "Which implementation to use",
                "responses": {label: f"version {v} of the code" for label, v in versions.items()},
            }
        )
    blind_spots = [_CHECK_BLIND_SPOT]
    if chosen is not None and not judged[chosen]:
        blind_spots.append(f"a version of `{task.entry_point}` that holds up on reading")
    confidence = confidence_of(ranking) if chosen is not None and judged[chosen] else "low"
    return verdict_block(
        consensus=consensus,
        disagreements=disagreements,
        blind_spots=blind_spots,
        confidence=confidence,
        built_on=[chosen] if chosen else [],
    )


def _versions(order: Sequence[str], codes: Mapping[str, str | None]) -> dict[str, int]:
    """label -> the number of its distinct code, counted in ranking order (from 1)."""
    seen: dict[str, int] = {}
    out = {}
    for label in order:
        code = codes[label]
        if code is not None:
            out[label] = seen.setdefault(normalise(code), len(seen) + 1)
    return out
