"""The gateway's own plumbing over aiohttp (ADR-013): SSE line splitting and env proxies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from llm_council.gateway.openrouter import _env_proxy, _sse_lines


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _lines(*parts: bytes) -> list[str]:
    return [line async for line in _sse_lines(_chunks(*parts))]


async def test_sse_lines_end_at_crlf_lf_or_cr_even_split_across_chunks() -> None:
    # A CRLF cut between two chunks is one line end, not an extra blank line.
    assert await _lines(b"data: a\r", b"\ndata: b\rdata: c\n\n") == [
        "data: a",
        "data: b",
        "data: c",
        "",
    ]
    # A lone CR at a chunk's end followed by text is still a line end.
    assert await _lines(b"data: a\r", b"data: b") == ["data: a", "data: b"]


async def test_sse_lines_keep_u2028_and_multibyte_characters_split_across_chunks() -> None:
    # U+2028 may sit raw inside JSON (ensure_ascii=False); it must not end the line.
    data = json.dumps({"content": "a\u2028b é"}, ensure_ascii=False).encode()
    raw = b"data: " + data + b"\n"
    cut = raw.index("é".encode()) + 1  # inside the two-byte é
    lines = await _lines(raw[:cut], raw[cut:])
    assert lines == ["data: " + data.decode()]
    assert json.loads(lines[0][6:])["content"] == "a\u2028b é"


def test_env_proxy_is_read_for_the_scheme_and_no_proxy_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    assert _env_proxy("https://openrouter.ai/api/v1") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    assert _env_proxy("https://openrouter.ai/api/v1") == "http://proxy.example:3128"
    assert _env_proxy("http://127.0.0.1:8000/api/v1") is None
