"""Code extraction from Markdown answers: which block is chosen, what is dropped, totality."""

from __future__ import annotations

import ast

from hypothesis import given, settings
from hypothesis import strategies as st

from llm_council.evaluation.extract import extract_code, fenced_blocks

QUOTED_BUG_THEN_FIX = """The bug is in the loop bound:

```python
def chunks(xs, size):
    return [xs[i:i + size] for i in range(0, len(xs) - size + 1, size)]
```

Fixed version:

```python
def chunks(xs, size):
    if size < 1:
        raise ValueError("size must be >= 1")
    return [xs[i:i + size] for i in range(0, len(xs), size)]

print(chunks([1, 2, 3], 2))
assert chunks([1, 2, 3], 2) == [[1, 2], [3]]
```

Output:

```
[[1, 2], [3]]
```
"""


def test_the_last_block_defining_the_entry_point_wins_and_demo_lines_go():
    found = extract_code(QUOTED_BUG_THEN_FIX, "chunks")
    assert found.reason is None and found.blocks == 3
    assert "range(0, len(xs), size)" in found.code
    assert "len(xs) - size + 1" not in found.code
    assert "print(" not in found.code and "assert " not in found.code
    ast.parse(found.code)


def test_a_helper_in_its_own_block_is_kept_before_the_solution():
    answer = (
        "First a helper:\n\n```python\nimport math\n\ndef _norm(x):\n    return math.fabs(x)\n```\n\n"
        "Then:\n\n```py\ndef total(xs):\n    return sum(_norm(x) for x in xs)\n```\n"
    )
    found = extract_code(answer, "total")
    assert found.code.index("def _norm") < found.code.index("def total")
    namespace: dict[str, object] = {}
    exec(compile(found.code, "<answer>", "exec"), namespace)
    assert namespace["total"]([-1, 2]) == 3.0


def test_a_block_with_other_code_is_not_pulled_in_as_a_helper():
    answer = "```python\nvalue = 3\nrun_everything()\n```\n\n```python\ndef f():\n    return value\n```\n"
    found = extract_code(answer, "f")
    assert "run_everything" not in found.code


def test_main_guards_and_docstrings():
    answer = (
        '```python\n"""Module doc."""\ndef f():\n    return 1\n\n'
        'if __name__ == "__main__":\n    print(f(input()))\n```\n'
    )
    found = extract_code(answer, "f")
    assert found.code.startswith('"""Module doc."""') and "input()" not in found.code


def test_unlabelled_tilde_and_longer_fences():
    assert "def f" in extract_code("~~~\ndef f():\n    return 1\n~~~\n", "f").code
    nested = "````python\ndef f():\n    return '```'\n````\n"
    assert extract_code(nested, "f").code.strip().endswith("return '```'")


def test_an_unclosed_fence_runs_to_the_end():
    found = extract_code("Sure:\n```python\ndef f():\n    return 2\n", "f")
    assert found.code is not None and "return 2" in found.code


def test_classes_and_assignments_count_as_definitions():
    assert (
        "class LRUCache"
        in extract_code("```python\nclass LRUCache:\n    pass\n```", "LRUCache").code
    )
    assert extract_code("```python\nmerge = sorted\n```", "merge").code.strip() == "merge = sorted"


def test_an_answer_that_is_plain_python_is_taken_whole():
    assert extract_code("def f(x):\n    return x\n", "f").code.startswith("def f")


def test_crlf_answers_are_read():
    found = extract_code("```python\r\ndef f():\r\n    return 1\r\n```\r\n", "f")
    assert found.code is not None and "\r" not in found.code


def test_a_block_that_does_not_compile_is_still_returned():
    # The run then reports a syntax error, which says more than "no code".
    found = extract_code("```python\ndef f(x)\n    return x\n```", "f")
    assert found.code is not None and "def f(x)" in found.code


def test_a_later_block_that_compiles_beats_a_broken_one():
    answer = "```python\ndef f():\n    return 1\n```\n\n```python\ndef f(:\n```\n"
    assert extract_code(answer, "f").code.strip() == "def f():\n    return 1"


def test_reasons_when_there_is_nothing_to_run():
    assert extract_code(None, "f").reason == "the answer is empty"
    assert extract_code("   ", "f").reason == "the answer is empty"
    assert extract_code("Use recursion.", "f").reason == "no Python code block in the answer"
    assert (
        extract_code("```js\nfunction f() {}\n```", "f").reason
        == "no Python code block in the answer"
    )
    found = extract_code("```python\ndef g():\n    pass\n```", "f")
    assert found.code is None and found.reason == "no code block defines `f`" and found.blocks == 1


def test_fenced_blocks_reports_tags_and_bodies():
    assert fenced_blocks("a\n```python title=x\nbody\n```\n```\nplain\n```") == [
        ("python", "body\n"),
        ("", "plain\n"),
    ]


_PIECES = st.sampled_from(
    ["```", "```python", "~~~", "\n", "def f(", "):", "    return 1", "class f:", "f = 1",
     "if __name__ == '__main__':", "print(1)", "assert 0", "\r\n", "(" * 120, "\x00", "\ud800"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=20)), max_size=40), st.sampled_from(["f", "g"]))
def test_extraction_is_total(pieces, entry):
    found = extract_code("".join(pieces), entry)
    assert (found.code is None) != (found.reason is None)
    assert found.code is None or isinstance(found.code, str)


def test_absurd_nesting_does_not_raise():
    found = extract_code("```python\ndef f():\n    return " + "[" * 100_000 + "\n```", "f")
    assert found.code is None or isinstance(found.code, str)
