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
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable
from typing import Any

MIN_PIECE = 8
MASK = "***"

_KEY_SHAPED = re.compile(r"sk-or-[A-Za-z0-9_\-]{4,}|\bsk-[A-Za-z0-9_\-]{20,}")
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9_\-.~+/=]+")

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
    # Shapes first: a whole foreign ``sk-or-v1-...`` key goes at once, before a known key's
    # public ``sk-or-v1`` head could be masked alone and leave the foreign tail unmatched.
    text = _BEARER.sub(f"Bearer {MASK}", _KEY_SHAPED.sub(MASK, text))
    covered = bytearray(len(text))  # 1 where a character belongs to a secret's piece
    hit = False
    for secret in _all_secrets(secrets, registered):
        if len(secret) < MIN_PIECE:
            start = text.find(secret)
            while start >= 0:
                covered[start : start + len(secret)] = b"\x01" * len(secret)
                hit = True
                start = text.find(secret, start + 1)
            continue
        windows = _windows(secret)
        # Every run of 8+ key characters is a union of 8-character windows of the key, so
        # marking each matching window covers every such run, however it overlaps others.
        for i in range(len(text) - MIN_PIECE + 1):
            if text[i : i + MIN_PIECE] in windows:
                covered[i : i + MIN_PIECE] = b"\x01" * MIN_PIECE
                hit = True
    return _mask(text, covered) if hit else text


def redact_deep(value: Any, *secrets: str | None, registered: bool = True) -> Any:
    """``redact`` through JSON-like data: strings, dict keys and values, lists and tuples.

    Tuples come back as lists (the data is headed for JSON); other values pass unchanged.
    """
    if isinstance(value, str):
        return redact(value, *secrets, registered=registered)
    if isinstance(value, dict):
        return {
            redact(str(k), *secrets, registered=registered): redact_deep(
                v, *secrets, registered=registered
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_deep(v, *secrets, registered=registered) for v in value]
    return value


def _all_secrets(given: Iterable[str | None], registered: bool) -> list[str]:
    extra = [s.strip() for s in given if s and s.strip()]
    return list(dict.fromkeys([*(_registered if registered else ()), *extra]))


@functools.lru_cache(maxsize=32)
def _windows(secret: str) -> frozenset[str]:
    return frozenset(secret[i : i + MIN_PIECE] for i in range(len(secret) - MIN_PIECE + 1))


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
