"""``llm-council serve``: the OpenAI-compatible endpoint, driven by the official ``openai``
client over a real socket on 127.0.0.1, with the council on the sandbox.

The wire shapes follow OpenAI's chat-completions API (chat.completion, chat.completion.chunk,
SSE ending with ``data: [DONE]``, ``{"error": {...}}`` bodies), which the client parses.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from llm_council.audition.logger import AuditionLogger
from llm_council.audition.store import AuditionStore
from llm_council.choices import TIERS
from llm_council.cli.serve import is_loopback
from llm_council.http_messages import RequestError, messages_to_prompt
from llm_council.http_server import create_http_app
from llm_council.registry import load_registry
from llm_council.sandbox import SandboxOptions, create_app
from llm_council.service import CouncilService
from tests.conftest import free_port, serve_asgi
from tests.council_helpers import make_config, sandbox_council

POOL = ["anthropic/claude-sonnet-4.6", "openai/gpt-5.4", "openrouter/pareto-code"]


class SlowStream:
    """Wraps the sandbox: each SSE body piece is held back ``gap_s``, so a streamed response
    drips; records when each streamed response finished sending (monotonic clock)."""

    def __init__(self, app: Any, gap_s: float) -> None:
        self.app = app
        self.gap_s = gap_s
        self.stream_ends: list[float] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        streaming = False

        async def slow_send(message: dict[str, Any]) -> None:
            nonlocal streaming
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", ()))
                streaming = headers.get(b"content-type", b"").startswith(b"text/event-stream")
            elif streaming and b"data:" in message.get("body", b""):
                await asyncio.sleep(self.gap_s)
            await send(message)
            if (
                streaming
                and message["type"] == "http.response.body"
                and not message.get("more_body")
            ):
                self.stream_ends.append(time.monotonic())

        await self.app(scope, receive, slow_send)


@contextmanager
def council_server(
    tmp_path: Path, *, token: str | None = None, latency_ms: float = 0, gap_s: float = 0
) -> Iterator[tuple[str, AuditionStore, SlowStream]]:
    """The sandbox on a socket (optionally slow), a council with a store on it, and the HTTP
    endpoint on another socket; yields (endpoint base URL, store, sandbox wrapper)."""
    registry = load_registry()
    sandbox = SlowStream(
        create_app(registry, SandboxOptions(latency_ms=latency_ms, scale_latency=False)), gap_s
    )
    store = AuditionStore(f"sqlite:///{tmp_path / 'audition.db'}")
    with serve_asgi(sandbox) as sandbox_url:
        council, _ = sandbox_council(
            make_config(dict.fromkeys(TIERS, POOL)),
            registry=registry,
            base_url=f"{sandbox_url}/api/v1",
        )
        council.audition = AuditionLogger(store, registry, spill_to=[tmp_path / "unsent"])
        service = CouncilService(council)
        with serve_asgi(create_http_app(service, token=token), on_shutdown=service.aclose) as url:
            yield url, store, sandbox


def client(url: str, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=60)


CONVERSATION = [
    {"role": "system", "content": "Answer as a senior Python reviewer."},
    {"role": "user", "content": "I need to merge two sorted lists."},
    {"role": "assistant", "content": "Do you want a new list or in place?"},
    {"role": "user", "content": "A new list. Write merge(a, b)."},
]


def test_models_lists_council_and_each_tier(tmp_path):
    with council_server(tmp_path) as (url, _, _):
        ids = [m.id for m in client(url).models.list()]
    assert ids == ["council", *(f"council/{tier}" for tier in TIERS)]
    assert "council/quick" in ids and "council/balanced" in ids


def test_non_streaming_completion_is_openai_shaped_and_names_the_session(tmp_path):
    with council_server(tmp_path) as (url, store, _):
        reply = client(url).chat.completions.create(model="council/quick", messages=CONVERSATION)
    stored = store.get_session(reply.model_dump()["council"]["session_id"])
    assert reply.model == "council/quick"
    assert reply.object == "chat.completion"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.choices[0].message.content == stored.synthesis and stored.synthesis
    assert reply.usage.total_tokens == stored.usage.prompt_tokens + stored.usage.completion_tokens
    assert reply.usage.total_tokens > 0
    council = reply.model_dump()["council"]
    assert council["seats"] == [
        {
            "seat_id": s.seat_id,
            "requested_model": s.requested_model,
            "resolved_model": s.resolved_model,
        }
        for s in stored.seats
    ]
    assert any(s["requested_model"] == "openrouter/pareto-code" for s in council["seats"])
    assert all(s["resolved_model"] for s in council["seats"])
    # The whole conversation reached the council, with the last user turn as the question.
    assert stored.tier == "quick"
    assert "Answer as a senior Python reviewer." in stored.prompt
    assert "Do you want a new list or in place?" in stored.prompt
    assert stored.prompt.rstrip().endswith("A new list. Write merge(a, b).")


def test_plain_council_model_uses_the_default_tier(tmp_path):
    with council_server(tmp_path) as (url, _, _):
        reply = client(url).chat.completions.create(
            model="council", messages=[{"role": "user", "content": "Write fizzbuzz."}]
        )
    assert reply.model == "council/balanced"  # the shipped config's default tier


def test_streaming_sends_synthesis_usage_and_the_council_field(tmp_path):
    with council_server(tmp_path) as (url, store, _):
        stream = client(url).chat.completions.create(
            model="council/quick", messages=CONVERSATION, stream=True
        )
        chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    last = chunks[-1]
    session = store.get_session(last.model_dump()["council"]["session_id"])
    # Exactly the stored synthesis (the stream may end with the newline the model wrote).
    assert text.rstrip() == session.synthesis and text
    assert "```json" not in text  # the verdict block is held back, as in the stored synthesis
    assert all(c.model == "council/quick" for c in chunks)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert last.choices == [] and last.usage is not None and last.usage.total_tokens > 0
    assert len({c.id for c in chunks}) == 1


def test_the_first_synthesis_token_arrives_before_the_chairman_call_finished(tmp_path):
    """Slow streaming sandbox (fixed latency, each SSE piece held 40 ms): the synthesis is
    streamed from the chairman call, not re-chunked after it finished."""
    with council_server(tmp_path, latency_ms=100, gap_s=0.04) as (url, _, sandbox):
        stream = client(url).chat.completions.create(
            model="council/quick",
            messages=[{"role": "user", "content": "Write fizzbuzz."}],
            stream=True,
        )
        arrivals = [time.monotonic() for c in stream if c.choices and c.choices[0].delta.content]
    (chairman_done,) = sandbox.stream_ends  # only the chairman call streams
    assert len(arrivals) >= 3
    assert arrivals[0] < chairman_done - 0.1  # well before the chairman response completed
    assert arrivals[-1] - arrivals[0] > 0.1  # and the rest kept arriving as it was written


def test_progress_comments_precede_the_synthesis_on_the_wire(tmp_path):
    with (
        council_server(tmp_path) as (url, _, _),
        httpx.stream(
            "POST",
            f"{url}/v1/chat/completions",
            json={"model": "council/quick", "messages": CONVERSATION, "stream": True},
            timeout=60,
        ) as response,
    ):
        lines = [line for line in response.iter_lines() if line]
    assert response.headers["content-type"].startswith("text/event-stream")
    comments = [line for line in lines if line.startswith(":")]
    assert any(line.startswith(": stage answer: 3 call(s)") for line in comments)
    assert any(line.startswith(": s1 answer ok ") and line.endswith("s") for line in comments)
    assert any(line.startswith(": chairman chairman ok ") for line in comments)
    first_content = next(
        i
        for i, line in enumerate(lines)
        if line.startswith("data: {") and '"content": "' in line and '"content": ""' not in line
    )
    last_answer = max(i for i, line in enumerate(lines) if line.startswith(": s3 answer"))
    assert last_answer < first_content
    assert lines[-1] == "data: [DONE]"


@pytest.mark.parametrize(
    ("body", "status", "param", "code"),
    [
        ({"model": "council", "messages": []}, 400, "messages", None),
        (
            {"model": "council", "messages": [{"role": "assistant", "content": "hi"}]},
            400,
            "messages",
            None,
        ),
        (
            {
                "model": "council",
                "messages": [{"role": "user", "content": [{"type": "image_url"}]}],
            },
            400,
            "messages",
            None,
        ),
        (
            {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
            404,
            "model",
            "model_not_found",
        ),
        (
            {"model": "council/huge", "messages": [{"role": "user", "content": "hi"}]},
            400,
            "model",
            "invalid_tier",
        ),
        (
            {"model": "council", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"},
            400,
            "stream",
            None,
        ),
    ],
)
def test_bad_requests_get_openai_errors(tmp_path, body, status, param, code):
    with council_server(tmp_path) as (url, store, _):
        with pytest.raises(openai.APIStatusError) as caught:
            client(url).chat.completions.create(**body)
        sessions = store.list_sessions()
    assert caught.value.status_code == status
    error = caught.value.body
    assert error["type"] == "invalid_request_error"
    assert (error["param"], error["code"]) == (param, code)
    assert error["message"]
    assert sessions == []  # refused before anything ran


def test_invalid_json_and_unknown_paths_use_the_error_shape(tmp_path):
    with council_server(tmp_path) as (url, _, _):
        bad = httpx.post(f"{url}/v1/chat/completions", content=b"{nope", timeout=10)
        missing = httpx.get(f"{url}/v1/embeddings", timeout=10)
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "invalid_request_error"
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_a_preflight_refusal_is_a_400_with_nothing_called(tmp_path):
    # Far beyond any seat's context window: preflight refuses before any paid call.
    huge = "word " * 2_000_000
    with council_server(tmp_path) as (url, store, _):
        with pytest.raises(openai.BadRequestError) as caught:
            client(url).chat.completions.create(
                model="council/quick", messages=[{"role": "user", "content": huge}]
            )
        sessions = store.list_sessions()
    assert caught.value.body["code"] == "preflight_refused"
    assert "nothing was called" in caught.value.body["message"]
    assert sessions == []


def test_a_token_is_required_on_every_request_when_set(tmp_path):
    token = "tok-9f2c41d7e0"
    with council_server(tmp_path, token=token) as (url, _, _):
        with pytest.raises(openai.AuthenticationError) as missing:
            client(url, key="wrong-key-123").models.list()
        with pytest.raises(openai.AuthenticationError):
            client(url, key="wrong-key-123").chat.completions.create(
                model="council", messages=[{"role": "user", "content": "hi"}]
            )
        bare = httpx.get(f"{url}/v1/models", timeout=10)
        ids = [m.id for m in client(url, key=token).models.list()]
    assert missing.value.status_code == 401
    assert missing.value.body["code"] == "invalid_api_key"
    assert "wrong-key-123" not in json.dumps(missing.value.body)
    assert bare.status_code == 401 and bare.json()["error"]["type"] == "invalid_request_error"
    assert "council" in ids


def test_a_client_that_leaves_mid_stream_interrupts_the_session(tmp_path):
    with council_server(tmp_path, latency_ms=400) as (url, store, _):
        with httpx.stream(
            "POST",
            f"{url}/v1/chat/completions",
            json={"model": "council/quick", "messages": CONVERSATION, "stream": True},
            timeout=60,
        ) as response:
            lines = response.iter_lines()
            session_id = next(lines).removeprefix(": council session ").strip()
            assert next(line for line in lines if line.startswith(": stage answer"))
        # The connection is closed here, while the seats are still answering.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                stored = store.get_session(session_id)
                break
            except Exception:
                time.sleep(0.05)
        else:
            pytest.fail("the interrupted session was never stored")
    assert stored.status == "interrupted"
    assert stored.synthesis is None


def test_serve_refuses_a_public_host_without_a_token():
    from llm_council.cli import app

    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "8123"])
    assert result.exit_code == 2
    assert "without a token" in result.output and "LLM_COUNCIL_SERVER_TOKEN" in result.output


def test_loopback_hosts():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("127.0.0.2") and is_loopback("[::1]")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("example.com")


def test_a_lone_question_is_the_prompt_as_is():
    assert messages_to_prompt([{"role": "user", "content": "Write fizzbuzz."}]) == "Write fizzbuzz."
    parts = [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]
    assert messages_to_prompt([{"role": "user", "content": parts}]) == "one\ntwo"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "tool", "robot", 3])},
    optional={"content": JSON},
)


@settings(max_examples=300, deadline=None)
@given(st.lists(MESSAGE | JSON, max_size=5) | JSON)
def test_any_message_list_is_a_prompt_or_a_request_error(messages):
    try:
        prompt = messages_to_prompt(messages)
    except RequestError as exc:
        assert exc.status == 400 and exc.param == "messages"
    else:
        assert prompt.strip()
        assert isinstance(messages, list) and messages[-1]["role"] == "user"


def test_the_serve_command_serves_the_sandbox_council(tmp_path):
    """The real CLI in a subprocess: it starts, answers the openai client, stops on SIGINT."""
    port = free_port()
    env = {**os.environ, "LLM_COUNCIL_SERVER_TOKEN": "tok-serve-5521"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_council", "serve", "--port", str(port), "--gateway", "sandbox"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/v1/models", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail(f"serve did not start: {proc.stderr.read() if proc.stderr else ''}")
                time.sleep(0.1)
        reply = client(url, key="tok-serve-5521").chat.completions.create(
            model="council/quick", messages=[{"role": "user", "content": "Write fizzbuzz."}]
        )
        with pytest.raises(openai.AuthenticationError):
            client(url).models.list()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert reply.model == "council/quick" and reply.choices[0].message.content
    assert reply.model_dump()["council"]["session_id"]
    assert f"http://127.0.0.1:{port}/v1" in err
    assert "tok-serve-5521" not in err + out
    assert out == ""  # library and server output go to stderr only
