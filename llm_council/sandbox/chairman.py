"""The sandbox chairman: a synthesis plus a verdict block derived from the answers it got.

It reads the candidate blocks and the aggregate ranking out of the chairman prompt, builds
on the top-ranked answer (fixing the known bug if that answer carries it) and ends with the
fenced JSON verdict the council asks for (``council.verdict.VERDICT_INSTRUCTIONS``):
consensus from the features most answers share, disagreements from features on which they
differ (naming the labels on each side), blind spots from features no answer has, and a
confidence from how far apart the top Borda scores are. It is a pure function of the
prompt, so it is as deterministic as the answers it reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from llm_council.sandbox.reading import (
    Reading,
    banner,
    candidates_in,
    quality_of,
    question_in,
    ranking_in,
    read,
)
from llm_council.sandbox.topics import (
    GENERIC_CODING,
    GENERIC_GENERAL,
    GENERIC_UNWRITTEN,
    TOPICS,
    Topic,
    topic_for,
)

_MAX_CONSENSUS = 4
_MAX_DISAGREEMENTS = 3
_TEST_SPREAD = 3  # assertion counts this far apart are a disagreement about testing


def synthesis(model: str, prompt: str) -> str:
    """The chairman's Markdown answer to ``prompt``, ending in a fenced verdict block."""
    candidates = candidates_in(prompt)
    if not candidates:
        verdict = verdict_block(
            consensus=[],
            disagreements=[],
            blind_spots=["no council member's answer reached the chairman"],
            confidence="low",
            built_on=[],
        )
        return (
            banner(model) + "## Final answer\n\nThere were no council answers to build on.\n\n"
            f"{verdict}"
        )
    readings = {label: read(text) for label, text in candidates.items()}
    ranking = ranking_in(prompt, set(candidates))
    if ranking:
        best, why = ranking[0][0], "the answer the council ranked highest"
    else:
        best = max(candidates, key=lambda label: (quality_of(candidates[label]), label))
        why = "the most thoroughly tested answer (no peer ranking was available)"
    question = question_in(prompt)
    topic = topic_for(question) or _topic_of(readings.values())
    body = _final_answer(best, why, list(candidates), readings, topic)
    verdict = verdict_block(
        consensus=_consensus(readings, topic),
        disagreements=_disagreements(readings),
        blind_spots=_blind_spots(readings, topic),
        confidence=confidence_of(ranking),
        built_on=[best],
    )
    return banner(model) + body + "\n" + verdict


def _topic_of(readings: Iterable[Reading]) -> Topic | None:
    """The topic of the answers' code when the question did not name one."""
    for reading in readings:
        if reading.bug is not None:
            return reading.bug
        for topic in TOPICS:
            if reading.code and (
                f"def {topic.function}(" in reading.code
                or f"class {topic.function}" in reading.code
            ):
                return topic
    return None


def _final_answer(
    best: str, why: str, labels: list[str], readings: Mapping[str, Reading], topic: Topic | None
) -> str:
    parts = [f"This synthesis builds on **{best}**, {why}."]
    if others := [label for label in labels if label != best]:
        parts.append(f"It keeps what {names_of(others)} added where that holds up.")
    code = readings[best].code
    notes = list(dict.fromkeys(n for r in readings.values() for n in r.notes))
    if code is None:
        intro = " ".join(parts)
        if any(r.simulated for r in readings.values()):
            intro += (
                " Every answer was simulated by the sandbox, so there is no real answer to "
                "synthesise; these are the points the answers raised."
            )
        points = "".join(f"- {n}\n" for n in notes) or "- (none)\n"
        return f"## Final answer\n\n{intro}\n\n{points}"
    bug = readings[best].bug
    if bug is not None:
        # Correct the mistake rather than carry it over, and add the test that shows it.
        parts.append(f"One correction: {best} {bug.bug_wrong}; the code below {bug.bug_right}.")
        code = code.replace(bug.bug[1], bug.bug[0])
        exposing = next((c for c in bug.checks if c.exposes_bug and c.text not in code), None)
        if exposing is not None:
            code = f"{code.rstrip()}\n# The test that catches that mistake:\n{exposing.text}\n"
    if topic is not None:
        parts.append(f"{topic.explanation} {topic.insight}")
    parts.append("The final code:")
    text = f"## Final answer\n\n{' '.join(parts)}\n\n```python\n{code.rstrip()}\n```\n"
    if notes:
        text += "\nEdge cases the council raised:\n\n" + "".join(f"- {n}\n" for n in notes)
    return text


def _consensus(readings: Mapping[str, Reading], topic: Topic | None) -> list[str]:
    """Features held by more than half of the answers, most widely held first."""
    n = len(readings)
    items: list[tuple[int, str]] = []

    def add(holders: int, plural: str, singular: str) -> None:
        if 2 * holders > n:
            items.append((holders, f"{share_of(holders, n)} {singular if n == 1 else plural}"))

    with_code = sum(r.code is not None for r in readings.values())
    if topic is not None:
        does = f"{topic.function} in Python"
        add(with_code, f"implement {does}", f"implements {does}")
        correct = sum(r.code is not None and r.bug is None for r in readings.values())
        point = f"{topic.bug_point.lower()}: the code {topic.bug_right}"
        add(correct, f"agree on {point}", f"gets {point}")
    asserts = sum(r.asserts > 0 for r in readings.values())
    add(asserts, "include runnable asserts", "includes runnable asserts")
    add(
        sum(r.simulated for r in readings.values()),
        "say plainly that they are simulated and restate the question",
        "says plainly that it is simulated and restates the question",
    )
    for note in _notes(readings):
        held = sum(note in r.notes for r in readings.values())
        add(held, f"note: {note}", f"notes: {note}")
    # Stable sort: among equally shared features the order above (code first) stands.
    items.sort(key=lambda item: -item[0])
    return [text for _, text in items[:_MAX_CONSENSUS]]


def _disagreements(readings: Mapping[str, Reading]) -> list[dict[str, Any]]:
    """Features on which the answers differ, with each label's side."""
    out: list[dict[str, Any]] = []
    if len(readings) < 2:
        return out
    coded = {label: r for label, r in readings.items() if r.code is not None}
    bugs = [r.bug for r in coded.values() if r.bug is not None]
    if bugs and len(bugs) < len(coded):
        bug = bugs[0]
        out.append(
            {
                "point": bug.bug_point,
                "responses": {
                    label: bug.bug_wrong if r.bug is bug else bug.bug_right
                    for label, r in coded.items()
                },
            }
        )
    counts = {label: r.asserts for label, r in readings.items()}
    if max(counts.values()) - min(counts.values()) >= _TEST_SPREAD:
        out.append(
            {
                "point": "How thoroughly the code is tested",
                "responses": {
                    label: f"{k} assertions" if k else "no tests" for label, k in counts.items()
                },
            }
        )
    n = len(readings)
    # A note most answers make is already consensus; the minority's view of it is not news.
    split = [
        (held, note)
        for note in _notes(readings)
        if (held := sum(note in r.notes for r in readings.values())) > 0 and 2 * held <= n
    ]
    # The most evenly split feature is the most telling disagreement.
    split.sort(key=lambda item: -item[0])
    for _, note in split[: max(0, _MAX_DISAGREEMENTS - len(out))]:
        out.append(
            {
                "point": f"Whether to cover: {note}",
                "responses": {
                    label: "covers it explicitly" if note in r.notes else "does not mention it"
                    for label, r in readings.items()
                },
            }
        )
    return out[:_MAX_DISAGREEMENTS]


def _blind_spots(readings: Mapping[str, Reading], topic: Topic | None) -> list[str]:
    """One feature of the topic no answer covers, and one thing none of them attempted."""
    held = {note for r in readings.values() for note in r.notes}
    if topic is not None:
        catalog, beyond = [e.note for e in topic.edge_cases], topic.unwritten[0]
    else:
        # The generic checklist the answers drew from: the general one if they used it.
        general = held & set(GENERIC_GENERAL) and not held & set(GENERIC_CODING)
        catalog = list(GENERIC_GENERAL if general else GENERIC_CODING)
        beyond = GENERIC_UNWRITTEN
        if not any(r.simulated for r in readings.values()):
            beyond = "checking the answers against a source outside the council"
    missing = [note for note in catalog if note not in held]
    return [*missing[:1], beyond]


def confidence_of(ranking: Sequence[tuple[str, float | None]]) -> str:
    """High when the top answer won clearly, low when the top two are nearly tied."""
    scores = [score for _, score in ranking if score is not None]
    if len(scores) < 2:
        return "medium" if scores else "low"
    gap = scores[0] - scores[1]
    return "high" if gap >= 0.3 else "medium" if gap >= 0.1 else "low"


def _notes(readings: Mapping[str, Reading]) -> list[str]:
    return list(dict.fromkeys(note for r in readings.values() for note in r.notes))


def share_of(k: int, n: int) -> str:
    """ "All 3 answers", "2 of 3 answers", "The only answer": the subject of a verdict line."""
    if n == 1:
        return "The only answer"
    if k == n:
        return "Both answers" if n == 2 else f"All {n} answers"
    return f"{k} of {n} answers"


def names_of(labels: Sequence[str]) -> str:
    """ "A", "A and B", "A, B and C"."""
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"


def verdict_block(**verdict: Any) -> str:
    """The fenced JSON verdict block the chairman prompt asks for."""
    body = json.dumps({"verdict": verdict}, indent=2, ensure_ascii=False)
    return f"```json\n{body}\n```\n"
