"""The one place that knows how to hide an API key in text we keep, show or log.

What is masked (each with ``***``):

- every run of ``MIN_PIECE`` (8) or more characters that is a substring of a known secret:
  the whole key, any prefix a server cut it to, any suffix or middle piece it showed (e.g. a
  masked ``sk-or-v1-0a1b...e9f0``). Substrings rather than prefixes only because a server may
  show any part; an 8-character window of a random 64-hex key does not occur in ordinary
  text, and the one non-random window (the public ``sk-or-v1`` head) costs nothing to hide;
- a known secret shorter than 8 characters, whole;
- key-shaped strings even when the key is unknown here (``sk-or-...``, other ``sk-...``
  provider keys a BYOK error may echo) and ``Bearer <token>``.

Secrets are known per call (``redact(text, key)``) or process-wide once registered with
:func:`register_secret` (the gateway registers its key when built, so library log records
are masked before any handler sees them).

This runs on every call's model id, provider and router metadata, so the common case (a
text with nothing to mask) is made cheap without weakening the rule (ADR-016): the search
for a secret's pieces looks for the secret's 4-character blocks at offsets 0, 4, 8, ...
with ``str.find`` and checks only the 8-character windows around a block it finds (every
8-character window of a secret contains one whole such block), and ``redact_deep`` checks
all strings of a structure in one joined text before masking any one of them.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from typing import Any

MIN_PIECE = 8
MASK = "***"

_KEY_SHAPED = re.compile(r"sk-or-[A-Za-z0-9_\-]{4,}|\bsk-[A-Za-z0-9_\-]{20,}")
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9_\-.~+/=]+")
# Either of the two above: one scan tells whether the two substitutions have work to do.
_ANY_SHAPE = re.compile(rf"{_KEY_SHAPED.pattern}|(?i:{_BEARER.pattern[4:]})")
# The shortest text either shape can match ("bearer x").
_MIN_SHAPE = 8
_BLOCK = 4  # MIN_PIECE // 2: every window of MIN_PIECE holds one whole aligned block
# Joins the strings of a structure for one check; no secret containing it takes that path.
_SEPARATOR = "\x00"

_lock = threading.Lock()
_registered: tuple[str, ...] = ()


def register_secret(secret: str | None) -> None:
    """Mask ``secret`` (and its 8+ character pieces) in everything this process logs."""
    global _registered
    secret = (secret or "").strip()
    if not secret:
        return
    with _lock:
        if secret not in _registered:
            _registered = (*_registered, secret)


def redact(text: str, *secrets: str | None, registered: bool = True) -> str:
    """``text`` with key shapes and the given (and registered) secrets and pieces masked.

    ``registered=False`` leaves the process-wide secrets out: an adapter masking its own
    server's words needs only its own key.
    """
    if not text:
        return text
    return _redact(text, _plan((_registered if registered else ()) + secrets))


def redact_deep(value: Any, *secrets: str | None, registered: bool = True) -> Any:
    """``redact`` through JSON-like data: strings, dict keys and values, lists and tuples.

    Tuples come back as lists (the data is headed for JSON); other values pass unchanged.
    """
    plan = _plan((_registered if registered else ()) + secrets)
    if isinstance(value, str):
        return _redact(value, plan) if value else value
    strings: list[str] = []
    copy = _copy(value, strings)
    if not strings:
        return copy
    # One look at every string at once; the separator cannot be part of a match (no shape
    # matches it, no secret on this path contains it), so a match lies inside one string.
    if plan.joinable and _covered(_SEPARATOR.join(strings), plan) is None:
        return copy
    return _deep(value, plan)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What to look for, for one set of secrets (built once per set, then cached)."""

    short: tuple[str, ...]  # secrets under MIN_PIECE characters: masked whole
    # 4-character block -> (its offset in the secret, the secret's length, its windows)
    blocks: tuple[tuple[str, tuple[tuple[int, int, frozenset[str]], ...]], ...]
    joinable: bool  # no secret contains the separator


@functools.lru_cache(maxsize=64)
def _plan(secrets: tuple[str | None, ...]) -> _Plan:
    unique = list(dict.fromkeys(s.strip() for s in secrets if s and s.strip()))
    blocks: dict[str, list[tuple[int, int, frozenset[str]]]] = {}
    for secret in unique:
        if len(secret) < MIN_PIECE:
            continue
        windows = frozenset(secret[i : i + MIN_PIECE] for i in range(len(secret) - MIN_PIECE + 1))
        for k in range(0, len(secret) - _BLOCK + 1, _BLOCK):
            blocks.setdefault(secret[k : k + _BLOCK], []).append((k, len(secret), windows))
    return _Plan(
        short=tuple(s for s in unique if len(s) < MIN_PIECE),
        blocks=tuple((block, tuple(entries)) for block, entries in blocks.items()),
        joinable=not any(_SEPARATOR in s for s in unique),
    )


def _redact(text: str, plan: _Plan) -> str:
    # Shapes first: a whole foreign ``sk-or-v1-...`` key goes at once, before a known key's
    # public ``sk-or-v1`` head could be masked alone and leave the foreign tail unmatched.
    if len(text) >= _MIN_SHAPE and _maybe_shaped(text) and _ANY_SHAPE.search(text):
        text = _BEARER.sub(f"Bearer {MASK}", _KEY_SHAPED.sub(MASK, text))
    covered = _covered(text, plan, shapes=False)
    return _mask(text, covered) if covered is not None else text


def _covered(text: str, plan: _Plan, *, shapes: bool = True) -> bytearray | None:
    """1 for each character of ``text`` inside a secret's piece (None: nothing to mask).

    With ``shapes``, a key shape or bearer token anywhere also counts as something to mask
    (the returned marks then need not cover it: callers only test for None).
    """
    covered: bytearray | None = None
    if shapes and len(text) >= _MIN_SHAPE and _maybe_shaped(text) and _ANY_SHAPE.search(text):
        covered = bytearray(len(text))
    for secret in plan.short:
        start = text.find(secret)
        while start >= 0:
            if covered is None:
                covered = bytearray(len(text))
            covered[start : start + len(secret)] = b"\x01" * len(secret)
            start = text.find(secret, start + 1)
    if len(text) < MIN_PIECE:
        return covered
    for block, entries in plan.blocks:
        at = text.find(block)
        while at >= 0:
            # A window of the secret starting at i (k-3 <= i <= k) holds this block at
            # offset k - i; check each such window of the text around the block found.
            for k, length, windows in entries:
                for i in range(max(0, k - _BLOCK + 1), min(k, length - MIN_PIECE) + 1):
                    start = at - (k - i)
                    if start >= 0 and text[start : start + MIN_PIECE] in windows:
                        if covered is None:
                            covered = bytearray(len(text))
                        covered[start : start + MIN_PIECE] = b"\x01" * MIN_PIECE
            at = text.find(block, at + 1)
    return covered


def _maybe_shaped(text: str) -> bool:
    """Whether ``text`` holds what every key shape starts with (``sk-``, or ``bearer`` in any
    case): two substring searches, far cheaper than the shape regexes on ordinary text."""
    return "sk-" in text or "bearer" in text.lower()


def _copy(value: Any, strings: list[str]) -> Any:
    """``value`` as ``redact_deep`` shapes it (str keys, tuples as lists), its strings
    (keys included) collected into ``strings``."""
    if isinstance(value, str):
        strings.append(value)
        return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = k if isinstance(k, str) else str(k)
            strings.append(key)
            out[key] = _copy(v, strings)
        return out
    if isinstance(value, list | tuple):
        return [_copy(v, strings) for v in value]
    return value


def _deep(value: Any, plan: _Plan) -> Any:
    if isinstance(value, str):
        return _redact(value, plan) if value else value
    if isinstance(value, dict):
        return {_redact(str(k), plan): _deep(v, plan) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_deep(v, plan) for v in value]
    return value


def _mask(text: str, covered: bytearray) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        if covered[i]:
            while i < len(text) and covered[i]:
                i += 1
            out.append(MASK)
        else:
            j = i
            while j < len(text) and not covered[j]:
                j += 1
            out.append(text[i:j])
            i = j
    return "".join(out)
