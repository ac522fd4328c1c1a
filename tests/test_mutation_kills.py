"""Rules the suite used to state without checking: each test here kills mutants that survived
a ``mutmut`` run (docs/mutation-testing.md) and would let a real regression through.

Adapter tests talk to a scripted OpenRouter over a real socket (uvicorn on 127.0.0.1); the
pure rules (ranking, duplicates, verdict, preflight, Pareto bands, router metadata) are
called directly with the shipped registry.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from email.utils import formatdate

import pytest

from llm_council.config import GatewaySettings
from llm_council.council import duplicates, records
from llm_council.council.plan import Seat, SessionPlan
from llm_council.council.preflight import estimated_tokens, preflight
from llm_council.council.result import ChairmanResult, ReviewResult, SeatResult
from llm_council.council.verdict import parse_verdict
from llm_council.gateway.base import (
    BadRequestError,
    CallTimeoutError,
    ChatMessage,
    CompletionRequest,
    CompletionResult,
    MalformedResponseError,
    RateLimitedError,
    UpstreamError,
    Usage,
)
from llm_council.gateway.openrouter import OpenRouterGateway
from llm_council.gateway.router_metadata import parse_router_metadata
from llm_council.pareto import route
from llm_council.registry import load_registry
from tests.scripted_openrouter import RecordingSleep, Reply, completion, error

KEY = "sk-or-v1-mutation-test-key-0123456789"
MESSAGES = (ChatMessage(role="user", content="merge two sorted lists"),)


@pytest.fixture
async def served(scripted):
    """``server, gw, sleep = served(*replies, **settings)``; gateways closed afterwards."""
    server, url = scripted
    opened: list[OpenRouterGateway] = []

    def factory(*replies: Reply, **settings):
        server.reset(*replies)
        sleep = RecordingSleep()
        base = {"max_attempts": 3, "backoff_base_s": 0.25, "backoff_max_s": 1.0, **settings}
        gw = OpenRouterGateway(
            GatewaySettings(**base),
            api_key=KEY,
            base_url=f"{url}/api/v1",
            sleep=sleep,
            jitter=lambda: 1.0,
        )
        opened.append(gw)
        return server, gw, sleep

    yield factory
    for gw in opened:
        await gw.aclose()


def request(model: str = "openai/gpt-5.4", **kw) -> CompletionRequest:
    return CompletionRequest(model=model, messages=MESSAGES, tier="balanced", **kw)


# --- malformed `usage` and `finish_reason` types (docs: API Reference, "Responses") ----------


@pytest.mark.parametrize(
    "usage",
    [
        [12, 34],
        "12/34",
        {"prompt_tokens": -1},
        {"completion_tokens": True},
        {"cost": "cheap"},
        {"cost": float("inf")},
        {"cost": float("nan")},
        {"prompt_tokens": {"n": 1}},
    ],
    ids=["list", "string", "negative", "bool", "cost-text", "cost-inf", "cost-nan", "nested"],
)
async def test_unusable_usage_keeps_the_paid_answer_and_says_usage_is_unknown(served, usage):
    """OpenRouter documents ``usage`` as an object of non-negative numbers. Anything else is
    never silently read as zero, and never retried either: the answer was generated and
    billed, and a retry would pay again and drop it. It is kept, its usage marked unknown."""
    body = {**completion(content="the paid answer"), "usage": usage}
    # JSON has no Infinity: 1e999 is how a server would overflow into it; NaN stays a literal.
    raw = json.dumps(body).replace("Infinity", "1e999").encode()
    server, gw, _ = served(Reply(body=raw), Reply(body=completion(content="paid twice")))
    result = await gw.complete(request())
    assert result.content == "the paid answer" and result.attempts == 1
    assert len(server.requests) == 1  # max_attempts is 3: nothing was asked again
    assert result.usage == Usage() and result.usage.cost_usd is None
    problem = result.usage_problem or ""
    assert problem.startswith("usage") or "'usage'" in problem, problem


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (None, (0, 0, None)),
        ({}, (0, 0, None)),
        ({"prompt_tokens": "7", "completion_tokens": 3.0, "cost": 0}, (7, 3, 0.0)),
        ({"prompt_tokens": None, "cost": "0.5"}, (0, 0, 0.5)),
    ],
    ids=["absent", "empty", "numeric-strings-and-zero-cost", "null-token-count"],
)
async def test_usable_usage_shapes_are_read_exactly(served, usage, expected):
    body = completion()
    if usage is None:
        del body["usage"]
    else:
        body["usage"] = usage
    _, gw, _ = served(Reply(body=body))
    result = await gw.complete(request())
    assert (
        result.usage.prompt_tokens,
        result.usage.completion_tokens,
        result.usage.cost_usd,
    ) == expected


@pytest.mark.parametrize("finish", [42, ["stop"], {"reason": "stop"}, None, True])
async def test_a_non_text_finish_reason_is_dropped_not_kept(served, finish):
    body = completion()
    body["choices"][0]["finish_reason"] = finish
    _, gw, _ = served(Reply(body=body))
    result = await gw.complete(request())
    assert result.finish_reason is None and result.content == "hello"


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ({"role": "assistant", "content": 42}, "content is not a string"),
        ("just text", None),
    ],
    ids=["content-int", "message-not-object"],
)
async def test_message_shapes(served, message, why):
    body = completion()
    body["choices"][0]["message"] = message
    _, gw, _ = served(Reply(body=body))
    if why:
        with pytest.raises(MalformedResponseError, match=why):
            await gw.complete(request())
    else:
        assert (await gw.complete(request())).content == ""


async def test_choices_whose_first_entry_is_not_an_object_are_malformed(served):
    body = {**completion(), "choices": ["hello"]}
    _, gw, _ = served(Reply(body=body))
    with pytest.raises(MalformedResponseError, match="no 'choices'"):
        await gw.complete(request())


# --- Retry-After and X-RateLimit-Reset (docs: "API Rate Limits", "Errors") -------------------


async def test_retry_after_zero_and_negative_wait_nothing_but_still_retry(served):
    server, gw, sleep = served(
        Reply(status=429, body=error(429, "slow"), headers={"Retry-After": "0"}),
        Reply(status=429, body=error(429, "slow"), headers={"Retry-After": "-5"}),
        Reply(body=completion()),
    )
    result = await gw.complete(request())
    assert result.attempts == 3 and sleep.delays == [0.0, 0.0]
    assert len(server.requests) == 3


async def test_retry_after_in_the_past_as_a_date_waits_nothing(served):
    past = formatdate(time.time() - 3600, usegmt=True)
    _, gw, sleep = served(
        Reply(status=503, body=error(503, "busy"), headers={"Retry-After": past}),
        Reply(body=completion()),
    )
    await gw.complete(request())
    assert sleep.delays == [0.0]


async def test_unparseable_retry_after_falls_back_to_backoff(served):
    _, gw, sleep = served(
        Reply(status=429, body=error(429, "slow"), headers={"Retry-After": "soon-ish"}),
        Reply(body=completion()),
    )
    await gw.complete(request())
    assert sleep.delays == [0.25]  # backoff_base_s * 2**0 * (0.5 + 0.5 * jitter 1.0)


@pytest.mark.parametrize(
    ("offset_s", "as_ms"),
    [(0.8, False), (0.8, True)],
    ids=["epoch-seconds", "epoch-milliseconds"],
)
async def test_x_ratelimit_reset_in_seconds_or_milliseconds(served, offset_s, as_ms):
    reset = time.time() + offset_s
    value = str(int(reset * 1000)) if as_ms else f"{reset:.3f}"
    _, gw, sleep = served(
        Reply(status=429, body=error(429, "slow"), headers={"X-RateLimit-Reset": value}),
        Reply(body=completion()),
    )
    await gw.complete(request())
    assert len(sleep.delays) == 1 and 0.3 < sleep.delays[0] <= 0.8 + 1e-3


async def test_x_ratelimit_reset_in_the_past_or_garbage(served):
    _, gw, sleep = served(
        Reply(status=429, body=error(429, "a"), headers={"X-RateLimit-Reset": "1000"}),
        Reply(status=429, body=error(429, "b"), headers={"X-RateLimit-Reset": "later"}),
        Reply(body=completion()),
    )
    await gw.complete(request())
    assert sleep.delays == [0.0, 0.5]  # past reset: no wait; garbage: backoff attempt 2


async def test_retry_after_is_ignored_on_statuses_that_do_not_carry_it(served):
    _, gw, sleep = served(
        Reply(status=502, body=error(502, "bad gw"), headers={"Retry-After": "0.9"}),
        Reply(body=completion()),
    )
    await gw.complete(request())
    assert sleep.delays == [0.25]


async def test_last_attempt_error_is_raised_with_its_count(served):
    server, gw, sleep = served(Reply(status=429, body=error(429, "no")), max_attempts=2)
    with pytest.raises(RateLimitedError) as info:
        await gw.complete(request())
    assert info.value.attempts == 2 and len(server.requests) == 2 and len(sleep.delays) == 1


async def test_unlisted_5xx_is_upstream_and_4xx_is_generic(served):
    _, gw, _ = served(Reply(status=599, body=b"odd"), max_attempts=1)
    with pytest.raises(UpstreamError) as info:
        await gw.complete(request())
    assert info.value.http_status == 599 and "odd" in str(info.value)
    _, gw, _ = served(Reply(status=418, body=b""), max_attempts=1)
    with pytest.raises(Exception) as info2:
        await gw.complete(request())
    assert type(info2.value).__name__ == "GatewayError" and "(empty body)" in str(info2.value)


# --- streaming (docs: "API Streaming": SSE comments, `data:` lines, `[DONE]`) ----------------


def _chunk(content: str | None = None, finish: str | None = None, **extra) -> str:
    choice: dict = {"delta": {"content": content} if content is not None else {}}
    if finish is not None:
        choice["finish_reason"] = finish
    return "data:" + json.dumps({"id": "gen-s", "model": "m/x", "choices": [choice], **extra})


async def test_stream_without_a_space_after_data_and_comments_between_chunks(served):
    """SSE allows ``data:`` without a space; comments may come between chunks, not only first."""
    lines = [_chunk("par"), ": OPENROUTER PROCESSING", "event: ping", _chunk("se"), "data: [DONE]"]
    _, gw, _ = served(Reply(sse=lines))
    result = await gw.complete(request(stream=True))
    assert result.content == "parse" and result.resolved_model == "m/x"
    assert result.finish_reason is None  # no chunk carried one: unknown, not ""


async def test_stream_finish_reason_is_the_last_text_one(served):
    lines = [_chunk("a", finish="length"), _chunk("b"), _chunk(finish="stop"), "data: [DONE]"]
    _, gw, _ = served(Reply(sse=lines))
    result = await gw.complete(request(stream=True))
    assert (result.content, result.finish_reason) == ("ab", "stop")


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("data: [1, 2]", "stream chunk is not a JSON object"),
        ('data: {"choices": {"delta": 1}}', "stream chunk 'choices' is not a list"),
        ('data: {"choices": ["x"]}', "stream chunk choice is not an object"),
        ("data: {oops", "unparseable stream chunk: '{oops'"),
    ],
    ids=["array", "choices-object", "choice-text", "not-json"],
)
async def test_stream_shape_errors_say_what_was_wrong(served, line, why):
    _, gw, _ = served(Reply(sse=[line, "data: [DONE]"]), max_attempts=1)
    with pytest.raises(MalformedResponseError) as info:
        await gw.complete(request(stream=True))
    assert str(info.value) == why


async def test_stream_rejected_with_400_and_a_retry_after_on_429(served):
    """HTTP errors on a streaming request are classified like any other: a 400 is a bad
    request (>= 400, not > 400), and a 429's Retry-After is honoured (headers passed on)."""
    _, gw, _ = served(Reply(status=400, body=error(400, "bad plugin")), max_attempts=1)
    with pytest.raises(BadRequestError, match="bad plugin"):
        await gw.complete(request(stream=True))
    _, gw, sleep = served(
        Reply(status=429, body=error(429, "slow"), headers={"Retry-After": "0.7"}),
        Reply(sse=[_chunk("ok"), "data: [DONE]"]),
    )
    result = await gw.complete(request(stream=True))
    assert result.content == "ok" and sleep.delays == [0.7]


async def test_stream_error_body_that_is_not_utf8_is_still_reported(served):
    _, gw, _ = served(Reply(status=503, body=b"\xff\xfe down \xff"), max_attempts=1)
    with pytest.raises(UpstreamError, match="down"):
        await gw.complete(request(stream=True))


# --- HTTP error text -------------------------------------------------------------------------


async def test_a_long_non_json_error_body_is_cut_to_200_characters(served):
    _, gw, _ = served(Reply(status=502, body=b"x" * 300), max_attempts=1)
    with pytest.raises(UpstreamError) as info:
        await gw.complete(request())
    assert "x" * 200 in str(info.value) and "x" * 201 not in str(info.value)


# --- GET /models -----------------------------------------------------------------------------


async def test_list_models_has_a_deadline_and_needs_a_data_list(served):
    _, gw, _ = served(Reply(body={"data": []}, delay_s=2.0), call_timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(CallTimeoutError, match=r"GET /models gave no complete answer within 0.3s"):
        await gw.list_models()
    assert time.monotonic() - started < 1.5
    _, gw, _ = served(Reply(body={"data": {"id": "x"}}))
    with pytest.raises(MalformedResponseError, match=r"GET /models returned no 'data' list"):
        await gw.list_models()


# --- duplicates: natural seat order, collapse groups, nitro reroute -------------------------


PARETO = "openrouter/pareto-code"
MINI, KIMI = "openai/gpt-5.4-mini", "moonshotai/kimi-k2.6"
GROK, SONNET = "x-ai/grok-4.3", "anthropic/claude-sonnet-4.6"
OPUS = "anthropic/claude-opus-4.7"


def _seat(sid: str, requested: str, resolved: str | None) -> SeatResult:
    return SeatResult(
        seat_id=sid,
        requested_model=requested,
        resolved_model=resolved,
        status="ok",
        variant=requested.partition(":")[2] or None,
    )


def test_seat_ids_sort_naturally_and_other_ids_after_them():
    ids = ["judge1", "s10", "chairman", "s2", "s1"]
    assert sorted(ids, key=duplicates.seat_sort_key) == ["s1", "s2", "s10", "chairman", "judge1"]


def test_collapse_groups_are_in_natural_order_inside_and_between_groups():
    registry = load_registry()
    seats = [
        _seat("s1", MINI, MINI),
        _seat("s2", SONNET, SONNET),
        _seat("s3", PARETO, SONNET),
        _seat("s4", GROK, GROK),
        _seat("s9", PARETO, MINI),
        _seat("s10", KIMI, KIMI),
        _seat("s11", f"{PARETO}:nitro", KIMI),
        _seat("s12", PARETO, GROK),
    ]
    duplicates.apply_flags(seats, duplicates.stage1_flags(seats, registry))
    # Groups ordered by their first member, naturally; members too. Ordering by the second
    # member, or as strings ("s10" < "s2", "s12" < "s4"), gives another answer.
    assert duplicates.collapse_groups(seats) == [
        ["s1", "s9"],
        ["s2", "s3"],
        ["s4", "s12"],
        ["s10", "s11"],
    ]


def test_a_nitro_seat_reroutes_by_throughput_not_price():
    registry = load_registry()
    nitro = _seat("s3", f"{PARETO}:nitro", MINI)
    # Medium band: cheapest first is mini, kimi, grok, sonnet; fastest first is grok (210),
    # mini (180), sonnet (75), kimi (55). With grok and mini seated the two orders differ.
    assert duplicates.reroute_candidate(nitro, {GROK, MINI}, registry, 0.5) == SONNET
    plain = _seat("s4", PARETO, MINI)
    assert duplicates.reroute_candidate(plain, {GROK, MINI}, registry, 0.5) == KIMI


# --- records: what is kept of each call and seat, status and notices -------------------------

STARTED = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _result(model: str | None, cost: float | None = 0.002, **kw) -> CompletionResult:
    return CompletionResult(
        requested_model=kw.pop("requested", PARETO),
        resolved_model=model,
        generation_id="gen-7",
        content="def merge(): ...",
        finish_reason="stop",
        usage=Usage(prompt_tokens=1000, completion_tokens=500, cost_usd=cost),
        latency_ms=812.3456,
        attempts=2,
        provider="OpenAI",
        router=parse_router_metadata({"strategy": "pareto"}),
        **kw,
    )


def _record(result=None, error=None, model: str = f"{PARETO}:nitro"):
    req = CompletionRequest(model=model, messages=MESSAGES, tier="balanced")
    return records.call_record(
        "answer", "s3", req, 0.5, STARTED, 999.0, result, error, load_registry()
    )


def test_a_successful_call_record_keeps_every_field():
    rec = _record(_result(MINI))
    assert rec.model_dump(exclude={"router"}) == {
        "stage": "answer",
        "seat_id": "s3",
        "requested_model": f"{PARETO}:nitro",
        "resolved_model": MINI,
        "min_coding_score": 0.5,
        "variant": "nitro",
        "generation_id": "gen-7",
        "status": "ok",
        "error": None,
        "started_at": STARTED,
        "latency_ms": 812.3456,  # the gateway's own measure, not the caller's 999
        "prompt_tokens": 1000,
        "completion_tokens": 500,
        "cost_usd": 0.002,
        "cost_estimated": False,
        "attempts": 2,
        "provider": "OpenAI",
    }
    assert rec.router is not None and rec.router.strategy == "pareto"


def test_a_missing_cost_is_estimated_from_the_registry_and_marked():
    registry = load_registry()
    rec = _record(_result(MINI, cost=None))
    assert rec.cost_usd == registry.estimate_cost(MINI, 1000, 500) and rec.cost_usd > 0
    assert rec.cost_estimated is True
    # Unknown model (or unnamed answer): nothing to estimate from, and nothing marked.
    for model in ("vendor/unknown-model", None):
        rec = _record(_result(model, cost=None))
        assert (rec.cost_usd, rec.cost_estimated) == (None, False)


def test_a_failed_call_record_keeps_the_error_and_attempts():
    err = RateLimitedError("slow down", http_status=429, attempts=3)
    rec = _record(error=err, model=PARETO)
    assert (rec.status, rec.error, rec.attempts) == ("rate_limited", "HTTP 429: slow down", 3)
    assert (rec.resolved_model, rec.variant, rec.min_coding_score) == (None, None, 0.5)
    assert rec.latency_ms == 999.0 and rec.started_at == STARTED


def _plan_seat(pareto: bool = True) -> Seat:
    model = PARETO if pareto else MINI
    return Seat("s3", model, 0.5 if pareto else None, None, None, pareto)


def test_seat_result_from_an_answer_a_failure_and_an_unnamed_answer():
    seat = records.seat_result(
        _plan_seat(), records.Outcome(_result(MINI), None, _record(_result(MINI)))
    )
    assert (seat.resolved_model, seat.status, seat.answer) == (MINI, "ok", "def merge(): ...")
    assert (seat.answered_via, seat.flags, seat.generation_id) == ("router", [], "gen-7")
    assert (seat.latency_ms, seat.attempts, seat.min_coding_score) == (812.346, 2, 0.5)
    named = records.seat_result(
        _plan_seat(pareto=False), records.Outcome(_result(MINI), None, _record(_result(MINI)))
    )
    assert named.answered_via is None
    err = RateLimitedError("slow down", http_status=429, attempts=3)
    failed = records.seat_result(_plan_seat(), records.Outcome(None, err, _record(error=err)))
    assert (failed.status, failed.answer, failed.answered_via, failed.flags) == (
        "rate_limited",
        None,
        None,
        [],
    )
    assert failed.error == "HTTP 429: slow down" and failed.generation_id is None
    unnamed = records.seat_result(
        _plan_seat(), records.Outcome(_result(None), None, _record(_result(None)))
    )
    assert [f.kind for f in unnamed.flags] == ["unnamed"] and unnamed.resolved_model is None


def test_sum_cost_rounds_and_is_none_without_any_cost():
    calls = [_record(_result(MINI, cost=c)) for c in (0.1, 0.2, 0.000000004)]
    assert records.sum_cost(calls) == 0.30000000
    assert records.sum_cost([_record(_result("vendor/unknown", cost=None))]) is None
    assert records.sum_cost([]) is None


def _review(status: str = "ok") -> ReviewResult:
    return ReviewResult(
        reviewer_seat="s1",
        resolved_model=None,
        ranking=[],
        abstained=status != "ok",
        parse="none",
        status=status,
        error=None if status == "ok" else "boom",
    )


def _seat_with(status: str, sid: str = "s1") -> SeatResult:
    return SeatResult(
        seat_id=sid,
        requested_model=MINI,
        status=status,
        error=None if status == "ok" else "boom",
    )


@pytest.mark.parametrize(
    ("seats", "reviews", "chairman", "expected"),
    [
        (["ok", "ok"], ["ok"], "ok", "ok"),
        (["ok", "timeout"], ["ok"], "ok", "partial"),
        (["ok", "ok"], ["error"], "ok", "partial"),
        (["ok", "ok"], ["ok"], "error", "partial"),
        (["timeout", "error"], [], "error", "failed"),
    ],
)
def test_session_status(seats, reviews, chairman, expected):
    seat_results = [_seat_with(s, f"s{i}") for i, s in enumerate(seats, 1)]
    boss = ChairmanResult(requested_model=OPUS, status=chairman)
    assert records.session_status(seat_results, [_review(r) for r in reviews], boss) == expected


def test_failure_notices_name_every_failure_except_cancellations():
    seats = [_seat_with("ok", "s1"), _seat_with("timeout", "s2"), _seat_with("cancelled", "s3")]
    reviews = [_review("ok"), _review("error"), _review("cancelled")]
    boss = ChairmanResult(requested_model=OPUS, status="error", error="HTTP 502: down")
    assert records.failure_notices(seats, reviews, boss) == [
        f"s2 ({MINI}) failed: timeout: boom",
        "review by s1 failed: error: boom",
        f"chairman ({OPUS}) failed: error: HTTP 502: down",
    ]
    for status in ("ok", "cancelled"):
        quiet = ChairmanResult(requested_model=OPUS, status=status)
        assert records.failure_notices([], [], quiet) == []


def test_an_abstention_is_marked_abstained_with_its_reason():
    review = records.abstention("s2", "not asked", "cancelled")
    assert (review.reviewer_seat, review.abstained, review.ranking, review.parse) == (
        "s2",
        True,
        [],
        "none",
    )
    assert (review.status, review.error, review.resolved_model) == ("cancelled", "not asked", None)


# --- duplicates: applying flags -------------------------------------------------------------


def test_apply_flags_reaches_seats_after_an_unflagged_one_and_drift_alone_is_no_duplicate():
    seats = [_seat("s1", SONNET, SONNET), _seat("s2", MINI, MINI), _seat("s3", PARETO, MINI)]
    duplicates.apply_flags(seats, duplicates.stage1_flags(seats, load_registry()))
    assert [s.duplicate_of for s in seats] == [[], ["s3"], ["s2"]]
    drifted = _seat("s4", PARETO, KIMI)
    flag = duplicates.drift_flag(drifted, GROK)
    assert flag is not None
    duplicates.apply_flags([drifted], {"s4": [flag]})
    assert [f.kind for f in drifted.flags] == ["drift"]
    assert (drifted.duplicate_of, drifted.duplicate_kind) == ([], None)


# --- preflight: unknown ids, token estimate, context windows ---------------------------------


HAIKU = "anthropic/claude-haiku-4.5"  # the smallest window in the shipped registry: 200,000


def _plan(*models: str, chairman: str = OPUS) -> SessionPlan:
    seats = tuple(
        Seat(f"s{i}", m, None, None, m.partition(":")[2] or None, m.startswith(PARETO))
        for i, m in enumerate(models, 1)
    )
    return SessionPlan("balanced", "coding", seats, chairman, ())


def test_tokens_are_estimated_at_four_bytes_each_rounded_up():
    assert estimated_tokens("abcd" * 10) == 10
    assert estimated_tokens("abcde") == 2
    assert estimated_tokens("é") == 1  # two UTF-8 bytes


def test_unknown_ids_are_warned_with_where_they_were_looked_for():
    plan = _plan(MINI, "vendor/one", "vendor/two:nitro", chairman="vendor/three")
    unchecked = [f.message for f in preflight(plan, load_registry(), "hi")]
    assert unchecked == [
        f"{who}: {model!r} is in neither the registry (the gateway's model list was not "
        "checked); its calls will likely fail"
        for who, model in (
            ("s2", "vendor/one"),
            ("s3", "vendor/two:nitro"),
            ("chairman", "vendor/three"),
        )
    ]
    # Listed by the gateway (a variant suffix does not matter): real, only unpriced. The first
    # unknown being listed must not stop the check of the ones after it.
    listed = ["vendor/one", "vendor/two"]
    checked = [f.message for f in preflight(plan, load_registry(), "hi", listed_models=listed)]
    assert checked == [
        "chairman: 'vendor/three' is in neither the registry nor the gateway's model list; "
        "its calls will likely fail"
    ]


def test_the_prompt_is_refused_only_past_the_smallest_window_which_is_named():
    registry = load_registry()
    window = registry.get(HAIKU).context_length
    plan = _plan(OPUS, HAIKU)  # s1 has the larger window: the refusal must name s2
    assert preflight(plan, registry, "a" * (4 * window)) == []  # exactly full still fits
    refusals = preflight(plan, registry, "a" * (4 * window + 1))
    assert [f.level for f in refusals] == ["refusal"]
    assert f"of s2 ({HAIKU})" in refusals[0].message and f"{window:,}-token" in refusals[0].message


# --- verdict parsing --------------------------------------------------------------------------


def _verdict(body: dict) -> str:
    return "The answer.\n```json\n" + json.dumps({"verdict": body}) + "\n```\n"


def test_verdict_disagreements_skip_bad_entries_and_accept_seats_as_the_key():
    labels = {"Response A": "s1", "Response B": "s2"}
    body = {
        "disagreements": [
            "not an object",
            {"responses": {"Response A": "x"}},  # no point
            {"point": "  recursion  ", "seats": {"Response A": "yes", "B": "no"}},
            {"point": "style", "responses": ["Response A"]},
        ],
        "blind_spots": ["empty input", "", 3],
        "confidence": " Medium ",
    }
    parsed = parse_verdict(_verdict(body), labels)
    assert parsed.verdict is not None and parsed.synthesis == "The answer."
    assert [(d.point, d.seats) for d in parsed.verdict.disagreements] == [
        ("recursion", {"s1": "yes", "s2": "no"}),
        ("style", {}),
    ]
    assert parsed.verdict.blind_spots == ["empty input"]
    assert parsed.verdict.confidence == "medium"


@pytest.mark.parametrize(
    ("given", "kept"), [("LOW", "low"), ("high", "high"), ("very high", None), (3, None)]
)
def test_verdict_confidence_is_one_of_three_words(given, kept):
    parsed = parse_verdict(_verdict({"consensus": ["c"], "confidence": given}), {})
    assert parsed.verdict is not None and parsed.verdict.confidence == kept


# --- router metadata (docs: "Router Metadata"), Pareto routes --------------------------------


def test_router_metadata_fields_of_the_wrong_type_become_none():
    meta = parse_router_metadata(
        {
            "requested": 5,
            "strategy": ["pareto"],
            "summary": None,
            "generation_time": -3,
            "attempts": [
                {"model": "a/x", "status": 503},
                {"model": "a/y", "status": " 429 "},
                {"model": "a/z", "status": "busy"},
                {"model": 7, "status": True},
            ],
        }
    )
    assert meta is not None
    assert (meta.requested, meta.strategy, meta.summary, meta.generation_time_ms) == (
        None,
        None,
        None,
        None,
    )
    assert [(a.model, a.status) for a in meta.attempts] == [
        ("a/x", 503),
        ("a/y", 429),
        ("a/z", None),
        (None, None),
    ]
    assert [a.model for a in meta.failed_attempts] == ["a/x", "a/y"]
    assert parse_router_metadata({"generation_time": 0}).generation_time_ms == 0.0
    assert parse_router_metadata({"generation_time": 0.5}).generation_time_ms == 0.5


def test_a_route_keeps_its_requested_band_even_when_nothing_is_available():
    registry = load_registry()
    ok = route(registry, 0.5)
    assert (ok.requested_band, ok.band, ok.crossed_band) == ("medium", "medium", False)
    none = route(registry, 0.5, available=lambda _m: False)
    assert (none.requested_band, none.band, none.candidates, none.primary) == (
        "medium",
        "medium",
        (),
        None,
    )
    assert none.fallbacks == () and none.crossed_band is False


# --- Borda ties ------------------------------------------------------------------------------


def test_exact_borda_ties_break_by_votes_then_label_order_whatever_the_summation_order():
    from llm_council.council.ranking import borda

    ballots = [
        (["s1", "s2", "a", "b"], 4),
        (["s1", "s2", "a", "b"], 4),
        (["s2", "a", "s1", "b"], 4),
    ]
    # s1 scores 1, 1, 1/3 and s2 scores 2/3, 2/3, 1: both 7/9 over 3 votes, an exact tie, so
    # the label order decides; s2's label comes first.
    scores = borda(ballots, tie_order=["s2", "s1", "a", "b"])
    assert [s.seat_id for s in scores][:2] == ["s2", "s1"]


def test_the_variant_is_kept_on_a_failed_call_and_on_the_seat():
    err = RateLimitedError("slow down", http_status=429, attempts=3)
    assert _record(error=err).variant == "nitro"
    seat = Seat("s3", f"{PARETO}:nitro", 0.5, None, "nitro", True)
    out = records.Outcome(_result(MINI), None, _record(_result(MINI)))
    assert records.seat_result(seat, out).variant == "nitro"


def test_the_refusal_names_the_smallest_window_when_several_are_exceeded():
    registry = load_registry()
    opus = registry.get(OPUS).context_length
    assert registry.get(HAIKU).context_length < opus
    refusals = preflight(_plan(OPUS, HAIKU), registry, "a" * (4 * opus + 4))
    assert len(refusals) == 1 and f"of s2 ({HAIKU})" in refusals[0].message


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        ({"blind_spots": ["x"]}, False),  # a bare object needs one of the verdict's own keys
        ({"consensus": ["x"]}, True),
        ({"verdict": {"built_on": ["Response A"]}}, True),
        ({"verdict": {"confidence": "low"}}, True),
        ({"verdict": {"disagreements": [{"point": "p"}]}}, True),
        ({"verdict": {"consensus": [], "confidence": "bogus", "built_on": ["Z"]}}, False),
    ],
    ids=[
        "bare-other-key",
        "bare-consensus",
        "built-on-only",
        "confidence-only",
        "one-point",
        "empty",
    ],
)
def test_which_blocks_count_as_a_verdict(body, kept):
    text = "Answer.\n```json\n" + json.dumps(body) + "\n```"
    parsed = parse_verdict(text, {"Response A": "s1"})
    assert (parsed.verdict is not None) is kept
    assert (parsed.problem is None) is kept
