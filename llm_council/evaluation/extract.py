"""Pull the code that answers a task out of a model's Markdown answer.

Models answer in prose with fenced blocks: sometimes a first attempt and a corrected one,
sometimes the buggy code quoted before the fix, sometimes a helper in its own block, often a
usage example. The rule: take the LAST Python block that defines the task's entry point
(corrections come later), put before it the other blocks that only define helpers it uses
and does not define itself, and drop top-level demo statements (bare calls such as
``print(...)`` and ``assert``s), which would otherwise run, read stdin or fail on the model's
own wrong example. Without fences, an answer that is itself Python is taken whole.

Total: never raises, whatever the text (the hostile-input tests hold it to that).
"""

from __future__ import annotations

import ast
import builtins
import re
import warnings
from dataclasses import dataclass

MAX_ANSWER_CHARS = 200_000  # longer answers are cut: parsing is the only work done on them
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[ \t]*([^\s`]*)[^\n]*$", re.MULTILINE)
_PYTHON_TAGS = frozenset({"", "python", "py", "python3", "py3"})


@dataclass(frozen=True, slots=True)
class Extraction:
    """The code to run (None when there is none) and, when None, why."""

    code: str | None
    reason: str | None
    blocks: int  # fenced blocks that looked like Python


def extract_code(answer: str | None, entry_point: str) -> Extraction:
    """The code in ``answer`` that defines ``entry_point``; never raises."""
    try:
        return _extract(answer or "", entry_point)
    except Exception as exc:  # RecursionError/MemoryError from ast on absurd input included
        return Extraction(None, f"could not read the answer's code ({type(exc).__name__})", 0)


def _extract(answer: str, entry_point: str) -> Extraction:
    answer = answer[:MAX_ANSWER_CHARS].replace("\r\n", "\n")
    if not answer.strip():
        return Extraction(None, "the answer is empty", 0)
    blocks = [b for tag, b in fenced_blocks(answer) if tag.lower() in _PYTHON_TAGS and b.strip()]
    if not blocks:
        whole = answer.strip()
        if _defines(whole, entry_point) and _parses(whole):
            return Extraction(_strip_demo(whole), None, 0)
        return Extraction(None, "no Python code block in the answer", 0)
    defining = [i for i, b in enumerate(blocks) if _defines(b, entry_point)]
    if not defining:
        return Extraction(None, f"no code block defines `{entry_point}`", len(blocks))
    # The last defining block that compiles; if none compiles, the last one, so the run
    # reports its syntax error instead of "no code".
    chosen = next((i for i in reversed(defining) if _parses(blocks[i])), defining[-1])
    main = _strip_demo(blocks[chosen])
    helpers = _helpers_for(main, [b for i, b in enumerate(blocks) if i != chosen], entry_point)
    return Extraction("\n\n".join([*helpers, main]), None, len(blocks))


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(info tag, body) of every fenced block, in order; an unclosed last fence runs to the end."""
    out: list[tuple[str, str]] = []
    position = 0
    while True:
        opening = _FENCE.search(text, position)
        if opening is None:
            return out
        fence, tag = opening.group(1), opening.group(2)
        body_start = opening.end() + 1
        # The closing fence: same character, at least as long, nothing after it.
        closing = re.compile(rf"^[ \t]{{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.M)
        end = closing.search(text, body_start)
        if end is None:
            out.append((tag, text[body_start:]))
            return out
        out.append((tag, text[body_start : end.start()]))
        position = end.end()


def _defines(code: str, name: str) -> bool:
    """Does ``code`` bind ``name`` at the top level (def, class, assignment, import)?"""
    tree = _parse(code)
    if tree is None:  # does not compile: a textual look, so a syntax error is still reported
        return (
            re.search(rf"^\s*(?:async\s+def|def|class)\s+{re.escape(name)}\b", code, re.M)
            is not None
        )
    return name in _top_level_names(tree)


_ANSWER_FILE = "<llm-council-answer>"


_QUIET = ("ignore", None, Warning, re.compile(re.escape(_ANSWER_FILE)), 0)


def _quiet_parse_warnings() -> None:
    """Silence the compiler warnings (SyntaxWarning, DeprecationWarning for "invalid escape
    sequence") that parsing a model's code would print on our stderr: only those attributed
    to answer text. Checked on every parse, since ``catch_warnings`` blocks (pytest's, a
    caller's) restore the filter list; ``catch_warnings`` itself would be narrower but is not
    thread-safe, and grading runs in threads."""
    if _QUIET not in warnings.filters:
        warnings.filterwarnings("ignore", category=Warning, module=re.escape(_ANSWER_FILE))


def _parse(code: str) -> ast.Module | None:
    _quiet_parse_warnings()
    try:
        return ast.parse(code, filename=_ANSWER_FILE)
    except (SyntaxError, ValueError):
        return None


def _parses(code: str) -> bool:
    return _parse(code) is not None


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _strip_demo(code: str) -> str:
    """``code`` without top-level bare expressions (other than docstrings) and asserts."""
    tree = _parse(code)
    if tree is None:
        return code
    lines = code.split("\n")
    drop: set[int] = set()
    for index, node in enumerate(tree.body):
        docstring = (
            index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        )
        demo = isinstance(node, ast.Expr) and not docstring
        if demo or isinstance(node, ast.Assert) or _is_main_guard(node):
            drop.update(range(node.lineno - 1, (node.end_lineno or node.lineno)))
    if not drop:
        return code
    kept = "\n".join(line for i, line in enumerate(lines) if i not in drop)
    return kept if _parses(kept) else code  # e.g. a statement sharing a line with `;`


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    names = [n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)]
    return "__name__" in names


def _helpers_for(main: str, others: list[str], entry_point: str) -> list[str]:
    """Other blocks that only define things ``main`` uses but does not define itself."""
    tree = _parse(main)
    if tree is None:
        return []
    missing = _free_names(tree) - set(dir(builtins))
    helpers = []
    for block in others:
        block_tree = _parse(block)
        if block_tree is None or not missing:
            continue
        defined = _top_level_names(block_tree)
        only_definitions = all(isinstance(n, _DEFINITION) for n in block_tree.body)
        if only_definitions and entry_point not in defined and defined & missing:
            helpers.append(block.strip("\n"))
            missing -= defined
    return helpers


_DEFINITION = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Import,
    ast.ImportFrom,
    ast.Assign,
    ast.AnnAssign,
)


def _free_names(tree: ast.Module) -> set[str]:
    """Names the code reads but binds nowhere (a rough scope-free approximation)."""
    loaded: set[str] = set()
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    return loaded - bound
