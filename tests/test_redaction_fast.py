"""The fast redaction (ADR-016) masks exactly what the plain rule masks.

``reference_redact`` below is the rule written the obvious way (the implementation before
ADR-016): key shapes and bearer tokens first, then every 8-character window of every known
secret checked at every position of the text, short secrets found whole. The library's
``redact`` / ``redact_deep`` look for 4-character blocks first and check whole structures
in one joined text; on hostile inputs (texts built from the key's own characters, keys with
repeated blocks, separators and shapes next to pieces) both must give the same text.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from llm_council.redaction import MASK, MIN_PIECE, redact, redact_deep, register_secret

_KEY_SHAPED = re.compile(r"sk-or-[A-Za-z0-9_\-]{4,}|\bsk-[A-Za-z0-9_\-]{20,}")
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9_\-.~+/=]+")


def reference_redact(text: str, *keys: str) -> str:
    if not text:
        return text
    text = _BEARER.sub(f"Bearer {MASK}", _KEY_SHAPED.sub(MASK, text))
    covered = [False] * len(text)
    for key in dict.fromkeys(k.strip() for k in keys if k and k.strip()):
        if len(key) < MIN_PIECE:
            start = text.find(key)
            while start >= 0:
                covered[start : start + len(key)] = [True] * len(key)
                start = text.find(key, start + 1)
            continue
        windows = {key[i : i + MIN_PIECE] for i in range(len(key) - MIN_PIECE + 1)}
        for i in range(len(text) - MIN_PIECE + 1):
            if text[i : i + MIN_PIECE] in windows:
                covered[i : i + MIN_PIECE] = [True] * MIN_PIECE
    out, i = [], 0
    while i < len(text):
        j = i
        while j < len(text) and covered[j] == covered[i]:
            j += 1
        out.append(MASK if covered[i] else text[i:j])
        i = j
    return "".join(out)


def reference_deep(value: Any, *keys: str) -> Any:
    if isinstance(value, str):
        return reference_redact(value, *keys)
    if isinstance(value, dict):
        return {reference_redact(str(k), *keys): reference_deep(v, *keys) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [reference_deep(v, *keys) for v in value]
    return value


# Keys from a small alphabet repeat their 4-character blocks, the case where one block
# found in the text belongs to several places of the key.
small_keys = st.text(alphabet="ab12-", min_size=8, max_size=40)
hex_keys = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64).map(
    lambda h: "sk-or-v1-" + h
)
short_keys = st.text(alphabet="ab12", min_size=1, max_size=7)
keys = st.one_of(small_keys, hex_keys, short_keys)
# Shape pieces, some whole (a foreign BYOK key, a bearer token) so that a string may start
# or end with one: the joined check must see them exactly as each string alone would.
SHAPES = [
    "sk-",
    "sk-or-",
    "Bearer ",
    "bEaReR\t",
    "\x00",
    "sk-ant-api03-" + "A" * 24,
    "Bearer tok.en",
]


@st.composite
def hostile_text(draw: st.DrawFn, key: str) -> str:
    """Pieces of ``key`` (cut anywhere), its characters, shapes and separators, mixed."""
    parts = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 4))
        if kind == 0 and len(key) > 1:
            start = draw(st.integers(0, len(key) - 1))
            parts.append(key[start : draw(st.integers(start + 1, len(key)))])
        elif kind == 1:
            parts.append(draw(st.text(alphabet=key + " \n\x00", max_size=20)))
        elif kind == 2:
            parts.append(draw(st.sampled_from(SHAPES)))
        else:
            parts.append(draw(st.text(max_size=12)))
    return "".join(parts)


@st.composite
def key_and_text(draw: st.DrawFn) -> tuple[str, str]:
    key = draw(keys)
    return key, draw(hostile_text(key))


@settings(max_examples=600, deadline=None)
@given(key_and_text())
def test_redact_masks_exactly_what_the_plain_rule_masks(case):
    key, text = case
    assert redact(text, key, registered=False) == reference_redact(text, key)


@settings(max_examples=300, deadline=None)
@given(keys, keys, st.data())
def test_two_secrets_at_once(first, second, data):
    text = data.draw(hostile_text(first + second))
    assert redact(text, first, second, registered=False) == reference_redact(text, first, second)


json_like = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=12), st.integers()), inner, max_size=4),
    ),
    max_leaves=12,
)


@st.composite
def key_and_structure(draw: st.DrawFn) -> tuple[str, Any]:
    key = draw(keys)
    leaf = st.one_of(hostile_text(key), json_like)
    structure = draw(
        st.recursive(
            leaf,
            lambda inner: st.one_of(
                st.lists(inner, max_size=4),
                st.dictionaries(st.one_of(hostile_text(key), st.integers()), inner, max_size=3),
            ),
            max_leaves=10,
        )
    )
    return key, structure


@settings(max_examples=400, deadline=None)
@given(key_and_structure())
def test_redact_deep_masks_exactly_what_the_plain_rule_masks(case):
    key, structure = case
    assert redact_deep(structure, key, registered=False) == reference_deep(structure, key)


def test_a_clean_structure_comes_back_as_a_copy_in_json_shape():
    key = "sk-or-v1-" + secrets.token_hex(32)
    data = {"a": ("x", 1), 2: [{"b": None}]}
    out = redact_deep(data, key, registered=False)
    assert out == {"a": ["x", 1], "2": [{"b": None}]}
    out["a"].append("y")
    assert data["a"] == ("x", 1)  # a copy: the caller's data is never shared or changed


def test_a_secret_registered_later_is_masked_by_the_next_call():
    key = "reg-" + secrets.token_hex(16)
    text = f"echo {key[5:20]}"
    assert redact(text) == text  # not known yet
    register_secret(key)
    assert key[5:20] not in redact(text) and MASK in redact(text)
    assert redact_deep({"k": [text]}) == {"k": [redact(text)]}
