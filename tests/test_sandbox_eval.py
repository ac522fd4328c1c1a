"""The sandbox makes ``llm-council eval`` meaningful offline (issue #12 item 5).

For the bundled tasks a sandbox seat answers with real code: the task's stored reference,
with a probability rising with the model's coding score, else the stored wrong variant.
Whether an answer passes is decided here the way the eval decides it: the eval's own
``extract_code`` takes the code out of the Markdown and ``run_tests`` runs it with the
task's tests in an isolated subprocess (one test goes through ``grade_session``, one uses
the eval's ``auc``). Nothing asks the sandbox which answer was right; one test feeds the
sandbox a task whose "reference" is broken and shows the run fails it.

Runs are cached by (task, code): every distinct piece of code is still run, once.
"""

from __future__ import annotations

import functools
import json
import statistics
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
from llm_council.evaluation.extract import extract_code
from llm_council.evaluation.grade import COUNCIL, grade_session
from llm_council.evaluation.isolate import RunResult, run_tests
from llm_council.evaluation.score import auc as area_under_curve
from llm_council.evaluation.tasks import Task, load_tasks
from llm_council.registry import load_registry
from llm_council.sandbox import SandboxOptions, create_app, synth
from llm_council.sandbox.bundled import (
    KnownTask,
    TaskBook,
    bundled_tasks,
    difficulty_of,
    parse_tasks,
)
from llm_council.sandbox.reading import SIMULATED_MARK
from llm_council.sandbox.solving import judge_accuracy, kind_of, pass_chance
from tests.council_helpers import make_config, sandbox_council

REGISTRY = load_registry()
TASKS: dict[str, Task] = {t.id: t for t in load_tasks()}  # the eval's loader: it has the tests
BOOK = bundled_tasks()
SCORED = sorted(
    (m for m in REGISTRY.models if m.coding_score is not None), key=lambda m: m.coding_score or 0
)
WEAKEST, STRONGEST = SCORED[0], SCORED[-1]
CHAIRMAN = "anthropic/claude-opus-4.7"


def known(task_id: str) -> KnownTask:
    return next(t for t in BOOK.tasks if t.id == task_id)


@functools.cache
def run(task_id: str, code: str) -> RunResult:
    """The task's tests run against ``code`` in the eval's isolated interpreter."""
    task = TASKS[task_id]
    return run_tests(code, task.tests, entry_point=task.entry_point)


def grade(task_id: str, answer: str | None) -> RunResult | None:
    """Extract the code as the eval does and run it; None when there is no code."""
    extraction = extract_code(answer, TASKS[task_id].entry_point)
    return None if extraction.code is None else run(task_id, extraction.code)


def passed(task_id: str, answer: str | None) -> bool:
    result = grade(task_id, answer)
    return result is not None and result.passed


def ask(model: str, prompt: str, seed: int = 0, mode: str = "coding") -> str:
    """What the sandbox answers ``model``'s stage-1 request for ``prompt``."""
    entry = REGISTRY.get(model)
    assert entry is not None and entry.coding_score is not None
    messages = [m.model_dump() for m in answer_messages(prompt, mode)]
    return synth.compose(model, entry.coding_score, messages, seed)


def code_of(answer: str | None, task_id: str) -> str | None:
    return extract_code(answer, TASKS[task_id].entry_point).code


# --- recognising a task --------------------------------------------------------------------


def test_the_sandbox_knows_every_bundled_task_by_its_prompt() -> None:
    assert len(BOOK) == len(TASKS) >= 40
    for task in TASKS.values():
        mine = BOOK.match(task.prompt)
        assert mine is not None and mine.id == task.id
        assert (mine.reference, mine.wrong, mine.entry_point) == (
            task.reference,
            task.wrong,
            task.entry_point,
        )


def test_a_task_is_matched_exactly_or_verbatim_inside_a_longer_question() -> None:
    long = KnownTask(
        "t1",
        "Write `pairs(xs)` returning every adjacent pair of xs, in order.",
        "pairs",
        "def pairs(xs): ...",
        "def pairs(xs): ...",
        0.5,
    )
    short = KnownTask("t2", "Write `f(x)`.", "f", "def f(x): ...", "def f(x): ...", 0.5)
    book = TaskBook([long, short])
    assert book.match(long.prompt) is long
    assert book.match("  " + long.prompt.replace(" ", "\n  ") + "\n") is long  # whitespace
    assert book.match(f"Please help.\n\n{long.prompt}\n\nUse Python 3.11.") is long
    assert book.match(short.prompt) is short
    # A short prompt is too generic to find inside someone else's question.
    assert book.match("Write `f(x)`. Also explain closures.") is None
    assert book.match("Write `pairs(xs)` returning every pair") is None
    assert book.match("") is None and TaskBook().match(long.prompt) is None


def test_only_tasks_with_both_solutions_are_kept_and_bad_lines_are_named() -> None:
    lines = [
        "// a comment",
        "",
        json.dumps({"id": "a", "prompt": "p", "entry_point": "f", "tests": "pass"}),
        json.dumps(
            {
                "id": "b",
                "prompt": "q",
                "entry_point": "g",
                "reference": "r",
                "wrong": "w",
                "difficulty": "hard",
                "category": "strings",
            }
        ),
    ]
    book = parse_tasks(lines, "mine.jsonl")
    assert [t.id for t in book.tasks] == ["b"]
    assert book.tasks[0].difficulty == 1.0 and book.tasks[0].category == "strings"
    with pytest.raises(ValueError, match=r"^mine\.jsonl:2: not JSON"):
        parse_tasks(["{}", "{oops"], "mine.jsonl")
    with pytest.raises(ValueError, match=r"^mine\.jsonl:1: a task must be a JSON object"):
        parse_tasks(["[1, 2]"], "mine.jsonl")
    assert [difficulty_of(v) for v in ("easy", "MEDIUM", 0.25, 3, None, True, "?")] == [
        0.0,
        0.5,
        0.25,
        0.5,
        0.5,
        0.5,
        0.5,
    ]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(0, 10_000),
    before=st.text(max_size=80),
    after=st.text(max_size=80),
    seed=st.integers(0, 2**32),
)
def test_a_task_wrapped_in_any_text_still_gets_the_tasks_code(
    index: int, before: str, after: str, seed: int
) -> None:
    task = BOOK.tasks[index % len(BOOK)]
    text = ask(WEAKEST.id, f"{before}\n{task.prompt}\n{after}", seed)
    assert kind_of(code_of(text, task.id), task) in ("reference", "wrong")


async def test_a_lone_surrogate_in_a_request_is_answered_not_a_server_error() -> None:
    """JSON may carry an unpaired surrogate escape; the sandbox hashes it without failing."""
    task = BOOK.tasks[0]
    app = create_app(REGISTRY, SandboxOptions(latency_ms=0))
    answer = "x\ud800y\n```python\n" + task.reference + "\n```"
    candidates = [Candidate("Response A", answer), Candidate("Response B", "\udcff")]
    requests = [
        answer_messages("question \ud800", "coding"),
        answer_messages(task.prompt + "\ud800", "coding"),
        review_messages(task.prompt, candidates),
        chairman_messages(task.prompt, "coding", candidates, [("Response A", 1.0)]),
    ]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox/api/v1/"
    ) as client:
        for messages in requests:
            body = json.dumps(
                {"model": STRONGEST.id, "messages": [m.model_dump() for m in messages]}
            )  # ensure_ascii: the surrogate travels as a \\ud800 escape
            response = await client.post(
                "chat/completions", content=body, headers={"content-type": "application/json"}
            )
            assert response.status_code == 200, response.text
            assert response.json()["choices"][0]["message"]["content"]


# --- answers ---------------------------------------------------------------------------------


def test_answers_are_real_code_and_deterministic_per_model_task_and_seed() -> None:
    models = (STRONGEST.id, "openai/gpt-5.4-mini", WEAKEST.id)
    kinds: dict[tuple[str, int], list[str]] = {}
    for task in BOOK.tasks:
        for model in models:
            for seed in (0, 1):
                text = ask(model, task.prompt, seed)
                # Same (model, task, seed): the same text, whatever else the request says.
                assert (
                    text
                    == ask(model, task.prompt, seed)
                    == ask(model, task.prompt, seed, mode="general")
                )
                assert text.count("```python") == 1 and "sandbox answer from" in text
                kind = kind_of(code_of(text, task.id), task)
                assert kind in ("reference", "wrong"), (task.id, model)
                kinds.setdefault((model, seed), []).append(kind)
    # The seed and the model both change which tasks come out right.
    assert kinds[(models[1], 0)] != kinds[(models[1], 1)]
    assert kinds[(models[0], 0)] != kinds[(models[2], 0)]


def test_right_and_wrong_answers_read_the_same_so_only_running_tells() -> None:
    task = known("merge-sorted")
    right = wrong = None
    for model in (m.id for m in SCORED):
        text = ask(model, task.prompt)
        if kind_of(code_of(text, task.id), task) == "reference":
            right = right or text
        else:
            wrong = wrong or text
    assert right is not None and wrong is not None
    prose = [t.split("```python")[0].split("\n\n", 1)[1] for t in (right, wrong)]
    assert {p.split(". ", 1)[0] for p in prose} == {"Here is `merge`"}
    assert right.rsplit("```", 1)[1] == wrong.rsplit("```", 1)[1]


def test_stronger_models_pass_more_bundled_tasks_when_their_code_is_run() -> None:
    rates: dict[str, float] = {}
    for model in SCORED:
        results = [grade(t.id, ask(model.id, t.prompt)) for t in BOOK.tasks]
        assert all(r is not None for r in results)
        rates[model.id] = sum(r.passed for r in results if r is not None) / len(results)
        for result in results:
            assert result is not None
            if not result.passed:
                # Failed by the task's own tests, not by the harness.
                assert result.outcome == "failed" and "tests line" in (result.reason or "")
    assert 0 < rates[WEAKEST.id] < rates[STRONGEST.id] < 1
    assert rates[STRONGEST.id] - rates[WEAKEST.id] >= 0.4
    # A real ordering, not just at the ends: the bands of the registry line up.
    weak = [rates[m.id] for m in SCORED if (m.coding_score or 0) < 0.7]
    middle = [rates[m.id] for m in SCORED if 0.7 <= (m.coding_score or 0) < 0.9]
    strong = [rates[m.id] for m in SCORED if (m.coding_score or 0) >= 0.9]
    assert statistics.mean(weak) < statistics.mean(middle) < statistics.mean(strong)
    scores = [m.coding_score or 0 for m in SCORED]
    assert statistics.correlation(scores, [rates[m.id] for m in SCORED]) > 0.8


def test_harder_tasks_are_solved_less_often() -> None:
    assert pass_chance(0.8, 0.0) > pass_chance(0.8, 0.5) > pass_chance(0.8, 1.0)
    assert pass_chance(0.97, 0.0) < 1 and pass_chance(0.55, 1.0) > 0
    by_difficulty: dict[float, list[bool]] = {}
    for task in BOOK.tasks:
        for model in SCORED:
            by_difficulty.setdefault(task.difficulty, []).append(
                passed(task.id, ask(model.id, task.prompt))
            )
    easy, medium = (statistics.mean(by_difficulty[d]) for d in (0.0, 0.5))
    assert easy > medium


async def test_the_run_decides_not_the_sandbox() -> None:
    """A sandbox given a task whose stored "reference" is broken: its strong seats ship that
    code believing it right, and running the task's tests fails it."""
    real = known("merge-sorted")
    swapped = KnownTask(
        real.id, real.prompt, real.entry_point, real.wrong, real.reference, difficulty=0.0
    )
    app = create_app(REGISTRY, SandboxOptions(latency_ms=0), tasks=TaskBook([swapped]))
    council, _ = sandbox_council(make_config(), app=app)
    try:
        result = await council.run(real.prompt, "high")
    finally:
        await council.aclose()
    believed = 0
    for seat in result.seats:
        good = kind_of(code_of(seat.answer, real.id), swapped) == "reference"
        believed += good
        graded = grade(real.id, seat.answer)
        assert graded is not None and graded.passed is not good, seat.resolved_model
    assert believed >= 2  # high-tier seats mostly "solve" it, and fail when run


# --- reviews and the chairman ---------------------------------------------------------------


def _review(reviewer: str, task: KnownTask, answers: list[str], seed: int = 0) -> list[str]:
    candidates = [Candidate(stage_label(i), text) for i, text in enumerate(answers)]
    messages = [m.model_dump() for m in review_messages(task.prompt, candidates)]
    entry = REGISTRY.get(reviewer)
    assert entry is not None and entry.coding_score is not None
    text = synth.compose(reviewer, entry.coding_score, messages, seed)
    ranking = json.loads(text.rsplit("```json\n", 1)[1].split("\n```")[0])["ranking"]
    assert sorted(ranking) == sorted(c.label for c in candidates)
    return ranking


def _right_and_wrong(task: KnownTask) -> tuple[str, str]:
    fence = "Here is it.\n\n```python\n{}\n```\n"
    return fence.format(task.reference.strip()), fence.format(task.wrong.strip())


def test_reviewers_prefer_correct_code_and_stronger_ones_more_often() -> None:
    share: dict[str, float] = {}
    for reviewer in (STRONGEST.id, WEAKEST.id):
        right_first = 0
        for task in BOOK.tasks:
            right, wrong = _right_and_wrong(task)
            right_first += _review(reviewer, task, [right, wrong])[0] == "Response A"
            right_first += _review(reviewer, task, [wrong, right])[0] == "Response B"
        share[reviewer] = right_first / (2 * len(BOOK))
    assert 0.5 < share[WEAKEST.id] < share[STRONGEST.id] < 1
    assert judge_accuracy(WEAKEST.coding_score or 0) < judge_accuracy(STRONGEST.coding_score or 0)


def _chair(chairman: str, task: KnownTask, answers: list[str], order: list[str]) -> Any:
    candidates = [Candidate(stage_label(i), text) for i, text in enumerate(answers)]
    ranking = [(label, 1.0 - i / len(order)) for i, label in enumerate(order)]
    messages = [
        m.model_dump() for m in chairman_messages(task.prompt, "coding", candidates, ranking)
    ]
    entry = REGISTRY.get(chairman)
    assert entry is not None and entry.coding_score is not None
    text = synth.compose(chairman, entry.coding_score, messages, 0)
    return parse_verdict(text, {c.label: c.label for c in candidates})


def test_the_chairman_ships_a_candidates_code_and_skips_a_top_answer_it_reads_as_wrong() -> None:
    switched: dict[str, int] = {}
    for chairman in (CHAIRMAN, WEAKEST.id):
        switched[chairman] = 0
        for task in BOOK.tasks:
            right, wrong = _right_and_wrong(task)
            parsed = _chair(chairman, task, [wrong, right], ["Response A", "Response B"])
            assert parsed.verdict is not None, parsed.problem
            built_on = parsed.verdict.built_on
            code = code_of(parsed.synthesis, task.id)
            # Whatever it chose, it ships exactly that candidate's code.
            assert kind_of(code, task) == ("reference" if built_on == ["Response B"] else "wrong")
            switched[chairman] += built_on == ["Response B"]
            if built_on == ["Response B"]:
                points = [d.point for d in parsed.verdict.disagreements]
                assert f"Whether `{task.entry_point}` is correct" in points
    assert switched[WEAKEST.id] < switched[CHAIRMAN] < len(BOOK)
    assert switched[CHAIRMAN] >= 0.7 * len(BOOK)  # about judge_accuracy squared: 0.86


async def _sessions(tier: str, seed: int = 0, base_url: str | None = None) -> list[SessionResult]:
    council, _ = sandbox_council(make_config(), seed=seed, base_url=base_url)
    try:
        return [await council.run(task.prompt, tier) for task in BOOK.tasks]
    finally:
        await council.aclose()


async def test_peer_review_predicts_passing_and_the_council_row_is_meaningful() -> None:
    """Quick-tier sessions on every task: Borda AUC in (0.5, 1), and a council pass rate
    that comes from the seats' code (never above "some seat passed").

    The council shuffles labels by its random session id, so the exact AUC varies from run
    to run (0.61-0.68 seen); that the chairman sometimes ships a wrong answer over a right
    one is shown deterministically by the chairman test above.
    """
    results = await _sessions("quick")
    pairs: list[tuple[float, bool]] = []
    council = any_seat = 0
    for task, result in zip(BOOK.tasks, results, strict=True):
        assert result.status == "ok", result.notices
        seat_passed = {}
        for seat in result.seats:
            seat_passed[seat.seat_id] = passed(task.id, seat.answer)
            if seat.borda is not None:
                pairs.append((seat.borda, seat_passed[seat.seat_id]))
        assert result.verdict is not None
        shipped = code_of(result.synthesis, task.id)
        (built_on,) = result.verdict.built_on
        base = next(s for s in result.seats if s.seat_id == built_on)
        assert shipped == code_of(base.answer, task.id)  # the chairman writes no code of its own
        ok = passed(task.id, result.synthesis)
        council += ok
        any_seat += any(seat_passed.values())
        assert not ok or any(seat_passed.values())
    auc = area_under_curve([b for b, _ in pairs], [ok for _, ok in pairs])  # the eval's AUC
    assert auc is not None and 0.55 < auc < 1, auc
    assert 0 < council <= any_seat < len(BOOK)


async def test_the_served_sandbox_answers_bundled_tasks_over_a_socket(asgi_server: Any) -> None:
    """`sandbox serve`'s app, default task set, under uvicorn, graded by the eval's own
    ``grade_session``: each seat ships stored code and passes exactly when it is the
    reference; the council's grade is its synthesis's."""
    app = create_app(REGISTRY, SandboxOptions(latency_ms=0))
    tasks = BOOK.tasks[:3]
    with asgi_server(app) as base:
        council, _ = sandbox_council(make_config(), app=app, base_url=f"{base}/api/v1")
        try:
            results = [await council.run(t.prompt, "balanced") for t in tasks]
        finally:
            await council.aclose()
    for task, result in zip(tasks, results, strict=True):
        grades = {g.who: g for g in grade_session(TASKS[task.id], result)}
        assert set(grades) == {s.seat_id for s in result.seats} | {COUNCIL}
        for seat in result.seats:
            kind = kind_of(code_of(seat.answer, task.id), task)
            assert kind in ("reference", "wrong")
            assert grades[seat.seat_id].passed is (kind == "reference"), grades[seat.seat_id]
        shipped = kind_of(code_of(result.synthesis, task.id), task)
        assert grades[COUNCIL].passed is (shipped == "reference")


def test_questions_that_are_not_tasks_keep_the_topical_and_generic_answers() -> None:
    topical = ask(STRONGEST.id, "Write a Python function that merges two sorted lists.")
    assert "def merge_sorted(" in topical and "assert " in topical
    generic = ask(STRONGEST.id, "Which message queue should a small team pick?")
    assert SIMULATED_MARK in generic and "```python" not in generic
    # The merge *task* is answered with the task's own code, not the topic's.
    task = ask(STRONGEST.id, known("merge-sorted").prompt)
    assert "def merge(a, b)" in task and "merge_sorted" not in task
