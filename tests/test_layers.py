"""Module layering: no import cycles, rules below the layers that use them.

Reads the import statements of every module with ``ast`` (nothing is imported), so a cycle
hidden behind a function-level import is caught as well as a top-level one.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "llm_council"

# Interfaces import heavy parts lazily so `llm-council --help` starts fast; that is the only
# accepted reason for an import inside a function.
LAZY_IMPORTERS = {
    "llm_council",
    "llm_council.api",
    "llm_council.gateway.factory",
    "llm_council.log",
    "llm_council.telemetry",
    "llm_council.service",
    "llm_council.archive",
}
# Every module of the command-line package is interface code.
LAZY_PACKAGES = ("llm_council.cli.",)
# Pure rules must not depend on the HTTP adapter, the store or any interface.
PURE_RULES = {
    "llm_council.pareto",
    "llm_council.registry",
    "llm_council.council.duplicates",
    "llm_council.council.ranking",
    "llm_council.council.verdict",
    "llm_council.council.preflight",
    "llm_council.gateway.router_metadata",
}
FORBIDDEN_FOR_RULES = ("llm_council.gateway.openrouter", "llm_council.audition", "llm_council.cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> tuple[set[str], set[str]]:
    """(top-level imports, function-level imports) of llm_council modules in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top: set[str] = set()
    nested: set[str] = set()

    def visit(node: ast.AST, depth: int, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                visit(child, depth, True)
                continue
            inner = depth + isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                names = [child.module] + [f"{child.module}.{a.name}" for a in child.names]
            for name in names:
                if name.startswith("llm_council") and not type_only:
                    (nested if depth else top).add(name)
            visit(child, inner, type_only)

    visit(tree, 0, False)
    return top, nested


def graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    known = set(files)
    edges: dict[str, set[str]] = {}
    lazy: dict[str, set[str]] = {}
    for name, path in files.items():
        top, nested = imports(path)
        edges[name] = {m for m in top | nested if m in known and m != name}
        lazy[name] = {m for m in nested if m in known}
    return edges, lazy


def test_no_import_cycles_even_through_function_level_imports():
    edges, _ = graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def dfs(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            # A package importing its own submodule is not a cycle through the package.
            if nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1 and not node.startswith(nxt + "."):
                cycles.append([*stack[stack.index(nxt) :], nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                dfs(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            dfs(node, [node])
    assert not cycles, cycles


def test_function_level_imports_only_in_interfaces():
    _, lazy = graph()
    offenders = {
        m: sorted(v)
        for m, v in lazy.items()
        if v and m not in LAZY_IMPORTERS and not m.startswith(LAZY_PACKAGES)
    }
    assert not offenders, offenders


def test_pure_rules_sit_below_the_adapter_the_store_and_the_cli():
    edges, _ = graph()
    bad = {
        rule: sorted(m for m in edges[rule] if m.startswith(FORBIDDEN_FOR_RULES))
        for rule in PURE_RULES
    }
    assert not any(bad.values()), bad
