"""Conformance with OpenRouter's public documentation, from both sides of the wire.

The shapes in ``tests/fixtures/openrouter/*.json`` are transcribed from the doc pages each
file names. They are asserted (a) against the sandbox served by uvicorn on 127.0.0.1, so
the simulated OpenRouter cannot drift from the documented one, and (b) as recorded
responses played by ``tests/scripted_openrouter.py`` to the real adapter, so the adapter
parses what OpenRouter documents and not merely what the sandbox happens to send. Where
the docs are silent the sandbox's behaviour is a choice recorded in
docs/adr/ADR-007-sandbox-choices.md, and the test says "CHOICE (ADR-007)".
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from llm_council.config import GatewaySettings
from llm_council.gateway.base import (
    AuthError,
    BadRequestError,
    CallTimeoutError,
    ChatMessage,
    CompletionRequest,
    GatewayError,
    PaymentRequiredError,
    ProviderError,
    RateLimitedError,
    RefusedError,
    UpstreamError,
)
from llm_council.gateway.openrouter import OpenRouterGateway
from llm_council.registry import load_registry
from llm_council.sandbox import Fault, SandboxApp, SandboxOptions, create_app
from tests.conftest import serve_asgi
from tests.scripted_openrouter import Reply, ScriptedServer

FIXTURES = Path(__file__).parent / "fixtures" / "openrouter"
REGISTRY = load_registry()
KEY = "sk-or-v1-conformance-key-0123456789"
PARETO = "openrouter/pareto-code"
MINI, KIMI, GROK, SONNET = (
    "openai/gpt-5.4-mini",
    "moonshotai/kimi-k2.6",
    "x-ai/grok-4.3",
    "anthropic/claude-sonnet-4.6",
)
MSG = [{"role": "user", "content": "Write a Python function that merges two sorted lists."}]
ON = {"X-OpenRouter-Metadata": "enabled"}


def doc(name: str) -> dict[str, Any]:
    """A fixture; every one names the doc page it was transcribed from."""
    data = json.loads((FIXTURES / name).read_text())
    assert data["source"]["page"] and data["source"]["url"].startswith("https://openrouter.ai/")
    return data


def conforms(actual: Any, documented: Any, path: str = "$") -> None:
    """``actual`` has every documented key, recursively, with the documented JSON type.

    Extra keys are allowed (OpenRouter's shapes are additive); a documented ``null`` allows
    any value (Nullable fields); numbers match numbers whether int or float.
    """
    if documented is None:
        return
    if isinstance(documented, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        for key, value in documented.items():
            assert key in actual, f"{path}: missing documented key {key!r}"
            conforms(actual[key], value, f"{path}.{key}")
    elif isinstance(documented, list):
        assert isinstance(actual, list), f"{path}: expected an array, got {actual!r}"
        for i, item in enumerate(actual):
            if documented:
                conforms(item, documented[0], f"{path}[{i}]")
    elif isinstance(documented, bool):
        assert isinstance(actual, bool), f"{path}: expected a boolean, got {actual!r}"
    elif isinstance(documented, int | float):
        assert isinstance(actual, int | float) and not isinstance(actual, bool), (
            f"{path}: expected a number, got {actual!r}"
        )
    else:
        assert isinstance(actual, type(documented)), f"{path}: expected a string, got {actual!r}"


def sse_lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line]


def data_events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in sse_lines(text) if line.startswith("data: {")]


# --- (a) the sandbox over a real socket -----------------------------------------------------


@pytest.fixture(scope="module")
def served_sandbox() -> Iterator[tuple[SandboxApp, str]]:
    app = create_app(REGISTRY, SandboxOptions(latency_ms=0, api_key=KEY))
    with serve_asgi(app) as url:
        yield app, f"{url}/api/v1"


@pytest.fixture
async def sandbox(
    served_sandbox: tuple[SandboxApp, str],
) -> AsyncIterator[tuple[SandboxApp, httpx.AsyncClient]]:
    app, url = served_sandbox
    app.clear_faults()
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=url + "/", headers=headers, timeout=10) as client:
        yield app, client
    app.clear_faults()


async def post(client: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await client.post("chat/completions", json=body, headers=headers)


async def test_pareto_request_gets_the_documented_response(sandbox: Any) -> None:
    """Docs: "Pareto Router" (Usage, Response) and "Usage Accounting" (Response Format)."""
    _, client = sandbox
    response = await post(client, doc("pareto_request.json")["request"])
    assert response.status_code == 200
    body = response.json()
    conforms(body, doc("pareto_response.json")["response"])
    # min_coding_score 0.8 is the high tier; `model` reports the concrete model, never the router.
    assert body["model"] in REGISTRY.pareto.shortlist["high"]
    usage = doc("usage_accounting.json")["usage"]
    # CHOICE (ADR-007): no cost_details (BYOK is not simulated); everything else is there.
    conforms(body["usage"], {k: v for k, v in usage.items() if k != "cost_details"})
    assert "openrouter_metadata" not in body  # not opted in


async def test_models_is_a_fallback_list_not_a_pin(sandbox: Any) -> None:
    """Docs: "Model Fallbacks" — tried in order after `model` returns an error; the response
    `model` is the model that was used and the request is priced at it."""
    app, client = sandbox
    both = doc("model_fallbacks.json")["requests"]["model_and_models"]
    assert (await post(client, both)).json()["model"] == SONNET  # `model` works: it answers
    pareto = {**doc("pareto_request.json")["request"], "models": [GROK]}
    assert (await post(client, pareto)).json()["model"] != GROK  # the router's pick answers
    app.set_fault(SONNET, Fault(kind="status", status=503))
    served = (await post(client, both)).json()
    assert served["model"] == GROK and served["provider"] == REGISTRY.provider_of(GROK)
    entry = REGISTRY.get(GROK)
    assert entry is not None
    usage = served["usage"]
    assert usage["cost"] == pytest.approx(
        entry.cost_usd(usage["prompt_tokens"], usage["completion_tokens"])
    )
    only = doc("model_fallbacks.json")["requests"]["models_only"]
    assert (await post(client, only)).json()["model"] == GROK  # first entry failed
    app.clear_faults()
    assert (await post(client, only)).json()["model"] == SONNET


@pytest.mark.parametrize(
    ("headers", "present"),
    [
        ({"X-OpenRouter-Metadata": "enabled"}, True),
        ({"X-OpenRouter-Metadata": "ENABLED"}, True),
        ({"X-OpenRouter-Experimental-Metadata": "Enabled"}, True),
        ({"X-OpenRouter-Metadata": "disabled"}, False),
        ({"X-OpenRouter-Metadata": "enable"}, False),
        ({"X-OpenRouter-Metadata": ""}, False),
        ({}, False),
    ],
)
async def test_router_metadata_only_when_opted_in(
    sandbox: Any, headers: dict[str, str], present: bool
) -> None:
    """Docs: "Router Metadata" (Accepted Values: `enabled`, case-insensitive; anything else,
    or no header, is disabled) and the SDK OpenRouterMetadata shape."""
    _, client = sandbox
    body = (await post(client, doc("pareto_request.json")["request"], **headers)).json()
    assert ("openrouter_metadata" in body) is present
    if present:
        metadata = body["openrouter_metadata"]
        # SDK OpenRouterMetadata: region is Nullable[str] (the sandbox has no region).
        conforms(metadata, {**doc("router_metadata.json")["direct"], "region": None})
        assert metadata["region"] is None or isinstance(metadata["region"], str)
        assert metadata["requested"] == PARETO and metadata["strategy"] == "pareto"
        assert metadata["attempt"] == 1 and metadata["attempts"] == [
            {"model": body["model"], "provider": body["provider"], "status": 200}
        ]
        selected = [e for e in metadata["endpoints"]["available"] if e["selected"]]
        assert selected == [
            {"model": body["model"], "provider": body["provider"], "selected": True}
        ]


async def test_a_failed_primary_is_recorded_in_router_metadata(sandbox: Any) -> None:
    """Docs: "Router Metadata" (what the router did, incl. retries against fallbacks) and
    "Pareto Router" (primary plus same-tier fallbacks). The documented fallback example
    fixture is matched field for field."""
    app, client = sandbox
    app.set_fault(MINI, Fault(kind="status", status=503, times=1))
    request = {
        **doc("pareto_request.json")["request"],
        "plugins": [{"id": "pareto-router", "min_coding_score": 0.5}],
    }
    body = (await post(client, request, **ON)).json()
    assert body["model"] == KIMI
    metadata = body["openrouter_metadata"]
    conforms(metadata, doc("router_metadata.json")["fallback"])
    assert metadata["attempts"] == [
        {"model": MINI, "provider": REGISTRY.provider_of(MINI), "status": 503},
        {"model": KIMI, "provider": REGISTRY.provider_of(KIMI), "status": 200},
    ]
    assert metadata["attempt"] == 2
    available = metadata["endpoints"]["available"]
    assert [e["model"] for e in available] == [MINI, KIMI, GROK]  # primary + two siblings
    assert [e["model"] for e in available if e["selected"]] == [KIMI]
    assert metadata["endpoints"]["total"] == len(REGISTRY.pareto.shortlist["medium"])
    assert isinstance(metadata["generation_time"], int) and metadata["is_byok"] is False


async def test_the_adapter_reads_the_sandboxs_failed_attempt(
    served_sandbox: tuple[SandboxApp, str],
) -> None:
    """Docs: "Router Metadata" — end to end: OpenRouterGateway sends the opt-in headers on a
    Pareto call and parses the failed attempt, the candidates and the selected model."""
    app, url = served_sandbox
    app.clear_faults()
    app.set_fault(MINI, Fault(kind="status", status=502, times=1))
    gateway = OpenRouterGateway(GatewaySettings(max_attempts=1), api_key=KEY, base_url=url)
    async with gateway:
        for stream in (False, True):
            if stream:
                app.set_fault(MINI, Fault(kind="status", status=502, times=1))
            result = await gateway.complete(
                CompletionRequest(
                    model=PARETO,
                    messages=(ChatMessage(role="user", content=MSG[0]["content"]),),
                    tier="balanced",
                    stream=stream,
                )
            )
            assert result.resolved_model == KIMI and result.attempts == 1
            router = result.router
            assert router is not None and router.requested == PARETO
            assert router.strategy == "pareto" and router.selected == KIMI
            assert [a.model for a in router.failed_attempts] == [MINI]
            assert router.failed_attempts[0].status == 502
            assert [c.model for c in router.candidates] == [MINI, KIMI, GROK]
    app.clear_faults()


async def test_stream_framing_and_metadata_on_the_last_chunk(sandbox: Any) -> None:
    """Docs: "API Streaming" (`: OPENROUTER PROCESSING` comments, data events, [DONE]),
    "Usage Accounting" (usage in the last SSE message) and "Router Metadata" (on the final
    chunk before `data: [DONE]`)."""
    _, client = sandbox
    request = {**doc("pareto_request.json")["request"], "stream": True}
    for headers, present in ((ON, True), ({}, False)):
        response = await post(client, request, **headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = sse_lines(response.text)
        assert lines[0] == ": OPENROUTER PROCESSING" and lines[-1] == "data: [DONE]"
        assert all(line.startswith((":", "data: ")) for line in lines)
        chunks = data_events(response.text)
        first, middle, last = documented_chunks()
        conforms(chunks[0], first)
        for chunk in chunks[1:-1]:
            conforms(chunk, middle)
        for chunk in chunks[:-1]:
            assert "usage" not in chunk and "openrouter_metadata" not in chunk
        final = chunks[-1]
        conforms(final, {k: v for k, v in last.items() if k != "openrouter_metadata"})
        assert final["choices"][0]["finish_reason"] == "stop"
        assert ("openrouter_metadata" in final) is present
        if present:
            conforms(final["openrouter_metadata"], last["openrouter_metadata"])


def documented_chunks() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The documented stream's first chunk (with the role), a content chunk, the final one."""
    lines = doc("stream_success.json")["lines"]
    chunks = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
    return chunks[0], chunks[1], chunks[-1]


async def test_errors_have_the_documented_shape_and_status(sandbox: Any) -> None:
    """Docs: "Errors and Debugging" — HTTP status == error.code, {code, message, metadata?};
    Retry-After on 429 and 503; no router metadata on errors (Router Metadata: successful
    responses only)."""
    app, client = sandbox
    documented = doc("errors.json")
    request = doc("pareto_request.json")["request"]
    named = {"model": SONNET, "messages": MSG}
    cases: list[tuple[int, httpx.Response]] = []
    bad = {**request, "plugins": [{"id": "pareto-router", "min_coding_score": 1.5}]}
    cases.append((400, await post(client, bad, **ON)))
    cases.append(
        (
            401,
            await client.post(
                "chat/completions",
                json=named,
                headers={"Authorization": "Bearer sk-or-v1-wrong-000"},
            ),
        )
    )
    for status in (402, 403, 408, 429, 502):
        app.set_fault(SONNET, Fault(kind="status", status=status, retry_after=3))
        cases.append((status, await post(client, named, **ON)))
    app.clear_faults()
    app.set_band_outage("medium")
    cases.append((503, await post(client, named, **ON)))  # no provider meets the requirements
    assert sorted(c["status"] for c in documented["cases"]) == [s for s, _ in cases]
    for status, response in cases:
        assert response.status_code == status
        body = response.json()
        conforms(body, documented["shape"])
        assert body["error"]["code"] == status and body["error"]["message"]
        assert set(body) == {"error"} and "openrouter_metadata" not in response.text
        if status == 429:
            assert response.headers["retry-after"] == "3"
    assert KEY not in "".join(r.text for _, r in cases)


async def test_errors_after_processing_started_come_in_a_200(sandbox: Any) -> None:
    """Docs: "Errors and Debugging" (200 and the error in the body once the model started)
    and "API Streaming" (Handling Errors During Streaming: a data event with `error` and
    finish_reason "error", no [DONE])."""
    app, client = sandbox
    named = {"model": SONNET, "messages": MSG}
    app.set_fault(SONNET, Fault(kind="error_body", status=502))
    in_body = await post(client, named)
    assert in_body.status_code == 200
    conforms(in_body.json(), doc("errors.json")["in_body_error"]["body"])
    app.set_fault(SONNET, Fault(kind="stream_error", message="Provider disconnected"))
    streamed = await post(client, {**named, "stream": True})
    assert streamed.status_code == 200 and "data: [DONE]" not in streamed.text
    last = data_events(streamed.text)[-1]
    documented = doc("stream_midstream_error.json")["error_event"]
    # CHOICE (ADR-007): the sandbox's mid-stream error code is numeric; the page's example
    # shows a string code, and the adapter accepts both (see the scripted test below).
    conforms(last, {**documented, "error": {"message": "text"}})
    assert isinstance(last["error"]["code"], int | str)
    assert last["choices"][0]["finish_reason"] == "error"


# --- (b) documented responses played to the adapter ----------------------------------------


@pytest.fixture(scope="module")
def scripted() -> Iterator[tuple[ScriptedServer, str]]:
    server = ScriptedServer()
    with serve_asgi(server) as url:
        yield server, f"{url}/api/v1"


@pytest.fixture
async def play(scripted: tuple[ScriptedServer, str]) -> AsyncIterator[Any]:
    """``await play(*replies, model=..., stream=...)`` -> the adapter's result for one call."""
    server, url = scripted
    gateway = OpenRouterGateway(GatewaySettings(max_attempts=1), api_key=KEY, base_url=url)

    async def call(*replies: Reply, model: str = PARETO, stream: bool = False) -> Any:
        server.reset(*replies)
        request = CompletionRequest(
            model=model,
            messages=(ChatMessage(role="user", content=MSG[0]["content"]),),
            tier="high",
            stream=stream,
        )
        return await gateway.complete(request)

    yield call
    await gateway.aclose()


async def test_adapter_parses_the_documented_pareto_response(play: Any) -> None:
    """Docs: "Pareto Router" (Response: `model` names the concrete model)."""
    response = doc("pareto_response.json")["response"]
    result = await play(Reply(body=response))
    assert result.resolved_model == "anthropic/claude-opus-4.7"
    assert result.generation_id == response["id"] and result.content == "def merge(a, b): ..."
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (42, 128)
    assert result.usage.cost_usd is None and result.router is None


async def test_adapter_reads_the_documented_usage_cost_and_provider(play: Any) -> None:
    """Docs: "Usage Accounting" (usage.cost and its details in every response)."""
    response = {
        **doc("pareto_response.json")["response"],
        "provider": "Anthropic",
        "usage": doc("usage_accounting.json")["usage"],
    }
    result = await play(Reply(body=response))
    assert result.usage.cost_usd == 0.95 and result.provider == "Anthropic"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (194, 2)


@pytest.mark.parametrize("example", ["direct", "fallback"])
async def test_adapter_parses_the_documented_router_metadata(play: Any, example: str) -> None:
    """Docs: "Router Metadata" and SDK OpenRouterMetadata / RouterAttempt."""
    metadata = doc("router_metadata.json")[example]
    response = {**doc("pareto_response.json")["response"], "openrouter_metadata": metadata}
    result = await play(Reply(body=response))
    router = result.router
    assert router is not None and router.raw == metadata
    assert router.requested == metadata["requested"] and router.strategy == metadata["strategy"]
    assert router.summary == metadata["summary"]
    assert [c.model for c in router.candidates] == [
        e["model"] for e in metadata["endpoints"]["available"]
    ]
    assert router.selected == next(
        e["model"] for e in metadata["endpoints"]["available"] if e["selected"]
    )
    if example == "fallback":
        assert [(a.model, a.status) for a in router.failed_attempts] == [(MINI, 503)]
        assert router.generation_time_ms == 2016.0
    else:
        assert router.attempts == () and router.generation_time_ms is None


async def test_adapter_sends_the_documented_opt_in_headers(
    play: Any, scripted: tuple[ScriptedServer, str]
) -> None:
    """Docs: "Router Metadata" (Enabling Router Metadata: the header with value `enabled`)."""
    await play(Reply(body=doc("pareto_response.json")["response"]))
    headers = scripted[0].log[-1]["headers"]
    documented = doc("router_metadata.json")
    for name in documented["opt_in_headers"]:
        assert headers[name.lower()] == documented["enabled_value"]


ERROR_CLASSES: dict[int, type[GatewayError]] = {
    400: BadRequestError,
    401: AuthError,
    402: PaymentRequiredError,
    403: RefusedError,
    408: CallTimeoutError,
    429: RateLimitedError,
    502: UpstreamError,
    503: UpstreamError,
}


@pytest.mark.parametrize("case", doc("errors.json")["cases"], ids=lambda c: str(c["status"]))
async def test_adapter_maps_each_documented_error(play: Any, case: dict[str, Any]) -> None:
    """Docs: "Errors and Debugging" (Error Codes, Moderation Errors, Retry-After)."""
    reply = Reply(status=case["status"], body=case["body"], headers=case.get("headers", {}))
    with pytest.raises(GatewayError) as info:
        await play(reply)
    error = info.value
    assert type(error) is ERROR_CLASSES[case["status"]]
    assert error.http_status == case["status"] and error.code == case["status"]
    assert error.metadata == case["body"]["error"].get("metadata", {})
    assert case["body"]["error"]["message"] in error.message
    if "Retry-After" in case.get("headers", {}):
        assert error.retry_after == float(case["headers"]["Retry-After"])
    if case["status"] == 403:  # the moderation reasons reach the seat's error text
        assert "violence" in error.message


async def test_adapter_maps_a_documented_error_in_a_200(play: Any) -> None:
    """Docs: "Errors and Debugging" (errors while producing output: HTTP 200, in the body)."""
    with pytest.raises(ProviderError) as info:
        await play(Reply(body=doc("errors.json")["in_body_error"]["body"]))
    assert info.value.code == 502 and "OpenAI" in info.value.message


async def test_adapter_assembles_the_documented_stream(play: Any) -> None:
    """Docs: "API Streaming", "Usage Accounting" (usage on the last message), "Router
    Metadata" (metadata on the final chunk before [DONE])."""
    documented = doc("stream_success.json")
    result = await play(Reply(sse=documented["lines"]), stream=True)
    expected = documented["expected"]
    assert result.content == expected["content"] and result.resolved_model == expected["model"]
    assert result.finish_reason == expected["finish_reason"] and result.provider == "Moonshot AI"
    assert result.usage.cost_usd == 0.95 and result.usage.completion_tokens == 2
    assert result.router is not None and result.router.selected == KIMI
    assert [a.model for a in result.router.failed_attempts] == [MINI]


async def test_adapter_raises_the_documented_mid_stream_error(play: Any) -> None:
    """Docs: "API Streaming" (Handling Errors During Streaming: string error code, 200)."""
    documented = doc("stream_midstream_error.json")
    with pytest.raises(ProviderError) as info:
        await play(Reply(sse=documented["lines"]), model="openai/gpt-5.4", stream=True)
    assert info.value.code == "server_error"
    assert documented["error_event"]["error"]["message"] in info.value.message
