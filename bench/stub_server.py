"""A minimal OpenRouter-compatible server for the benchmarks: pre-encoded answers, no work.

The sandbox (``llm-council sandbox serve``) is a Python ASGI app that writes plausible
answers, plays the Pareto router and checks each body; under uvicorn it serves ~1,300
calls/s on this machine, so a bench against it measures the sandbox as much as the
clients. This stub costs a few microseconds per call, so the client is the bottleneck:

* plain ``asyncio.Protocol`` HTTP/1.1 with keep-alive; a request is read by its
  ``Content-Length`` and only its ``"model"`` is looked at (a regex over the first bytes);
* ``POST .../chat/completions`` answers with bytes encoded once per model at start-up:
  a ``chat.completion`` whose content is an answer with a fenced JSON ranking (so a
  council review parses) and a fenced JSON verdict (so the chairman's parses), ``usage``
  with ``cost``, and for ``openrouter/pareto-code`` a concrete model and an
  ``openrouter_metadata`` object (docs: Router Metadata) whatever the request headers
  say, so a raw client and the council receive the same bytes;
* ``GET .../models`` answers ``{"data": []}`` (the readiness probe);
* every answer is sent ``--latency-ms`` after the request arrived (``call_later``: no
  task per request); streaming is not supported (400).

    python bench/stub_server.py --port 8123 [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re

PARETO = "openrouter/pareto-code"
PARETO_RESOLVES_TO = "openai/gpt-5.4-mini"
_MODEL = re.compile(rb'"model"\s*:\s*"([^"\\]{1,200})"')
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)

ANSWER = (
    "Here is a merge of two sorted lists in linear time, with tests.\n\n"
    "```python\n"
    "def merge(a: list[int], b: list[int]) -> list[int]:\n"
    "    out, i, j = [], 0, 0\n"
    "    while i < len(a) and j < len(b):\n"
    "        if a[i] <= b[j]:\n"
    "            out.append(a[i]); i += 1\n"
    "        else:\n"
    "            out.append(b[j]); j += 1\n"
    "    return out + a[i:] + b[j:]\n\n\n"
    "def test_merge() -> None:\n"
    "    assert merge([1, 3], [2]) == [1, 2, 3]\n"
    "    assert merge([], []) == []\n"
    "```\n\n"
    "Ranking of the answers I was shown:\n"
    '```json\n{"ranking": ["Response A", "Response B", "Response C", "Response D"]}\n```\n\n'
    "```json\n"
    '{"verdict": {"consensus": ["a two-pointer merge is linear"], "disagreements": [], '
    '"blind_spots": ["stability with equal keys"], "confidence": "high", '
    '"built_on": ["Response A"]}}\n'
    "```"
)


def _completion(model: str) -> bytes:
    """The whole HTTP response (status line, headers, body) answering ``model``."""
    resolved = PARETO_RESOLVES_TO if model.startswith(PARETO) else model
    payload: dict[str, object] = {
        "id": f"gen-stub-{abs(hash(model)) % 10**8}",
        "object": "chat.completion",
        "created": 1_764_000_000,
        "model": resolved,
        "provider": resolved.partition("/")[0].title(),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": ANSWER},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 400,
            "completion_tokens": 180,
            "total_tokens": 580,
            "cost": 0.00042,
        },
    }
    if model.startswith(PARETO):
        payload["openrouter_metadata"] = {
            "requested": PARETO,
            "strategy": "pareto",
            "endpoints": {
                "available": [
                    {"model": PARETO_RESOLVES_TO, "provider": "OpenAI", "selected": True},
                    {"model": "qwen/qwen3-coder", "provider": "Alibaba", "selected": False},
                ],
                "total": 2,
            },
            "attempts": [{"model": PARETO_RESOLVES_TO, "provider": "OpenAI", "status": 200}],
            "attempt": 1,
            "summary": "available=2, selected=OpenAI",
            "generation_time": 0,
            "is_byok": False,
            "region": None,
        }
    return _http(200, json.dumps(payload).encode())


def _http(status: int, body: bytes) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


_MODELS = _http(200, b'{"data": []}')
_NOT_FOUND = _http(404, b'{"error": {"code": 404, "message": "not found"}}')
_NO_STREAM = _http(400, b'{"error": {"code": 400, "message": "the stub does not stream"}}')


class _Http(asyncio.Protocol):
    """One keep-alive connection: requests in order, each answered after the latency."""

    def __init__(self, latency_s: float, cache: dict[bytes, bytes]) -> None:
        self._latency_s = latency_s
        self._cache = cache
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._buffer[:end]
            length_match = _CONTENT_LENGTH.search(head)
            length = int(length_match.group(1)) if length_match else 0
            total = end + 4 + length
            if len(self._buffer) < total:
                return
            body = self._buffer[end + 4 : total]
            self._buffer = self._buffer[total:]
            self._send(self._answer(head, body))

    def _answer(self, head: bytes, body: bytes) -> bytes:
        line = head[: head.find(b"\r\n")]
        if line.startswith(b"GET ") and b"/models" in line:
            return _MODELS
        if not (line.startswith(b"POST ") and b"/chat/completions" in line):
            return _NOT_FOUND
        if b'"stream":true' in body or b'"stream": true' in body:
            return _NO_STREAM
        found = _MODEL.search(body, 0, 400)
        model = found.group(1) if found else b"unknown/model"
        answer = self._cache.get(model)
        if answer is None:
            answer = self._cache[model] = _completion(model.decode())
        return answer

    def _send(self, response: bytes) -> None:
        transport = self._transport
        if transport is None:
            return
        if self._latency_s > 0:
            self._loop.call_later(self._latency_s, _write, transport, response)
        else:
            transport.write(response)


def _write(transport: asyncio.Transport, response: bytes) -> None:
    if not transport.is_closing():
        transport.write(response)


async def serve(host: str, port: int, latency_ms: float) -> None:
    """Serve until cancelled."""
    loop = asyncio.get_running_loop()
    cache: dict[bytes, bytes] = {}
    server = await loop.create_server(
        lambda: _Http(latency_ms / 1000, cache), host, port, backlog=4096
    )
    async with server:
        await server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.latency_ms))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
