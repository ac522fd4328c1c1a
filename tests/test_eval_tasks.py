"""The bundled task set and the task file formats.

The whole-set test runs every bundled task twice in the real isolated runner: the stored
reference must pass, and the stored wrong variant must fail on the tests themselves (an
assertion or exception, not a syntax error or a crash), so each task's tests are shown to
tell a plausible wrong solution from a right one.
"""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_council.evaluation.grade import grade_answer
from llm_council.evaluation.isolate import run_tests
from llm_council.evaluation.tasks import Task, TaskFileError, load_tasks

BUNDLED = load_tasks()
CATEGORIES = {"algorithms", "strings", "parsing", "data-structures", "bug-fix", "api-usage"}


def _pool_map(fn, items):
    with ThreadPoolExecutor(2) as pool:  # a 2-core machine; runs take no lock
        return list(pool.map(fn, items))


def test_the_bundled_set_is_large_mixed_and_complete():
    assert len(BUNDLED) >= 40
    assert len({t.id for t in BUNDLED}) == len(BUNDLED)
    assert {t.category for t in BUNDLED} == CATEGORIES
    difficulty = Counter(t.difficulty for t in BUNDLED)
    assert set(difficulty) == {"easy", "medium", "hard"} and min(difficulty.values()) >= 5
    for task in BUNDLED:
        assert task.language == "python" and task.reference and task.wrong
        assert task.reference != task.wrong
        assert f"`{task.entry_point}" in task.prompt, (
            f"{task.id}: prompt does not name the entry point"
        )


def test_every_bundled_reference_passes_and_every_wrong_variant_fails():
    def check(task: Task) -> list[str]:
        problems = []
        good = run_tests(task.reference or "", task.tests, entry_point=task.entry_point)
        if not good.passed:
            problems.append(f"{task.id}: reference {good.outcome}: {good.reason}")
        bad = run_tests(task.wrong or "", task.tests, entry_point=task.entry_point)
        if bad.outcome != "failed":
            problems.append(f"{task.id}: wrong variant {bad.outcome}: {bad.reason}")
        return problems

    problems = [p for ps in _pool_map(check, BUNDLED) for p in ps]
    assert not problems, "\n".join(problems)


def test_every_reference_survives_extraction_from_a_markdown_answer():
    # How the sandbox and real models answer: prose, the code in a fence, a usage line.
    def check(task: Task) -> str | None:
        answer = (
            f"Here is `{task.entry_point}`:\n\n```python\n{task.reference}```\n\n"
            f"Usage:\n\n```python\nprint({task.entry_point})\n```\n"
        )
        run = grade_answer(task, answer)
        return None if run.passed else f"{task.id}: {run.outcome}: {run.reason}"

    problems = [p for p in _pool_map(check, BUNDLED) if p]
    assert not problems, "\n".join(problems)


def test_the_bundled_file_is_the_documented_jsonl_format():
    path = Path(__file__).resolve().parents[1] / "llm_council/evaluation/data/tasks.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(BUNDLED)
    for line in lines:
        raw = json.loads(line)
        assert {"id", "prompt", "entry_point", "tests", "language"} <= set(raw)
    assert load_tasks(path) == BUNDLED


TASK = {"id": "t1", "prompt": "Write `f`.", "entry_point": "f", "tests": "assert f() == 1\n"}


def _write(path: Path, *lines: object) -> Path:
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines), encoding="utf-8"
    )
    return path


def test_a_user_jsonl_file_loads_with_defaults(tmp_path):
    tasks = load_tasks(
        _write(tmp_path / "mine.jsonl", TASK, "", "// a comment", {**TASK, "id": "t2"})
    )
    assert [t.id for t in tasks] == ["t1", "t2"]
    assert tasks[0].language == "python" and tasks[0].reference is None


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("{not json", ":2: not valid JSON"),
        ("[1, 2]", ":2: a task must be a JSON object, got list"),
        ({k: v for k, v in TASK.items() if k != "tests"}, ":2: missing field 'tests'"),
        ({**TASK, "test": "x"}, ":2: unknown field 'test'"),
        (
            {**TASK, "entry_point": "not valid"},
            "entry_point 'not valid' is not a Python identifier",
        ),
        ({**TASK, "entry_point": "class"}, "is not a Python identifier"),
        ({**TASK, "id": "../escape"}, "field 'id': id must be"),
        ({**TASK, "language": "rust"}, "field 'language'"),
        ({**TASK, "tests": "  \n"}, "field 'tests': must not be empty"),
        (TASK, "task id 't1' appears more than once"),
    ],
)
def test_bad_task_lines_name_the_file_line_and_problem(tmp_path, line, needle):
    path = _write(tmp_path / "bad.jsonl", TASK, line)
    with pytest.raises(TaskFileError) as caught:
        load_tasks(path)
    message = str(caught.value)
    assert needle in message and str(path) in message and "\n" not in message


def test_missing_and_empty_sources_are_clear_errors(tmp_path):
    with pytest.raises(TaskFileError, match="no such task file or directory"):
        load_tasks(tmp_path / "absent.jsonl")
    with pytest.raises(TaskFileError, match="no tasks in it"):
        load_tasks(_write(tmp_path / "empty.jsonl", "", "  "))
    (tmp_path / "nothing").mkdir()
    with pytest.raises(TaskFileError, match="no tasks found"):
        load_tasks(tmp_path / "nothing")
    (tmp_path / "latin1.jsonl").write_bytes(b"\xff\xfe")
    with pytest.raises(TaskFileError, match="not UTF-8"):
        load_tasks(tmp_path / "latin1.jsonl")
    assert issubclass(TaskFileError, ValueError)


def test_a_directory_of_jsonl_files_and_task_folders(tmp_path):
    _write(tmp_path / "a.jsonl", TASK)
    folder = tmp_path / "parse-thing"
    folder.mkdir()
    (folder / "task.json").write_text(json.dumps({"entry_point": "g", "difficulty": "easy"}))
    (folder / "prompt.md").write_text("Write `g`.")
    (folder / "tests.py").write_text("assert g() == 2\n")
    (folder / "reference.py").write_text("def g():\n    return 2\n")
    (tmp_path / "notes").mkdir()  # a folder without task.json is not a task
    tasks = load_tasks(tmp_path)
    assert [t.id for t in tasks] == ["t1", "parse-thing"]
    folder_task = tasks[1]
    assert folder_task.prompt == "Write `g`." and folder_task.difficulty == "easy"
    assert run_tests(folder_task.reference or "", folder_task.tests).passed


def test_a_field_given_twice_in_a_task_folder_is_refused(tmp_path):
    folder = tmp_path / "twice"
    folder.mkdir()
    (folder / "task.json").write_text(json.dumps(TASK))
    (folder / "tests.py").write_text("assert True\n")
    with pytest.raises(TaskFileError, match=r"'tests' is given both inline and as tests\.py"):
        load_tasks(tmp_path)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.one_of(st.text(max_size=60), st.just(json.dumps(TASK))), max_size=6))
def test_any_file_content_loads_or_raises_task_file_error(tmp_path, lines):
    path = tmp_path / "fuzz.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    try:
        tasks = load_tasks(path)
    except TaskFileError as exc:
        assert "\n" not in str(exc)
    else:
        assert tasks and all(isinstance(t, Task) for t in tasks)
