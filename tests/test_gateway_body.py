"""Request bodies: Pareto plugin injection per tier, overrides, nitro, and nothing for others."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from llm_council.gateway.base import ChatMessage, CompletionRequest
from llm_council.gateway.openrouter import (
    PARETO_TIER_SCORES,
    _decode,
    _encode,
    build_request_body,
    pareto_score,
)

MESSAGES = (ChatMessage(role="user", content="Write a merge function."),)


def body(model: str, **kw):
    return build_request_body(CompletionRequest(model=model, messages=MESSAGES, **kw))


def test_tier_scores_are_the_documented_mapping():
    assert PARETO_TIER_SCORES == {
        "quick": 0.2,
        "balanced": 0.5,
        "high": 0.8,
        "reasoning": 0.9,
        "frontier": None,
    }


@pytest.mark.parametrize(
    ("tier", "score"), [("quick", 0.2), ("balanced", 0.5), ("high", 0.8), ("reasoning", 0.9)]
)
def test_pareto_plugin_per_tier(tier, score):
    assert body("openrouter/pareto-code", tier=tier)["plugins"] == [
        {"id": "pareto-router", "min_coding_score": score}
    ]


def test_frontier_omits_the_plugin():
    out = body("openrouter/pareto-code", tier="frontier")
    assert "plugins" not in out
    assert out["model"] == "openrouter/pareto-code"


def test_seat_override_wins_even_on_frontier():
    assert body("openrouter/pareto-code", tier="balanced", min_coding_score=0.7)["plugins"] == [
        {"id": "pareto-router", "min_coding_score": 0.7}
    ]
    assert body("openrouter/pareto-code", tier="frontier", min_coding_score=0.3)["plugins"] == [
        {"id": "pareto-router", "min_coding_score": 0.3}
    ]


def test_nitro_variant_is_detected():
    out = body("openrouter/pareto-code:nitro", tier="high")
    assert out["model"] == "openrouter/pareto-code:nitro"
    assert out["plugins"] == [{"id": "pareto-router", "min_coding_score": 0.8}]


@pytest.mark.parametrize(
    "model",
    [
        "anthropic/claude-opus-4.7",
        "openai/gpt-5.4-mini",
        "openrouter/auto",
        "openrouter/pareto-codex",
    ],
)
def test_other_models_carry_no_plugins(model):
    out = body(model, tier="balanced", min_coding_score=0.9)
    assert "plugins" not in out
    assert pareto_score(model, "balanced", 0.9) is None


def test_caller_plugins_are_merged_and_pareto_never_doubled():
    out = body(
        "openrouter/pareto-code",
        tier="quick",
        plugins=({"id": "web"}, {"id": "pareto-router", "min_coding_score": 0.99}),
    )
    assert out["plugins"] == [{"id": "web"}, {"id": "pareto-router", "min_coding_score": 0.2}]
    named = body("openai/gpt-5.4", plugins=({"id": "web"}, {"id": "pareto-router"}))
    assert named["plugins"] == [{"id": "web"}]


def test_passthrough_fields():
    out = body(
        "openrouter/pareto-code",
        tier="balanced",
        session_id="sess:s3",
        models=("moonshotai/kimi-k2.6",),
        max_tokens=100,
        temperature=0.2,
        stream=True,
    )
    assert out["session_id"] == "sess:s3"
    assert out["models"] == ["moonshotai/kimi-k2.6"]
    assert out["max_tokens"] == 100 and out["temperature"] == 0.2 and out["stream"] is True
    assert out["messages"] == [{"role": "user", "content": "Write a merge function."}]


def test_config_tier_scores_override_the_defaults():
    request = CompletionRequest(model="openrouter/pareto-code", messages=MESSAGES, tier="balanced")
    custom = {**PARETO_TIER_SCORES, "balanced": 0.4}
    assert build_request_body(request, custom)["plugins"][0]["min_coding_score"] == 0.4


def test_score_outside_range_is_rejected_at_the_boundary():
    with pytest.raises(ValueError):
        CompletionRequest(model="openrouter/pareto-code", messages=MESSAGES, min_coding_score=1.2)


def test_caller_pareto_entry_on_frontier_is_dropped_not_sent():
    # Frontier omits the plugin: a caller's stray pareto-router entry must not sneak it back.
    out = body(
        "openrouter/pareto-code",
        tier="frontier",
        plugins=({"id": "pareto-router", "min_coding_score": 0.4},),
    )
    assert "plugins" not in out


@pytest.mark.parametrize("tier", ["quick", "balanced", "high", "reasoning", "frontier"])
def test_exactly_one_pareto_entry_with_override_and_caller_entry(tier):
    out = body(
        "openrouter/pareto-code:nitro",
        tier=tier,
        min_coding_score=0.65,
        plugins=({"id": "pareto-router", "min_coding_score": 0.1}, {"id": "response-healing"}),
    )
    assert out["plugins"] == [
        {"id": "response-healing"},
        {"id": "pareto-router", "min_coding_score": 0.65},
    ]


def test_caller_plugins_are_copied_not_shared():
    web = {"id": "web", "max_results": 3}
    out = body("openrouter/pareto-code", tier="quick", plugins=(web,))
    out["plugins"][0]["max_results"] = 9
    assert web == {"id": "web", "max_results": 3}


def test_pareto_seat_without_tier_or_override_sends_no_score():
    assert "plugins" not in body("openrouter/pareto-code")
    assert pareto_score("openrouter/pareto-code", None, None) is None
    assert pareto_score("openrouter/pareto-code", None, 0.3) == 0.3


def test_optional_fields_absent_unless_set():
    out = body("openai/gpt-5.4")
    assert set(out) == {"model", "messages"}


def test_lone_surrogates_are_sent_as_replacement_characters():
    """A request body must be valid UTF-8 JSON (RFC 8259 §8.1); a lone surrogate, e.g. from an
    answer quoted back in a review, is sent as U+FFFD rather than failing the call."""
    import json

    from llm_council.gateway.base import ChatMessage, CompletionRequest

    request = CompletionRequest(
        model="openai/gpt-5.4", messages=(ChatMessage(role="user", content="a\ud800b\udfffc"),)
    )
    body = build_request_body(request)
    assert body["messages"][0]["content"] == "a\ufffdb\ufffdc"
    json.dumps(body, ensure_ascii=False).encode("utf-8")  # would raise with a surrogate
    assert request.messages[0].content == "a\ud800b\udfffc"  # the caller's text is untouched


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
_WIRE_KEYS = ("id", "model", "provider", "choices", "usage", "openrouter_metadata")


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(st.sampled_from(_WIRE_KEYS), _JSON, max_size=6),
    st.lists(
        st.dictionaries(
            st.sampled_from(("message", "finish_reason", "delta")),
            _JSON | st.fixed_dictionaries({"content": _JSON}),
            max_size=3,
        ),
        max_size=2,
    ),
)
def test_any_wire_payload_is_a_result_or_a_malformed_response(payload, choices):
    """Whatever JSON object a server returns, the adapter either builds a result or raises
    MalformedResponseError: nothing else escapes into the session (issue: code health)."""
    import time

    from llm_council.config import GatewaySettings
    from llm_council.gateway.base import (
        ChatMessage,
        CompletionRequest,
        CompletionResult,
        MalformedResponseError,
    )
    from llm_council.gateway.openrouter import OpenRouterGateway

    if choices:
        payload = {**payload, "choices": choices}
    gateway = OpenRouterGateway(GatewaySettings(), api_key="sk-or-k")
    request = CompletionRequest(
        model="openrouter/pareto-code", messages=(ChatMessage(role="user", content="q"),)
    )
    try:
        result = gateway._result(request, {"model": request.model}, payload, 1, time.perf_counter())
    except MalformedResponseError:
        return
    assert isinstance(result, CompletionResult)
    assert result.resolved_model is None or isinstance(result.resolved_model, str)
    assert isinstance(result.content, str)


# -- the wire encoding: orjson with the stdlib as the rule (ADR-016) ---------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # beyond 64 bits: orjson refuses
    | st.floats()  # NaN and infinities included: the stdlib refuses them, so must we
    | st.text()  # lone surrogates included
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def _stdlib(body):
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except (ValueError, UnicodeEncodeError) as exc:
        return type(exc)


@settings(max_examples=300)
@given(
    st.dictionaries(
        st.sampled_from(["model", "messages", "temperature", "plugins", "session_id", "x"]),
        JSON_VALUES,
    )
)
def test_bodies_go_out_as_the_stdlib_would_write_them(body):
    expected = _stdlib(body)
    if isinstance(expected, type):
        with pytest.raises(expected):
            _encode(body)
        return
    sent = _encode(body)
    assert json.loads(sent) == json.loads(expected)  # the same JSON, whichever encoder ran


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "temperature": float("nan")},
        {"model": "m", "plugins": [{"id": "x", "weight": float("inf")}]},
    ],
)
def test_a_float_that_is_not_finite_is_refused_not_sent_as_null(body):
    with pytest.raises(ValueError):
        _encode(body)


@settings(max_examples=300)
@given(JSON_VALUES)
@example({"": -(2**63) - 1, "0": float("inf")})  # orjson refuses it: the big int stays exact
def test_responses_are_read_as_the_stdlib_reads_them(value):
    # Whatever the stdlib can write (NaN literals, lone surrogate escapes, big ints), the
    # gateway reads to the same value: orjson first, the stdlib for what orjson refuses.
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate written raw cannot be sent as UTF-8
            continue
        exact = json.loads(text)
        # The one difference (the _decode docstring) shows only where orjson read the text.
        assert _same(_decode(raw), _as_read(exact) if _orjson_reads(raw) else exact)


def _orjson_reads(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return True


def _as_read(value):
    """The one difference kept (the _decode docstring): in a text orjson reads, an int
    beyond 64 bits reads as the nearest float."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if -(2**63) <= value < 2**64 else float(value)
    if isinstance(value, list):
        return [_as_read(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_read(v) for k, v in value.items()}
    return value


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True  # NaN == NaN
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("raw", [b"{", b"", b"\xff\xfe", b'{"a": 1} x', b"nul"])
def test_invalid_json_is_still_a_value_error(raw):
    with pytest.raises(ValueError):
        _decode(raw)
