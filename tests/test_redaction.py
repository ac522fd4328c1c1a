"""The API key, or any 8+ character piece of it, never leaves the library in text.

Servers echo credentials: OpenRouter's 401 message "tells you what OpenRouter received"
(https://openrouter.ai/docs/guides/overview/auth/api-keys, "Troubleshooting 401 errors"), and
its errors are ``{"error": {"code", "message", "metadata"}}`` with free-form metadata, in an
HTTP error or in a 200 body / SSE event (https://openrouter.ai/docs/api/reference/errors-and-debugging).
A server may also cut or mask what it echoes, so every piece of 8+ characters counts.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_council.config import GatewaySettings
from llm_council.gateway.base import (
    AuthError,
    ChatMessage,
    CompletionRequest,
    GatewayError,
    MalformedResponseError,
    PaymentRequiredError,
    ProviderError,
    RateLimitedError,
    RefusedError,
    UpstreamError,
)
from llm_council.gateway.openrouter import OpenRouterGateway
from llm_council.redaction import MASK, MIN_PIECE, redact, redact_deep
from tests.conftest import serve_asgi
from tests.scripted_openrouter import Reply, ScriptedServer, completion, error

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-or-v1-" + secrets.token_hex(32)  # OpenRouter's shape; fresh each run
HEX = "0123456789abcdef"


def leaks(text: str, key: str = KEY) -> list[str]:
    """The 8-character windows of ``key`` found in ``text`` (any 8+ piece contains one)."""
    return [
        key[i : i + MIN_PIECE]
        for i in range(len(key) - MIN_PIECE + 1)
        if key[i : i + MIN_PIECE] in text
    ]


def assert_clean(*things: object, key: str = KEY) -> None:
    for thing in things:
        for text in (str(thing), repr(thing), json.dumps(_vars(thing), default=str)):
            assert not leaks(text, key), (leaks(text, key), text[:300])


def _vars(thing: object) -> Any:
    try:
        return vars(thing)
    except TypeError:
        return None


# --- the redaction rules --------------------------------------------------------------------


ECHO_FORMS = {
    "whole": KEY,
    "prefix-8": KEY[:8],
    "prefix-20": KEY[:20],
    "random-middle": KEY[9:21],
    "suffix-8": KEY[-8:],
    "masked-display": f"{KEY[:12]}...{KEY[-10:]}",
    "split-by-newline": KEY[:40] + "\n" + KEY[40:],  # each half is a piece
}


@pytest.mark.parametrize("echo", ECHO_FORMS.values(), ids=ECHO_FORMS.keys())
def test_the_key_and_every_8_char_piece_are_masked(echo):
    text = f"invalid credential received: {echo} (check the header)"
    out = redact(text, KEY, registered=False)
    assert not leaks(out)
    assert out.startswith("invalid credential received: ") and MASK in out
    assert out.endswith(" (check the header)")


def test_pieces_shorter_than_8_characters_and_ordinary_text_are_kept():
    seven = KEY[20:27]
    text = f"model openai/gpt-5.4-mini, task-12 at https://openrouter.ai/api/v1, piece {seven}"
    assert redact(text, KEY, registered=False) == text


def test_key_shapes_and_bearer_tokens_are_masked_without_knowing_the_key():
    other = "sk-or-v1-" + secrets.token_hex(32)
    text = f"got {other}; Authorization: Bearer abc.DEF-123_x~+/=; byok sk-ant-api03-{'A' * 24}"
    masked = "got ***; Authorization: Bearer ***; byok ***"
    assert redact(text, registered=False) == masked
    # Knowing another key (whose public "sk-or-v1" head matches) must not leave this tail.
    assert redact(text, KEY, registered=False) == masked


def test_a_short_secret_is_masked_whole():
    assert redact("token abc123 rejected", "abc123", registered=False) == "token *** rejected"


def test_redact_deep_masks_keys_values_and_nested_lists():
    data = {KEY: [KEY[:10], {"raw": f"Bearer {KEY}"}], "n": 3, "t": (KEY[-9:],), "ok": None}
    out = redact_deep(data, KEY, registered=False)
    assert out == {MASK: [MASK, {"raw": "Bearer ***"}], "n": 3, "t": [MASK], "ok": None}


hex_keys = st.text(alphabet=HEX, min_size=64, max_size=64).map(lambda h: "sk-or-v1-" + h)
noise = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@st.composite
def echoed(draw: st.DrawFn) -> tuple[str, str]:
    """A key and a text that echoes any 8+ piece of it, possibly several times."""
    key = draw(hex_keys)
    parts = [draw(noise)]
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, len(key) - MIN_PIECE))
        end = draw(st.integers(start + MIN_PIECE, len(key)))
        parts += [key[start:end], draw(noise)]
    return key, "".join(parts)


@settings(max_examples=300, deadline=None)
@given(echoed(), st.integers(0, 400))
def test_no_piece_survives_masking_or_a_cut_after_it(case, cut):
    key, text = case
    out = redact(text, key, registered=False)
    assert not leaks(out, key) and not leaks(out[:cut], key)
    assert redact(out, key, registered=False) == out  # masking twice changes nothing


@settings(max_examples=200, deadline=None)
@given(hex_keys, st.text(alphabet="ghijklmnopqrstuvwxyz .,:/_GHIJ", max_size=200))
def test_text_without_key_characters_is_untouched(key, text):
    assert redact(text, key, registered=False) == text


# --- through the real adapter and a real socket ---------------------------------------------

MESSAGES = (ChatMessage(role="user", content="merge two sorted lists"),)


def request(**kw: Any) -> CompletionRequest:
    return CompletionRequest(model="openrouter/pareto-code", messages=MESSAGES, tier="high", **kw)


def make_gateway(url: str, key: str = KEY) -> OpenRouterGateway:
    settings_ = GatewaySettings(max_attempts=1, backoff_base_s=0)
    return OpenRouterGateway(settings_, api_key=key, base_url=f"{url}/api/v1")


NOT_JSON = "x" * 190 + KEY + " and more"  # the 200-character cut falls inside the key

ECHOES: list[tuple[str, Reply, type[GatewayError]]] = [
    ("full key", Reply(status=401, body=error(401, f"bad key {KEY}", key=KEY)), AuthError),
    ("8-char prefix", Reply(status=401, body=error(401, f"got {KEY[:8]}")), AuthError),
    ("20-char prefix", Reply(status=401, body=error(401, f"got {KEY[:20]}...")), AuthError),
    (
        "masked form",
        Reply(status=402, body=error(402, f"{KEY[:12]}...{KEY[-10:]}")),
        PaymentRequiredError,
    ),
    ("non-JSON body at the cut", Reply(status=500, body=NOT_JSON.encode()), UpstreamError),
    *[
        (
            f"non-JSON body, key at {at}",
            Reply(status=502, body=("y" * at + KEY).encode()),
            UpstreamError,
        )
        for at in (185, 192, 196)
    ],
    (
        "metadata",
        Reply(
            status=429,
            body=error(
                429,
                "slow down",
                raw={"headers": {"authorization": f"Bearer {KEY}"}},
                echo=[KEY[:30], {KEY[9:40]: KEY[-12:]}],
            ),
        ),
        RateLimitedError,
    ),
    (
        "moderation reasons",
        Reply(status=403, body=error(403, "flagged", reasons=[KEY[:25]])),
        RefusedError,
    ),
    (
        "200 body error",
        Reply(body=error(500, f"provider {KEY}", provider_name=KEY[:16])),
        ProviderError,
    ),
    (
        "mid-stream error event",
        Reply(sse=[f"data: {json.dumps(error(502, 'upstream ' + KEY[5:30]))}"]),
        ProviderError,
    ),
]


@pytest.mark.parametrize(("case", "reply", "cls"), ECHOES, ids=[c for c, _, _ in ECHOES])
async def test_errors_never_carry_a_piece_of_the_key(scripted, case, reply, cls):
    server, url = scripted
    server.reset(reply)
    gw = make_gateway(url)
    try:
        with pytest.raises(cls) as info:
            await gw.complete(request(stream=reply.sse is not None))
    finally:
        await gw.aclose()
    err = info.value
    assert MASK in str(err) + json.dumps(err.metadata), case  # the echo was there, now masked
    assert_clean(err, err.metadata, err.code, err.args, err.__cause__, err.__context__, gw)


# Gaps outside _http_error/_raise_body_error: messages built from server text elsewhere in
# the adapter. Masking every GatewayError where it is built (base.py) closes them; see the
# logging report for the one-line edit.
OTHER_PATHS = [
    ("unparseable stream chunk", Reply(sse=[f"data: not json {KEY}"]), MalformedResponseError),
]


@pytest.mark.parametrize(("case", "reply", "cls"), OTHER_PATHS, ids=[c for c, _, _ in OTHER_PATHS])
async def test_malformed_response_errors_never_carry_a_piece_of_the_key(scripted, case, reply, cls):
    server, url = scripted
    server.reset(reply)
    gw = make_gateway(url)
    try:
        with pytest.raises(cls) as info:
            await gw.complete(request(stream=reply.sse is not None))
    finally:
        await gw.aclose()
    assert_clean(info.value)


async def test_an_unreadable_usage_note_never_carries_a_piece_of_the_key(scripted, caplog):
    """Non-numeric usage keeps the answer (tests/test_gateway_http.py); the note saying why
    quotes the server's value, masked, in the result and in the log."""
    server, url = scripted
    server.reset(Reply(body=completion(cost=KEY)))
    gw = make_gateway(url)
    try:
        result = await gw.complete(request())
    finally:
        await gw.aclose()
    assert result.usage_problem and MASK in result.usage_problem
    assert_clean(result.usage_problem, result.model_dump(mode="json"), caplog.text)


@st.composite
def server_echoes(draw: st.DrawFn) -> tuple[str, Reply]:
    """A key, and an error reply that echoes a piece of it somewhere a server might."""
    # Random-looking keys only: each gateway registers its key for the whole test process,
    # and a shrunk "sk-or-v1-000..." would then mask "00000000" in other tests' logs.
    key = "sk-or-v1-" + hashlib.sha256(draw(st.binary(max_size=16))).hexdigest()
    start = draw(st.integers(0, len(key) - MIN_PIECE))
    piece = key[start : draw(st.integers(start + MIN_PIECE, len(key)))]
    status = draw(st.sampled_from([400, 401, 402, 403, 408, 429, 500, 502, 503]))
    where = draw(st.sampled_from(["message", "metadata", "metadata key", "raw body", "200 body"]))
    pad = draw(st.text(alphabet="xyz ", max_size=250))
    if where == "raw body":
        return key, Reply(status=status, body=(pad + piece + pad).encode())
    if where == "200 body":
        return key, Reply(body=error(status, pad + piece))
    meta = {"raw": pad + piece} if where == "metadata" else {piece: pad}
    return key, Reply(
        status=status, body=error(status, f"{pad}{piece if where == 'message' else ''}", **meta)
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(server_echoes())
def test_whatever_a_server_echoes_no_piece_reaches_the_error(scripted, case):
    key, reply = case
    server, url = scripted
    server.reset(reply)

    async def call() -> GatewayError:
        gw = make_gateway(url, key)
        try:
            with pytest.raises(GatewayError) as info:
                await gw.complete(request())
            return info.value
        finally:
            await gw.aclose()

    err = asyncio.run(call())
    assert_clean(err, err.metadata, err.code, key=key)


# --- the CLI end to end: stderr logs, --json, the human output and the store ----------------


def write_config(path: Path) -> Path:
    """The shipped config with immediate retries (the test is about text, not timing)."""
    data = yaml.safe_load((ROOT / "unified_config.yaml").read_text())
    data["gateway"].update({"max_attempts": 2, "backoff_base_s": 0, "backoff_max_s": 0})
    path.write_text(yaml.safe_dump(data))
    return path


def echo_script() -> list[Reply]:
    """The preflight model list and every seat call fail, each echoing the key differently."""
    zero = {"Retry-After": "0"}
    return [
        Reply(status=401, body=error(401, f"No auth credentials found: {KEY}", key=KEY)),
        Reply(status=429, body=error(429, f"limit for {KEY[:8]}"), headers=zero),
        Reply(status=500, body=NOT_JSON.encode()),
        Reply(body=error(502, "provider failed", provider_name=KEY[:20], raw={"k": KEY})),
        Reply(status=503, body=error(503, f"{KEY[:12]}...{KEY[-10:]}"), headers=zero),
        Reply(status=402, body=error(402, "no credits", echo=[KEY[9:40], {KEY: KEY[-12:]}])),
        Reply(status=401, body=error(401, f"User not found for key ending {KEY[-16:]}")),
    ]


def run_cli(
    args: list[str], url: str, tmp_path: Path, db: Path
) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_COUNCIL_", "OPENROUTER_"))}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        OPENROUTER_API_KEY=KEY,
        OPENROUTER_BASE_URL=f"{url}/api/v1",
        LLM_COUNCIL_AUDITION_URL=f"sqlite:///{db}",
        LLM_COUNCIL_CONFIG=str(write_config(tmp_path / "config.yaml")),
        # An id the registry does not know makes the preflight fetch the model list.
        LLM_COUNCIL_MODELS_QUICK="vendor/not-in-registry,openrouter/pareto-code,anthropic/claude-haiku-4.5",
    )
    return subprocess.run(
        [sys.executable, "-m", "llm_council", "--log-level", "debug", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def store_text(db: Path) -> str:
    """Every value of every table of the audition store, as text."""
    values: list[str] = []
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert "calls" in tables and "sessions" in tables
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                values += [
                    v.decode(errors="replace") if isinstance(v, bytes) else str(v) for v in row
                ]
    return "\n".join(values)


def test_the_cli_keeps_the_key_out_of_stderr_json_output_and_the_store(tmp_path):
    server = ScriptedServer()
    db = tmp_path / "audition.db"
    with serve_asgi(server) as url:
        server.reset(*echo_script())
        as_json = run_cli(
            ["run", "merge two sorted lists", "--tier", "quick", "--json"], url, tmp_path, db
        )
        json_calls = len(server.log)
        server.reset(*echo_script())
        human = run_cli(["run", "merge two sorted lists", "--tier", "quick"], url, tmp_path, db)
    assert json_calls >= 5  # the model list and the seats' calls with their retries
    payload = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and payload["status"] == "failed", as_json.stderr[-2000:]
    # The server's words were kept (masked), so the checks below look at real echoes.
    errors = " ".join(s["error"] or "" for s in payload["seats"]) + " ".join(payload["notices"])
    assert MASK in errors and "could not fetch the gateway's model list" in errors
    events = [json.loads(line) for line in as_json.stderr.splitlines() if line.startswith("{")]
    retries = [e for e in events if e["event"] == "gateway.retry"]
    assert retries and all(e["level"] == "info" and MASK in e["detail"] for e in retries)
    assert "no seat answered" in as_json.stderr and human.returncode == 1
    stored = store_text(db)
    assert payload["session_id"] in stored and MASK in stored
    for name, text in [
        ("stderr (--json run)", as_json.stderr),
        ("stdout (--json)", as_json.stdout),
        ("stderr (human run)", human.stderr),
        ("stdout (human run)", human.stdout),
        ("audition store", stored),
    ]:
        assert not leaks(text), (name, leaks(text))
