"""``.gitignore`` rules for a directory that is not inside a git work tree.

Inside a work tree git itself answers (``git ls-files --exclude-standard``, see
``attachments``); this reader is the fallback for a plain directory, so attaching one
still leaves out what its ``.gitignore`` files exclude. It follows gitignore(5): blank
lines and ``#`` comments are skipped, ``!`` re-includes, a trailing ``/`` matches only
directories, a pattern with a ``/`` before its end is anchored to its file's directory,
one without matches at any depth; ``*`` and ``?`` never match ``/``, ``**`` spans
directories, ``[...]`` is a character class. A file under an excluded directory stays
excluded (the walk never enters that directory).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["IgnoreRules", "Rule", "parse_rules"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One pattern line of a ``.gitignore``, compiled against paths relative to ``base``."""

    base: str  # the directory of the .gitignore, relative to the walk's top ("" at the top)
    regex: re.Pattern[str]
    negated: bool
    dir_only: bool

    def matches(self, path: str, is_dir: bool) -> bool:
        """Whether ``path`` (relative to the walk's top, ``/``-separated) is matched."""
        if self.dir_only and not is_dir:
            return False
        if self.base:
            if not path.startswith(self.base + "/"):
                return False
            path = path[len(self.base) + 1 :]
        return self.regex.fullmatch(path) is not None


def parse_rules(text: str, base: str = "") -> list[Rule]:
    """The rules of one ``.gitignore`` whose directory is ``base``."""
    rules = []
    for raw in text.splitlines():
        line = _strip_trailing_spaces(raw)
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if negated or line.startswith(("\\!", "\\#")):  # "\\!", "\\#": a literal ! or #
            line = line[1:]
        dir_only = line.endswith("/") and not line.endswith("\\/")
        line = line.rstrip("/") if dir_only else line
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        if not anchored:
            line = "**/" + line
        try:
            regex = re.compile(_translate(line), re.DOTALL)
        except re.error:  # e.g. a reversed range "[z-a]": git matches nothing with it
            continue
        rules.append(Rule(base, regex, negated, dir_only))
    return rules


class IgnoreRules:
    """The rules of every ``.gitignore`` met so far in a walk; deeper files win."""

    def __init__(self) -> None:
        self._rules: list[Rule] = []

    def add_directory(self, directory: Path, relative: str) -> None:
        """Read ``directory/.gitignore`` (if any); ``relative`` is its path from the top."""
        file = directory / ".gitignore"
        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError:  # none, or unreadable: nothing to exclude
            return
        self._rules += parse_rules(text, relative)

    def ignored(self, path: str, *, is_dir: bool) -> bool:
        """Whether ``path`` (relative to the top, ``/``-separated) is excluded: the last
        matching rule decides, and rules of deeper ``.gitignore`` files come later."""
        verdict = False
        for rule in self._rules:
            if rule.matches(path, is_dir):
                verdict = not rule.negated
        return verdict


def _strip_trailing_spaces(line: str) -> str:
    # Trailing spaces are ignored unless escaped with a backslash.
    stripped = line.rstrip(" ")
    if stripped.endswith("\\") and len(stripped) < len(line):
        return stripped[:-1] + " "
    return stripped


def _translate(pattern: str) -> str:
    """A gitignore glob as a regular expression over a relative ``/``-separated path."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                at_start = i == 0 or pattern[i - 1] == "/"
                after = i + 2
                if at_start and after < n and pattern[after] == "/":
                    out.append("(?:.*/)?")  # "**/": zero or more directories
                    i = after + 1
                    continue
                if at_start and after == n:
                    out.append(".*")  # "/**" at the end: everything inside
                    i = after
                    continue
                out.append("[^/]*")  # other "**" is an ordinary "*"
                i = after
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            end = _class_end(pattern, i)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                negate = body[:1] in ("!", "^")
                body = body[1:] if negate else body
                # Every member escaped but a range's "-": no nested set or set operation.
                members = "".join(
                    "-" if ch == "-" and 0 < k < len(body) - 1 else re.escape(ch)
                    for k, ch in enumerate(body)
                )
                out.append(("[^/" if negate else "[") + members + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _class_end(pattern: str, start: int) -> int:
    """Index of the ``]`` closing the class opened at ``start``, or -1 if none does."""
    i = start + 1
    if i < len(pattern) and pattern[i] in "!^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1  # a "]" first in the class is a literal
    while i < len(pattern):
        if pattern[i] == "]":
            return i
        i += 1
    return -1
