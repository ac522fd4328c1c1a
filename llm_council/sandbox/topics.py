"""The coding questions the sandbox can answer for real, and what it says about the rest.

Each topic is working Python (run by the tests), a list of asserts ordered happy path first,
edge-case notes, and one realistic *subtle bug* that weaker simulated models make. The bug
is a textual change of the correct code whose effect only the ``exposes_bug`` asserts can
see, so a buggy answer still passes the tests it chose to write (the bug hides where its
author did not look) while a careful reviewer, or the chairman, can still spot it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Check:
    """One test: an assert, possibly with a few lines of setup before it."""

    text: str
    exposes_bug: bool = False  # fails on the topic's buggy variant


@dataclass(frozen=True, slots=True)
class EdgeCase:
    note: str
    bug_related: bool = False  # a buggy answer would not claim this


@dataclass(frozen=True, slots=True)
class Topic:
    """A question the sandbox recognises by keywords and answers with working code."""

    name: str  # "binary search", for prose
    pattern: re.Pattern[str]  # matched against the question, case-insensitively
    function: str  # what the answer defines, e.g. "binary_search"
    explanation: str
    insight: str  # the sentence about the bug-prone detail; a buggy answer lacks it
    code: str  # correct, runs on its own
    bug: tuple[str, str]  # (fragment of ``code``, its subtly wrong replacement)
    bug_point: str  # what answers with and without the bug disagree on
    bug_right: str
    bug_wrong: str
    checks: tuple[Check, ...]
    edge_cases: tuple[EdgeCase, ...]
    unwritten: tuple[str, ...]  # what a fuller answer would add; no sandbox answer has it
    setup: str = ""  # test fixture lines that every test needs

    @property
    def buggy_code(self) -> str:
        return self.code.replace(*self.bug)

    def has_bug(self, text: str) -> bool:
        """Whether ``text`` carries this topic's known bug (and not the correct fragment)."""
        return self.bug[1] in text and self.bug[0] not in text


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.DOTALL)


FIZZBUZZ = Topic(
    name="FizzBuzz",
    pattern=_re(r"fizz\s*-?\s*buzz"),
    function="fizzbuzz",
    explanation=(
        "Build the sequence for 1..n and return it rather than printing it, so it can be tested."
    ),
    insight=(
        "The order of the checks matters: a multiple of 15 is also a multiple of 3 and of 5, "
        "so it has to be tested first."
    ),
    code=(
        "def fizzbuzz(n: int) -> list[str]:\n"
        '    """1..n with multiples of 3 as "Fizz", of 5 as "Buzz" and of both as "FizzBuzz"."""\n'
        "    if n < 0:\n"
        '        raise ValueError("n must be zero or more")\n'
        "    out = []\n"
        "    for i in range(1, n + 1):\n"
        "        if i % 15 == 0:\n"
        '            out.append("FizzBuzz")\n'
        "        elif i % 3 == 0:\n"
        '            out.append("Fizz")\n'
        "        elif i % 5 == 0:\n"
        '            out.append("Buzz")\n'
        "        else:\n"
        "            out.append(str(i))\n"
        "    return out\n"
    ),
    bug=(
        '        if i % 15 == 0:\n            out.append("FizzBuzz")\n'
        '        elif i % 3 == 0:\n            out.append("Fizz")\n',
        '        if i % 3 == 0:\n            out.append("Fizz")\n'
        '        elif i % 15 == 0:\n            out.append("FizzBuzz")\n',
    ),
    bug_point="The order of the divisibility checks",
    bug_right='tests 15 first, so 15 gives "FizzBuzz"',
    bug_wrong='tests 3 before 15, so 15 gives "Fizz" and "FizzBuzz" never appears',
    checks=(
        Check('assert fizzbuzz(5) == ["1", "2", "Fizz", "4", "Buzz"]'),
        Check('assert fizzbuzz(1) == ["1"]'),
        Check("assert fizzbuzz(0) == []"),
        Check('assert fizzbuzz(15)[-1] == "FizzBuzz"', exposes_bug=True),
        Check('assert fizzbuzz(10)[9] == "Buzz"'),
        Check("assert len(fizzbuzz(100)) == 100"),
        Check('assert fizzbuzz(30).count("FizzBuzz") == 2', exposes_bug=True),
        Check(
            "try:\n    fizzbuzz(-1)\n    rejected = False\nexcept ValueError:\n"
            "    rejected = True\nassert rejected"
        ),
    ),
    edge_cases=(
        EdgeCase("n = 0 returns an empty list"),
        EdgeCase("a negative n raises ValueError instead of quietly returning []"),
        EdgeCase('multiples of 15 are checked first, so 15 gives "FizzBuzz"', bug_related=True),
        EdgeCase("numbers come back as strings, so the list has a single type"),
        EdgeCase("the function returns the list instead of printing, so it is testable"),
    ),
    unwritten=(
        'making the rules data-driven (e.g. 7 -> "Bazz") instead of adding elif branches',
        "a generator version for very large n",
    ),
)

BINARY_SEARCH = Topic(
    name="binary search",
    pattern=_re(r"binary[\s_-]*search|\bbisect"),
    function="binary_search",
    explanation=(
        "Keep a closed interval [lo, hi] that must contain the target if it is present, and "
        "halve it on every step: O(log n) comparisons on a sorted list."
    ),
    insight="The loop runs while lo <= hi, so the last remaining candidate is still compared.",
    code=(
        "def binary_search(items: list, target: object) -> int:\n"
        '    """Index of ``target`` in the sorted list ``items``, or -1 when it is absent."""\n'
        "    lo, hi = 0, len(items) - 1\n"
        "    while lo <= hi:\n"
        "        mid = (lo + hi) // 2\n"
        "        if items[mid] == target:\n"
        "            return mid\n"
        "        if items[mid] < target:\n"
        "            lo = mid + 1\n"
        "        else:\n"
        "            hi = mid - 1\n"
        "    return -1\n"
    ),
    bug=("    while lo <= hi:\n", "    while lo < hi:\n"),
    bug_point="When the search loop stops",
    bug_right="loops while lo <= hi, so the last remaining element is still compared",
    bug_wrong="loops while lo < hi, so a one-element list or the last position is never found",
    checks=(
        Check("assert binary_search([1, 3, 5, 7, 9], 5) == 2"),
        Check("assert binary_search([1, 3, 5, 7, 9], 4) == -1"),
        Check("assert binary_search([1, 3, 5, 7, 9], 1) == 0"),
        Check("assert binary_search([], 3) == -1"),
        Check("assert binary_search([1, 3, 5, 7, 9], 9) == 4", exposes_bug=True),
        Check("assert binary_search([2], 2) == 0", exposes_bug=True),
        Check("assert binary_search([1, 3, 5, 7, 9], 10) == -1"),
        Check("assert binary_search(list(range(0, 1000, 2)), 998) == 499", exposes_bug=True),
    ),
    edge_cases=(
        EdgeCase("an empty list returns -1 without indexing into it"),
        EdgeCase(
            "the first and the last positions are found (the loop runs while lo <= hi)",
            bug_related=True,
        ),
        EdgeCase("a missing target returns -1 rather than raising"),
        EdgeCase("(lo + hi) // 2 cannot overflow in Python, unlike fixed-width integers"),
        EdgeCase("with duplicates any matching index may come back; bisect_left gives the first"),
    ),
    unwritten=(
        "a key parameter for searching records by one field",
        "checking, or at least documenting, that the input must already be sorted",
    ),
)

MERGE_SORTED = Topic(
    name="merging two sorted lists",
    pattern=_re(r"merge_sorted|\bmerg\w*\b.*\bsorted\b|\bsorted\b.*\bmerg"),
    function="merge_sorted",
    explanation=(
        "Walk both lists with one index each and always take the smaller head; whatever is "
        "left of the longer list is appended at the end. That is O(len(a) + len(b)) and never "
        "re-sorts."
    ),
    insight="On a tie it takes the item from a first, which keeps the merge stable.",
    code=(
        "def merge_sorted(a: list, b: list, key=None) -> list:\n"
        '    """Merge two sorted lists into a new sorted list; stable (ties keep a first)."""\n'
        "    key = key or (lambda item: item)\n"
        "    out, i, j = [], 0, 0\n"
        "    while i < len(a) and j < len(b):\n"
        "        if key(b[j]) < key(a[i]):\n"
        "            out.append(b[j])\n"
        "            j += 1\n"
        "        else:\n"
        "            out.append(a[i])\n"
        "            i += 1\n"
        "    out.extend(a[i:])\n"
        "    out.extend(b[j:])\n"
        "    return out\n"
    ),
    bug=("        if key(b[j]) < key(a[i]):\n", "        if key(b[j]) <= key(a[i]):\n"),
    bug_point="Which list wins a tie",
    bug_right="takes from a on ties (b < a), so the merge is stable",
    bug_wrong="takes from b on ties (b <= a), so equal items swap order and the merge is unstable",
    checks=(
        Check("assert merge_sorted([1, 4, 9], [2, 3, 10]) == [1, 2, 3, 4, 9, 10]"),
        Check("assert merge_sorted([], [1, 2]) == [1, 2]"),
        Check("assert merge_sorted([0, 2, 4], [1, 3, 5]) == [0, 1, 2, 3, 4, 5]"),
        Check("assert merge_sorted([1, 1, 2], [1, 3]) == [1, 1, 1, 2, 3]"),
        Check(
            'assert merge_sorted([(1, "a")], [(1, "b")], key=lambda p: p[0]) == [(1, "a"), (1, "b")]',
            exposes_bug=True,
        ),
        Check("assert merge_sorted([], []) == []"),
        Check('assert merge_sorted(["b", "d"], ["a", "c", "e"]) == ["a", "b", "c", "d", "e"]'),
        Check(
            'assert merge_sorted([("x", 2)], [("y", 1), ("z", 2)], key=lambda p: p[1]) == '
            '[("y", 1), ("x", 2), ("z", 2)]',
            exposes_bug=True,
        ),
    ),
    edge_cases=(
        EdgeCase("an empty list on either side returns a copy of the other"),
        EdgeCase("ties keep the item from a first, so the merge is stable", bug_related=True),
        EdgeCase("the leftovers of the longer list are appended in one step"),
        EdgeCase("it runs in O(len(a) + len(b)) instead of re-sorting the concatenation"),
        EdgeCase("a key function merges records by one field"),
        EdgeCase("the inputs are not modified; a new list is returned"),
    ),
    unwritten=(
        "merging k lists at once (heapq.merge) instead of two",
        "checking, or documenting, that both inputs must already be sorted",
    ),
)

LRU_CACHE = Topic(
    name="an LRU cache",
    pattern=_re(r"\blru\b|least[\s-]+recently[\s-]+used"),
    function="LRUCache",
    explanation=(
        "An OrderedDict keeps the keys in order of use; evict from the front when the cache "
        "is over capacity. Every operation is O(1)."
    ),
    insight="A read is a use too, so get() moves the key to the end just like put() does.",
    code=(
        "from collections import OrderedDict\n"
        "\n"
        "\n"
        "class LRUCache:\n"
        '    """A fixed-capacity mapping that evicts the least recently used key."""\n'
        "\n"
        "    def __init__(self, capacity: int) -> None:\n"
        "        if capacity <= 0:\n"
        '            raise ValueError("capacity must be positive")\n'
        "        self.capacity = capacity\n"
        "        self._items: OrderedDict = OrderedDict()\n"
        "\n"
        "    def get(self, key, default=None):\n"
        "        if key not in self._items:\n"
        "            return default\n"
        "        self._items.move_to_end(key)\n"
        "        return self._items[key]\n"
        "\n"
        "    def put(self, key, value) -> None:\n"
        "        if key in self._items:\n"
        "            self._items.move_to_end(key)\n"
        "        self._items[key] = value\n"
        "        if len(self._items) > self.capacity:\n"
        "            self._items.popitem(last=False)\n"
        "\n"
        "    def __len__(self) -> int:\n"
        "        return len(self._items)\n"
    ),
    bug=(
        "            return default\n"
        "        self._items.move_to_end(key)\n"
        "        return self._items[key]\n",
        "            return default\n        return self._items[key]\n",
    ),
    bug_point="Whether reading a key counts as using it",
    bug_right="refreshes a key on get(), so a recently read key survives eviction",
    bug_wrong="never refreshes a key on get(), so the cache evicts in insertion order (FIFO)",
    checks=(
        Check(
            'cache = LRUCache(2)\ncache.put("a", 1)\ncache.put("b", 2)\n'
            'assert cache.get("a") == 1 and cache.get("b") == 2'
        ),
        Check('assert LRUCache(1).get("missing", "default") == "default"'),
        Check(
            "cache = LRUCache(2)\n"
            'for key, value in [("a", 1), ("b", 2), ("c", 3)]:\n'
            "    cache.put(key, value)\n"
            'assert cache.get("a") is None and cache.get("c") == 3'
        ),
        Check(
            'cache = LRUCache(2)\ncache.put("a", 1)\ncache.put("b", 2)\n'
            'cache.get("a")  # reading "a" makes "b" the least recently used\n'
            'cache.put("c", 3)\n'
            'assert cache.get("a") == 1 and cache.get("b") is None',
            exposes_bug=True,
        ),
        Check(
            'cache = LRUCache(2)\ncache.put("a", 1)\ncache.put("a", 10)\n'
            'assert cache.get("a") == 10 and len(cache) == 1'
        ),
        Check(
            "try:\n    LRUCache(0)\n    rejected = False\nexcept ValueError:\n"
            "    rejected = True\nassert rejected"
        ),
        Check(
            "cache = LRUCache(3)\nfor i in range(10):\n    cache.put(i, i * i)\n"
            "assert len(cache) == 3 and cache.get(9) == 81 and cache.get(6) is None"
        ),
    ),
    edge_cases=(
        EdgeCase("a capacity of zero or less is rejected with ValueError"),
        EdgeCase("reading a key refreshes it, so get() counts as use", bug_related=True),
        EdgeCase("updating an existing key refreshes it without growing the cache"),
        EdgeCase("a missing key returns a default instead of raising KeyError"),
        EdgeCase("OrderedDict gives O(1) get, put and eviction"),
    ),
    unwritten=(
        "thread safety: concurrent callers need a lock around get and put",
        "functools.lru_cache already covers memoising a pure function",
    ),
)

SQL_INJECTION = Topic(
    name="fixing an SQL injection",
    pattern=_re(
        r"sql[\s_-]*injection|\bsqli\b|parameteri[sz]ed\s+quer"
        r"|\binjection\b.*\b(?:sql|query|queries|database)\b"
        r"|\b(?:sql|query|database)\b.*\binjection\b"
    ),
    function="find_users",
    explanation=(
        "The injection comes from pasting the user's text into the SQL, as in "
        "f\"... WHERE name = '{name}'\". Bind the value as a parameter instead, so the "
        "driver sends it as data."
    ),
    insight=(
        "A column name cannot be a parameter, so the ORDER BY column is checked against a "
        "whitelist."
    ),
    code=(
        "import sqlite3\n"
        "\n"
        'SORTABLE = {"name", "created_at"}\n'
        "\n"
        "\n"
        'def find_users(conn: sqlite3.Connection, name: str, order_by: str = "name") -> list:\n'
        '    """Users with exactly this name; the name is bound, never pasted into the SQL."""\n'
        "    if order_by not in SORTABLE:\n"
        '        raise ValueError(f"cannot order by {order_by!r}")\n'
        '    sql = f"SELECT id, name FROM users WHERE name = ? ORDER BY {order_by}"\n'
        "    return conn.execute(sql, (name,)).fetchall()\n"
    ),
    bug=(
        "    if order_by not in SORTABLE:\n"
        '        raise ValueError(f"cannot order by {order_by!r}")\n',
        '    order_by = order_by.replace(";", "")  # strip statement separators\n',
    ),
    bug_point="How the ORDER BY column is made safe",
    bug_right="checks the column against a whitelist and rejects anything else",
    bug_wrong="only strips semicolons from the column, so a crafted sort expression still runs",
    setup=(
        'conn = sqlite3.connect(":memory:")\n'
        'conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, created_at TEXT)")\n'
        "conn.executemany(\n"
        '    "INSERT INTO users (name, created_at) VALUES (?, ?)",\n'
        '    [("alice", "2024-01-02"), ("bob", "2024-01-01"), ("alice", "2023-12-31")],\n'
        ")"
    ),
    checks=(
        Check('assert [n for _, n in find_users(conn, "alice")] == ["alice", "alice"]'),
        Check('assert find_users(conn, "nobody") == []'),
        Check(
            "assert find_users(conn, \"' OR '1'='1\") == []  # the classic payload matches nothing"
        ),
        Check('assert len(find_users(conn, "alice", order_by="created_at")) == 2'),
        Check(
            "try:\n"
            '    find_users(conn, "alice", order_by="(SELECT name FROM sqlite_master)")\n'
            "    rejected = False\n"
            "except ValueError:\n"
            "    rejected = True\n"
            "assert rejected",
            exposes_bug=True,
        ),
        Check(
            'assert find_users(conn, "x\'; DROP TABLE users; --") == []\n'
            'assert conn.execute("SELECT COUNT(*) FROM users").fetchone() == (3,)'
        ),
        Check('assert find_users(conn, "Alice") == []  # exact, case-sensitive match'),
    ),
    edge_cases=(
        EdgeCase("quotes in a name (O'Brien) just work, because the value is bound"),
        EdgeCase(
            "the ORDER BY column comes from a whitelist, since identifiers cannot be bound",
            bug_related=True,
        ),
        EdgeCase("an unknown sort column is an error, not silently ignored", bug_related=True),
        EdgeCase("a LIKE search would also need % and _ escaped in the bound pattern"),
    ),
    unwritten=(
        "auditing the rest of the code base for other string-built queries",
        "running the database user with only the privileges these queries need",
    ),
)

PALINDROME = Topic(
    name="checking for a palindrome",
    pattern=_re(r"palindrom"),
    function="is_palindrome",
    explanation=("Keep only the letters and digits and compare the result with its reverse."),
    insight="Fold the case first (casefold), or 'Racecar' would not count.",
    code=(
        "def is_palindrome(text: str) -> bool:\n"
        '    """True when text reads the same backwards, ignoring case, spaces and punctuation."""\n'
        "    cleaned = [c.casefold() for c in text if c.isalnum()]\n"
        "    return cleaned == cleaned[::-1]\n"
    ),
    bug=("[c.casefold() for c in text", "[c for c in text"),
    bug_point="Whether case is ignored",
    bug_right="folds case, so 'Racecar' is a palindrome",
    bug_wrong="compares characters as written, so 'Racecar' is rejected",
    checks=(
        Check('assert is_palindrome("level")'),
        Check('assert not is_palindrome("python")'),
        Check('assert is_palindrome("")'),
        Check('assert is_palindrome("Racecar")', exposes_bug=True),
        Check('assert is_palindrome("a")'),
        Check('assert is_palindrome("No lemon, no melon")', exposes_bug=True),
        Check('assert not is_palindrome("ab")'),
        Check('assert is_palindrome("12321")'),
    ),
    edge_cases=(
        EdgeCase("an empty string counts as a palindrome"),
        EdgeCase("case is ignored (casefold, which also handles letters like ß)", bug_related=True),
        EdgeCase("spaces and punctuation are skipped"),
        EdgeCase("digits count as characters"),
    ),
    unwritten=(
        "Unicode normalisation, so composed and decomposed accents compare equal",
        "a two-pointer version that needs no copy of a very long string",
    ),
)

DEDUPE = Topic(
    name="removing duplicates",
    pattern=_re(r"\bdedup\w*|\bduplicat\w*"),
    function="dedupe",
    explanation=("Drop the duplicates in one O(n) pass instead of comparing every pair."),
    insight=(
        "A dict keeps insertion order, so dict.fromkeys keeps the first occurrence of each "
        "item where it was; a set would lose the order."
    ),
    code=(
        "def dedupe(items: list) -> list:\n"
        '    """Drop repeated items, keeping the first occurrence of each, in order."""\n'
        "    return list(dict.fromkeys(items))\n"
    ),
    bug=("list(dict.fromkeys(items))", "list(set(items))"),
    bug_point="Whether the original order is kept",
    bug_right="uses dict.fromkeys, which keeps the first occurrence in order",
    bug_wrong="uses set(), which loses the order of the items",
    checks=(
        Check("assert dedupe([1, 2, 2, 3]) == [1, 2, 3]"),
        Check("assert dedupe([]) == []"),
        Check('assert dedupe(["a", "a"]) == ["a"]'),
        Check("assert dedupe([3, 1, 3, 2, 1]) == [3, 1, 2]", exposes_bug=True),
        Check("assert dedupe([1, 1, 1, 1]) == [1]"),
        Check("assert dedupe([5, 4, 5, 3]) == [5, 4, 3]", exposes_bug=True),
        Check("assert dedupe([(1, 2), (1, 2)]) == [(1, 2)]"),
    ),
    edge_cases=(
        EdgeCase("the first occurrence wins and the order is kept", bug_related=True),
        EdgeCase("an empty list returns an empty list"),
        EdgeCase("items must be hashable; for lists of lists, dedupe on a tuple of each"),
        EdgeCase("it runs in O(n), unlike comparing every pair"),
    ),
    unwritten=(
        "deduplicating by a key, e.g. strings compared case-insensitively",
        "streaming a very large input instead of building one list",
    ),
)

# More specific topics first: "fix the SQL injection in this search" is not a binary search.
TOPICS: tuple[Topic, ...] = (
    SQL_INJECTION,
    FIZZBUZZ,
    LRU_CACHE,
    BINARY_SEARCH,
    MERGE_SORTED,
    PALINDROME,
    DEDUPE,
)

# What the generic (unrecognised question) answers can raise; strong models raise more.
GENERIC_CODING = (
    "empty or missing input",
    "invalid input rejected early with a clear error",
    "very large inputs (time and memory)",
    "concurrent callers, if the code is shared between threads",
    "non-ASCII text and other encodings",
    "a test for each of the above before the code is trusted",
)
GENERIC_GENERAL = (
    "which trade-off matters most in your setting",
    "the constraint that cannot move, and let it decide the rest",
    "the failure mode you are guarding against",
    "the simplest design that meets the requirement",
    "measuring before and after instead of trusting intuition",
    "the exceptions, which are usually about scale or consistency",
)
GENERIC_UNWRITTEN = "an actual answer to the question: every answer here was simulated"

_OTHER_LANGUAGE = re.compile(
    r"\b(?:in|using|with|for)\s+(golang|go|rust|java|javascript|typescript|c\+\+|c#|ruby|"
    r"kotlin|swift|php|haskell|scala)(?![\w+#])",
    re.IGNORECASE,
)


def topic_for(question: str) -> Topic | None:
    """The topic a question is about, by keywords (case-insensitive), or None."""
    return next((t for t in TOPICS if t.pattern.search(question)), None)


def topic_with_bug(text: str) -> Topic | None:
    """The topic whose known bug ``text`` carries, if any."""
    return next((t for t in TOPICS if t.has_bug(text)), None)


def other_language(question: str) -> str | None:
    """A programming language other than Python the question asks for, as written."""
    match = _OTHER_LANGUAGE.search(question)
    return match.group(1) if match else None


def render_tests(topic: Topic, checks: list[Check]) -> str:
    """The tests part of an answer's code: fixture, then the chosen asserts."""
    lines = ["# Tests: run this file with python; every assert must hold."]
    if topic.setup:
        lines.append(topic.setup)
    for check in checks:
        # A check with setup lines reads better as its own paragraph.
        if "\n" in check.text and lines[-1]:
            lines.append("")
        lines.append(check.text)
        if "\n" in check.text:
            lines.append("")
    return "\n".join(lines).rstrip("\n")
