"""The sandbox answers what was asked, its code runs, and its chairman gives a real verdict.

Council sessions run on the sandbox in-process (the real adapter over ASGITransport); the
answers' code runs in real subprocesses. The verdict block is the one the chairman prompt
asks for (``council.verdict.VERDICT_INSTRUCTIONS``) and is parsed by the council's own
``parse_verdict``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_council.council.prompts import (
    Candidate,
    answer_messages,
    chairman_messages,
    review_messages,
    stage_label,
)
from llm_council.council.result import SessionResult
from llm_council.council.verdict import parse_verdict
from llm_council.registry import load_registry
from llm_council.sandbox import SandboxOptions, create_app, synth
from llm_council.sandbox.topics import (
    BINARY_SEARCH,
    DEDUPE,
    FIZZBUZZ,
    LRU_CACHE,
    MERGE_SORTED,
    PALINDROME,
    SQL_INJECTION,
    TOPICS,
    Topic,
    render_tests,
    topic_for,
)
from tests.council_helpers import make_config, sandbox_council

REGISTRY = load_registry()
MERGE = "Write a Python function that merges two sorted lists."
# A free-form prompt per topic, in the casing people actually type.
PROMPTS = {
    FIZZBUZZ: "can you write FizzBuzz for me?",
    BINARY_SEARCH: "Implement Binary Search over a sorted list of ints",
    MERGE_SORTED: "MERGE two SORTED arrays into one",
    LRU_CACHE: "I need an LRU cache class with get and put",
    SQL_INJECTION: (
        "How do I fix the SQL injection in this?\n"
        "cursor.execute(f\"SELECT * FROM users WHERE name = '{name}'\")"
    ),
    PALINDROME: "Check whether a string is a palindrome",
    DEDUPE: "remove duplicates from a list but keep the order",
}
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def coding_score(model: str | None) -> float:
    entry = REGISTRY.get(model or "")
    assert entry is not None and entry.coding_score is not None, model
    return entry.coding_score


def python_of(text: str) -> str:
    block = PYTHON_BLOCK.search(text)
    assert block, text
    return block.group(1)


def run_python(code: str, tmp_path: Path, name: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as a file in a fresh interpreter (not in this process)."""
    path = tmp_path / f"{name}.py"
    path.write_text(code)
    return subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )


async def session(prompt: str, tier: str, seed: int = 0) -> SessionResult:
    council, _ = sandbox_council(make_config(), seed=seed)
    try:
        return await council.run(prompt, tier)
    finally:
        await council.aclose()


def as_messages(messages: Any) -> list[dict[str, str]]:
    return [m.model_dump() for m in messages]


# --- the verdict block -------------------------------------------------------------------


@pytest.mark.parametrize(("tier", "seed"), [("balanced", 0), ("quick", 1), ("high", 2)])
async def test_a_sandbox_session_has_a_verdict_derived_from_its_answers(
    tier: str, seed: int
) -> None:
    result = await session(MERGE, tier, seed)
    assert result.status == "ok" and result.chairman.status == "ok"
    verdict = result.verdict
    assert verdict is not None, result.notices
    assert not any(n.startswith("no verdict") for n in result.notices)
    seats = {s.seat_id: s for s in result.seats}
    # Built on the seat the council ranked first, named by seat id, not label.
    assert verdict.built_on == [result.ranking[0].seat_id]
    assert verdict.confidence in ("high", "medium", "low")
    assert verdict.consensus and verdict.blind_spots
    assert any("merge_sorted" in c for c in verdict.consensus)
    for disagreement in verdict.disagreements:
        assert len(disagreement.seats) >= 2 and set(disagreement.seats) <= set(seats)
        for seat_id, position in disagreement.seats.items():
            answer = seats[seat_id].answer or ""
            # Every position is true of the answer it is attributed to.
            if disagreement.point == MERGE_SORTED.bug_point:
                wrong = position == MERGE_SORTED.bug_wrong
                assert wrong == MERGE_SORTED.has_bug(answer), (seat_id, position)
            elif disagreement.point.startswith("Whether to cover: "):
                note = disagreement.point.removeprefix("Whether to cover: ")
                covered = position == "covers it explicitly"
                assert covered == (f"Edge case: {note}" in answer), (seat_id, note)
            elif disagreement.point == "How thoroughly the code is tested":
                assert position == f"{answer.count('assert ')} assertions", (seat_id, position)
            else:
                pytest.fail(f"unexpected disagreement {disagreement.point!r}")
    # A blind spot is something no answer covers.
    assert not any(b in (s.answer or "") for b in verdict.blind_spots for s in result.seats)
    # The block was taken out of the synthesis the user reads.
    synthesis = result.synthesis or ""
    assert "## Final answer" in synthesis and "```python" in synthesis
    assert "```json" not in synthesis and '"verdict"' not in synthesis
    dumped = result.model_dump(mode="json")["verdict"]
    assert dumped["built_on"] == [result.ranking[0].seat_id]


async def test_weak_councils_disagree_about_the_bug_and_the_chairman_fixes_it(
    tmp_path: Path,
) -> None:
    """Quick-tier seats (coding 0.55-0.74) ship the subtle bug often enough to split."""
    split = 0
    for seed in range(4):
        result = await session(PROMPTS[LRU_CACHE], "quick", seed)
        verdict = result.verdict
        assert verdict is not None
        points = {d.point: d.seats for d in verdict.disagreements}
        if LRU_CACHE.bug_point in points:
            split += 1
            buggy = {s for s, p in points[LRU_CACHE.bug_point].items() if p == LRU_CACHE.bug_wrong}
            assert buggy == {s.seat_id for s in result.seats if LRU_CACHE.has_bug(s.answer or "")}
        # Whatever the top answer carried, the synthesis's code is the correct one and runs.
        code = python_of(result.synthesis or "")
        assert not LRU_CACHE.has_bug(code) and LRU_CACHE.bug[0] in code
        ran = run_python(code, tmp_path, f"synthesis_{seed}")
        assert ran.returncode == 0, ran.stderr
    assert split >= 1


def _chairman(ranking: list[tuple[str, float]], answers: list[str]) -> tuple[str, dict[str, str]]:
    candidates = [Candidate(stage_label(i), t) for i, t in enumerate(answers)]
    messages = as_messages(chairman_messages(MERGE, "coding", candidates, ranking))
    text = synth.compose("anthropic/claude-opus-4.7", 0.96, messages, seed=0)
    return text, {c.label: f"s{i + 1}" for i, c in enumerate(candidates)}


@pytest.mark.parametrize(
    ("ranking", "confidence"),
    [
        ([("Response B", 1.0), ("Response A", 0.5), ("Response C", 0.0)], "high"),
        ([("Response B", 0.75), ("Response A", 0.6), ("Response C", 0.1)], "medium"),
        ([("Response B", 0.55), ("Response A", 0.5), ("Response C", 0.3)], "low"),
        ([("Response B", 1.0)], "medium"),
    ],
)
def test_confidence_follows_the_borda_spread(
    ranking: list[tuple[str, float]], confidence: str
) -> None:
    answers = [
        synth.answer(m, coding_score(m), as_messages(answer_messages(MERGE, "coding")), 0)
        for m in ("z-ai/glm-5.1", "openai/gpt-5.5", "x-ai/grok-4.3")
    ]
    text, seat_of = _chairman(ranking, answers)
    parsed = parse_verdict(text, seat_of)
    assert parsed.verdict is not None and parsed.problem is None
    assert parsed.verdict.confidence == confidence
    assert parsed.verdict.built_on == ["s2"]  # Response B, the top of the ranking


def test_without_a_ranking_the_chairman_builds_on_the_best_tested_answer() -> None:
    answers = [
        synth.answer(m, coding_score(m), as_messages(answer_messages(MERGE, "coding")), 0)
        for m in ("openai/gpt-5.5", "deepseek/deepseek-v4-flash")
    ]
    answers[1] = answers[1].split("```python")[0]  # no code, no tests
    parsed = parse_verdict(*_chairman([], answers))
    assert parsed.verdict is not None
    assert parsed.verdict.built_on == ["s1"] and parsed.verdict.confidence == "low"
    assert "**Response A**" in parsed.synthesis


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(question=st.text(max_size=300), seed=st.integers(0, 2**32))
def test_any_question_gets_a_parseable_verdict(question: str, seed: int) -> None:
    """Whatever was asked (quotes, fences, tags, control characters), the verdict parses."""
    models = ("openai/gpt-5.5", "z-ai/glm-5.1", "deepseek/deepseek-v4-flash")
    messages = as_messages(answer_messages(question, "coding"))
    answers = [synth.answer(m, coding_score(m), messages, seed) for m in models]
    candidates = [Candidate(stage_label(i), t) for i, t in enumerate(answers)]
    review = synth.compose(
        "openai/gpt-5.4", 0.88, as_messages(review_messages(question, candidates)), seed
    )
    order = json.loads(review.rsplit("```json\n", 1)[1].split("\n```")[0])["ranking"]
    ranking = [(label, 1.0 - i / len(order)) for i, label in enumerate(order)]
    chair = as_messages(chairman_messages(question, "coding", candidates, ranking))
    text = synth.compose("anthropic/claude-opus-4.7", 0.96, chair, seed)
    seat_of = {c.label: f"s{i + 1}" for i, c in enumerate(candidates)}
    parsed = parse_verdict(text, seat_of)
    assert parsed.verdict is not None, text
    assert parsed.verdict.built_on == [seat_of[order[0]]]
    assert "```json" not in parsed.synthesis
    assert text == synth.compose("anthropic/claude-opus-4.7", 0.96, chair, seed)


async def test_the_sandbox_side_is_deterministic_per_seed() -> None:
    """Same seed, same answers; the same chairman request gets the same verdict back.

    (The council shuffles labels by its random session id, so whole sessions differ; the
    sandbox's part of it does not.)
    """
    council, app = sandbox_council(make_config(), seed=7)
    first = await council.run(PROMPTS[BINARY_SEARCH], "quick")
    await council.aclose()
    again, other = [await session(PROMPTS[BINARY_SEARCH], "quick", seed) for seed in (7, 8)]
    answers = [sorted(s.answer or "" for s in r.seats) for r in (first, again, other)]
    assert answers[0] == answers[1] != answers[2]
    body = next(b for b in app.requests if b["model"] == first.chairman.requested_model)
    replay = create_app(REGISTRY, SandboxOptions(seed=7, latency_ms=0))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=replay), base_url="http://sandbox/api/v1/"
    ) as client:
        response = await client.post("chat/completions", json=body)
    seat_of = {s.label: s.seat_id for s in first.seats if s.label}
    parsed = parse_verdict(response.json()["choices"][0]["message"]["content"], seat_of)
    assert parsed.verdict == first.verdict and parsed.synthesis == first.synthesis


# --- answers about what was asked --------------------------------------------------------


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.function)
async def test_each_topic_gets_working_code_that_runs(topic: Topic, tmp_path: Path) -> None:
    """The strongest seat's code runs with its own asserts, and is the correct version."""
    for tier in ("high", "quick"):
        result = await session(PROMPTS[topic], tier)
        ok = [s for s in result.seats if s.status == "ok"]
        strongest = max(ok, key=lambda s: coding_score(s.resolved_model))
        code = python_of(strongest.answer or "")
        assert f"{topic.function}" in code and code.count("assert ") >= 3
        ran = run_python(code, tmp_path, f"{tier}_strongest")
        assert ran.returncode == 0, ran.stderr
        if coding_score(strongest.resolved_model) >= 0.9:
            # A strong model never ships the bug: its code passes every test of the topic.
            assert not topic.has_bug(code)
            full = f"{python_of(strongest.answer or '').split('# Tests:')[0]}\n" + render_tests(
                topic, list(topic.checks)
            )
            ran = run_python(full, tmp_path, f"{tier}_all_checks")
            assert ran.returncode == 0, ran.stderr
        # Weaker seats may carry the bug, but their own tests still pass (they missed it).
        for seat in ok:
            ran = run_python(python_of(seat.answer or ""), tmp_path, f"{tier}_{seat.seat_id}")
            assert ran.returncode == 0, (seat.resolved_model, ran.stderr)
        # The chairman's final code runs too.
        ran = run_python(python_of(result.synthesis or ""), tmp_path, f"{tier}_chairman")
        assert ran.returncode == 0, ran.stderr


_PROBE = """
import json, sys
source, setup, checks = json.loads(sys.stdin.read())
results = []
for check in checks:
    scope = {}
    try:
        exec(source + "\\n" + setup + "\\n" + check, scope)
        results.append(True)
    except Exception:
        results.append(False)
print(json.dumps(results))
"""


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.function)
def test_the_subtle_bug_is_real_and_hides_from_the_other_tests(topic: Topic) -> None:
    """The buggy variant fails exactly the checks marked as exposing it; the correct passes all."""

    def outcomes(source: str) -> list[bool]:
        payload = json.dumps([source, topic.setup, [c.text for c in topic.checks]])
        ran = subprocess.run(
            [sys.executable, "-c", _PROBE], input=payload, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        return json.loads(ran.stdout)

    assert topic.bug[0] in topic.code and topic.bug[1] not in topic.code
    assert all(outcomes(topic.code))
    assert outcomes(topic.buggy_code) == [not c.exposes_bug for c in topic.checks]
    assert any(c.exposes_bug for c in topic.checks)
    assert not any(t.has_bug(topic.code) for t in TOPICS)


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("FIZZBUZZ please", FIZZBUZZ),
        ("write fizz-buzz up to 100", FIZZBUZZ),
        ("binary_search in a list", BINARY_SEARCH),
        ("Use bisect to find an item", BINARY_SEARCH),
        ("Merge these sorted lists", MERGE_SORTED),
        ("implement a Least Recently Used cache", LRU_CACHE),
        ("Is this vulnerable to SQL Injection?", SQL_INJECTION),
        ("use parameterized queries here", SQL_INJECTION),
        ("Fix the binary search in this SQL injection-prone code", SQL_INJECTION),
        ("Explain dependency injection in Spring", None),
        ("Implement merge sort", None),
        ("Explain the CAP theorem", None),
        ("", None),
    ],
)
def test_topics_are_recognised_by_keywords_case_insensitively(
    prompt: str, expected: Topic | None
) -> None:
    assert topic_for(prompt) is expected


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.function)
def test_a_topical_answer_is_about_the_question(topic: Topic) -> None:
    messages = as_messages(answer_messages(PROMPTS[topic], "coding"))
    text = synth.answer("openai/gpt-5.4", 0.88, messages, seed=0)
    assert topic.explanation in text and topic.function in python_of(text)
    others = [t.function for t in TOPICS if t is not topic and t.function not in topic.code]
    assert not any(f in text for f in others)


def test_an_unrecognised_question_gets_an_honest_generic_answer() -> None:
    question = "Write a Rust tokenizer for arithmetic expressions with `+` and `*`."
    text = synth.answer(
        "openai/gpt-5.5", 0.97, as_messages(answer_messages(question, "coding")), seed=0
    )
    assert "You asked: \"Write a Rust tokenizer for arithmetic expressions with '+' and '*'.\"" in (
        text
    )
    assert "This is a simulated answer" in text and "will not invent code" in text
    assert "```" not in text and "merge_sorted" not in text and "Edge case:" in text
    # A general question in coding mode is not answered with coding edge cases.
    offsite = "How should I plan a team offsite for twelve people?"
    text = synth.answer(
        "openai/gpt-5.5", 0.97, as_messages(answer_messages(offsite, "coding")), seed=0
    )
    assert f'You asked: "{offsite}"' in text and "This is a simulated answer" in text
    assert "Consideration:" in text and "Edge case:" not in text


def test_another_language_is_answered_in_python_and_says_so() -> None:
    messages = as_messages(answer_messages("Write a binary search in Go.", "coding"))
    text = synth.answer("openai/gpt-5.4", 0.88, messages, seed=0)
    assert "You asked for Go; the sandbox only writes Python" in text
    assert "def binary_search" in python_of(text)


# --- quality still follows the coding score ----------------------------------------------


def test_weak_models_ship_the_bug_and_strong_ones_do_not() -> None:
    def bug_rate(model: str) -> int:
        return sum(
            LRU_CACHE.has_bug(
                synth.answer(
                    model,
                    coding_score(model),
                    as_messages(answer_messages(f"{PROMPTS[LRU_CACHE]} ({i})", "coding")),
                    seed=0,
                )
            )
            for i in range(40)
        )

    assert bug_rate("openai/gpt-5.5") == 0
    assert bug_rate("deepseek/deepseek-v4-flash") >= 16  # about 70% of 40
    assert bug_rate("deepseek/deepseek-v4-flash") > bug_rate("openai/gpt-5.4-mini")


def test_strong_reviewers_spot_the_bug_between_otherwise_equal_answers() -> None:
    """Same text but for the bug: a sharp reviewer ranks the correct one first and says why."""
    wins, named = 0, 0
    for i in range(30):
        prompt = f"{PROMPTS[MERGE_SORTED]} ({i})"
        messages = as_messages(answer_messages(prompt, "coding"))
        good = synth.answer("openai/gpt-5.5", 0.97, messages, seed=0)
        bad = good.replace(MERGE_SORTED.bug[0], MERGE_SORTED.bug[1])
        assert MERGE_SORTED.has_bug(bad) and not MERGE_SORTED.has_bug(good)
        order = [good, bad] if i % 2 else [bad, good]
        candidates = [Candidate(stage_label(j), t) for j, t in enumerate(order)]
        text = synth.review(
            "anthropic/claude-opus-4.7",
            0.96,
            as_messages(review_messages(prompt, candidates))[-1]["content"],
            seed=0,
        )
        ranking = json.loads(text.rsplit("```json\n", 1)[1].split("\n```")[0])["ranking"]
        wins += ranking[0] == stage_label(order.index(good))
        named += f"possible bug: it {MERGE_SORTED.bug_wrong}" in text
    assert wins >= 24, wins  # chance would be 15 of 30
    assert named >= 24, named
