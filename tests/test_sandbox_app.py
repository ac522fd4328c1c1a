"""The sandbox's wire format (OpenRouter's), its synthetic answers and its request log."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from llm_council.council.prompts import (
    Candidate,
    answer_messages,
    chairman_messages,
    review_messages,
    stage_label,
)
from llm_council.registry import load_registry
from llm_council.sandbox import Fault, SandboxApp, SandboxOptions, create_app

REGISTRY = load_registry()
PROMPT = "Write a Python function that merges two sorted lists."
MSG = [{"role": "user", "content": PROMPT}]
BANNER = re.compile(r"^_\(sandbox answer from (\S+); simulated, not a real model\)_\n")


def coding(prompt: str = PROMPT) -> list[dict[str, str]]:
    return [m.model_dump() for m in answer_messages(prompt, "coding")]


def content_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


def ranking_of(text: str) -> list[str]:
    block = re.search(r"```json\n(.*?)\n```", text, re.DOTALL)
    assert block, text
    return json.loads(block.group(1))["ranking"]


@pytest.fixture
async def make() -> AsyncIterator[Any]:
    """``await make(**options)`` -> (app, client) on a fresh sandbox; clients closed after."""
    clients: list[httpx.AsyncClient] = []

    async def build(**options: Any) -> tuple[SandboxApp, httpx.AsyncClient]:
        app = create_app(REGISTRY, SandboxOptions(**{"latency_ms": 0, **options}))
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sandbox/api/v1/"
        )
        clients.append(client)
        return app, client

    yield build
    for client in clients:
        await client.aclose()


async def complete(client: httpx.AsyncClient, model: str, messages: Any, **extra: Any) -> str:
    return content_of(
        await client.post("chat/completions", json={"model": model, "messages": messages, **extra})
    )


# --- /models -----------------------------------------------------------------------------


async def test_models_endpoint_schema(make: Any) -> None:
    _, client = await make()
    response = await client.get("models")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    data = response.json()["data"]
    by_id = {m["id"]: m for m in data}
    assert set(by_id) == {m.id for m in REGISTRY.models} | {"openrouter/pareto-code"}
    for row in data:
        assert {"id", "name", "created", "description", "context_length", "pricing"} <= set(row)
        assert isinstance(row["created"], int) and isinstance(row["architecture"], dict)
        assert all(isinstance(v, str) for v in row["pricing"].values())
    assert by_id["openai/gpt-5.4-mini"]["pricing"] == {
        "prompt": "0.00000025",
        "completion": "0.000002",
    }
    for entry in REGISTRY.models:  # USD per token, exactly the registry's per-million price
        pricing = by_id[entry.id]["pricing"]
        assert float(pricing["prompt"]) * 1e6 == pytest.approx(entry.prompt_per_mtok)
        assert float(pricing["completion"]) * 1e6 == pytest.approx(entry.completion_per_mtok)
        assert by_id[entry.id]["context_length"] == entry.context_length
    assert by_id["openrouter/pareto-code"]["pricing"] == {"prompt": "0", "completion": "0"}


# --- errors ------------------------------------------------------------------------------


async def test_errors_have_openrouters_shape(make: Any) -> None:
    _, client = await make()
    cases = [
        (await client.get("nowhere"), 404),
        (await client.post("chat/completion", json={}), 404),
        (await client.get("chat/completions"), 405),
        (await client.post("models"), 405),
        (await client.post("chat/completions", content=b"{nope"), 400),
        (await client.post("chat/completions", json=[1, 2]), 400),
        (await client.post("chat/completions", json={"model": "openai/gpt-5.4"}), 400),
        (await client.post("chat/completions", json={"messages": MSG}), 400),
        (await client.post("chat/completions", json={"model": "no/such", "messages": MSG}), 400),
        (
            await client.post(
                "chat/completions", json={"model": "openai/gpt-5.4", "messages": MSG, "stream": 1}
            ),
            400,
        ),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert error["code"] == status and isinstance(error["message"], str) and error["message"]
        assert isinstance(error["metadata"], dict)
    assert cases[2][0].headers["allow"] == "POST"


async def test_api_key_is_enforced_without_echoing_it(make: Any) -> None:
    key, wrong = "sk-or-sandbox-1", "sk-or-wrong-2"
    app, client = await make(api_key=key)
    body = {"model": "openai/gpt-5.4", "messages": MSG}
    missing = await client.post("chat/completions", json=body)
    bad = await client.post(
        "chat/completions", json=body, headers={"authorization": f"Bearer {wrong}"}
    )
    good = await client.post(
        "chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
    )
    models = await client.get("models", headers={"authorization": f"Bearer {wrong}"})
    for response in (missing, bad, models):
        assert response.status_code == 401 and response.json()["error"]["code"] == 401
        assert wrong not in response.text and key not in response.text
    assert good.status_code == 200
    assert key not in repr(app.options) and key not in repr(app)


# --- completions -------------------------------------------------------------------------


async def test_completion_shape_and_billing(make: Any) -> None:
    _, client = await make()
    response = await client.post(
        "chat/completions",
        json={
            "model": "openrouter/pareto-code",
            "messages": MSG,
            "plugins": [{"id": "pareto-router", "min_coding_score": 0.2}],
        },
    )
    body = response.json()
    assert re.fullmatch(r"gen-[0-9a-f]+", body["id"]) and body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    entry = REGISTRY.get(body["model"])
    assert entry is not None and body["provider"] == entry.provider
    choice = body["choices"][0]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    usage = body["usage"]
    assert usage["prompt_tokens"] == len(PROMPT) // 4
    assert usage["completion_tokens"] == max(1, len(choice["message"]["content"]) // 4)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["cost"] == pytest.approx(
        entry.cost_usd(usage["prompt_tokens"], usage["completion_tokens"])
    )


async def test_max_tokens_cuts_the_answer_with_finish_reason_length(make: Any) -> None:
    _, client = await make()
    response = await client.post(
        "chat/completions", json={"model": "openai/gpt-5.4", "messages": MSG, "max_tokens": 10}
    )
    body = response.json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] <= 10


async def test_sse_stream_format(make: Any) -> None:
    _, client = await make()
    body = {"model": "openai/gpt-5.4", "messages": coding(), "stream": True}
    response = await client.post("chat/completions", json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    text = response.text
    events = text.split("\n\n")
    assert events[-1] == ""  # every event ends with a blank line
    events = events[:-1]
    assert events[0] == ": OPENROUTER PROCESSING"
    assert events[-1] == "data: [DONE]"
    assert all(e.startswith("data: ") and "\n" not in e for e in events[1:])
    chunks = [json.loads(e[6:]) for e in events[1:-1]]
    assert len(chunks) > 2
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert all(c["model"] == "openai/gpt-5.4" for c in chunks)
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    final = chunks[-1]
    assert final["choices"][0]["finish_reason"] == "stop" and final["usage"]["total_tokens"] > 0
    streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    plain = await complete(client, "openai/gpt-5.4", coding())
    assert streamed == plain


async def test_fault_responses_on_the_wire(make: Any) -> None:
    app, client = await make()
    model = "openai/gpt-5.4"
    body = {"model": model, "messages": MSG}
    app.set_fault(model, Fault(kind="status", status=429, retry_after=1.5))
    limited = await client.post("chat/completions", json=body)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "1.5"
    app.set_fault(model, Fault(kind="error_body", message="provider fell over"))
    in_200 = await client.post("chat/completions", json=body)
    assert in_200.status_code == 200 and in_200.json()["error"]["message"] == "provider fell over"
    app.set_fault(model, Fault(kind="truncated"))
    cut = await client.post("chat/completions", json=body)
    assert cut.status_code == 200 and cut.content.startswith(b'{"id": "gen-')
    with pytest.raises(ValueError):
        cut.json()
    app.set_fault(model, Fault(kind="stream_error", message="mid-stream"))
    assert (await client.post("chat/completions", json=body)).json()["error"]["code"] == 503
    broken = await client.post("chat/completions", json={**body, "stream": True})
    events = [e for e in broken.text.split("\n\n") if e]
    assert events[0] == ": OPENROUTER PROCESSING" and "data: [DONE]" not in events
    first, last = json.loads(events[1][6:]), json.loads(events[-1][6:])
    assert first["choices"][0]["delta"]["content"]
    assert last["error"]["message"] == "mid-stream"
    assert last["choices"][0]["finish_reason"] == "error"


async def test_hang_never_answers_and_times_limit_a_fault(make: Any) -> None:
    app, client = await make()
    body = {"model": "openai/gpt-5.4", "messages": MSG}
    app.set_fault("openai/gpt-5.4", Fault(kind="hang", times=1))
    t0 = time.perf_counter()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await client.post("chat/completions", json=body)
    assert time.perf_counter() - t0 < 1
    assert (await client.post("chat/completions", json=body)).status_code == 200


async def test_request_log_keeps_every_json_body_in_order(make: Any) -> None:
    app, client = await make()
    bodies = [
        {"model": "openrouter/pareto-code", "messages": MSG, "session_id": "x:s1"},
        {"model": "nobody/nothing-1", "messages": MSG},  # refused, still received
        {"model": "openai/gpt-5.4", "messages": MSG, "stream": True},
    ]
    for body in bodies:
        await client.post("chat/completions", json=body)
    await client.post("chat/completions", content=b"{not json")
    await client.get("models")
    assert list(app.requests) == bodies


async def test_request_log_is_bounded_to_the_newest_bodies(make: Any) -> None:
    """Issue #16: a long-running sandbox must not keep every prompt it was sent."""
    app, client = await make(request_log=3)
    bodies = [{"model": "openai/gpt-5.4", "messages": MSG, "max_tokens": n} for n in range(1, 9)]
    for body in bodies:
        await client.post("chat/completions", json=body)
    assert list(app.requests) == bodies[-3:]
    quiet, client = await make(request_log=0)
    assert (await client.post("chat/completions", json=bodies[0])).status_code == 200
    assert len(quiet.requests) == 0
    default, client = await make()
    assert default.requests.maxlen == 1000
    with pytest.raises(ValueError, match="request_log"):
        SandboxOptions(request_log=-1)
    with pytest.raises(ValueError, match="sticky"):
        SandboxOptions(sticky_ttl_s=0)


async def test_latency_is_per_model_and_zero_means_no_wait(make: Any) -> None:
    _, client = await make(per_model_latency_ms={"openai/gpt-5.4": 150})
    t0 = time.perf_counter()
    await complete(client, "openai/gpt-5.4", MSG)
    slow = time.perf_counter() - t0
    t0 = time.perf_counter()
    await complete(client, "x-ai/grok-4.3", MSG)
    fast = time.perf_counter() - t0
    assert slow >= 0.15 and fast < 0.1


async def test_latency_follows_throughput_unless_fixed(make: Any) -> None:
    async def took(client: httpx.AsyncClient, model: str) -> float:
        t0 = time.perf_counter()
        await complete(client, model, MSG)
        return time.perf_counter() - t0

    # latency_ms is a median-speed model's; grok-4.3 runs at 210 tok/s, deepseek-v4-pro at 45.
    _, scaled = await make(latency_ms=60)
    fast, slow = await took(scaled, "x-ai/grok-4.3"), await took(scaled, "deepseek/deepseek-v4-pro")
    assert slow > 2 * fast
    _, fixed = await make(latency_ms=60, scale_latency=False)
    fast, slow = await took(fixed, "x-ai/grok-4.3"), await took(fixed, "deepseek/deepseek-v4-pro")
    assert fast >= 0.06 and slow >= 0.06 and abs(slow - fast) < 0.03


# --- synthetic answers -------------------------------------------------------------------


async def test_every_answer_is_labelled_simulated(make: Any) -> None:
    _, client = await make()
    for model in ("openai/gpt-5.4", "z-ai/glm-5.1"):
        text = await complete(client, model, coding())
        match = BANNER.match(text)
        assert match and match.group(1) == model


@pytest.mark.parametrize(
    "prompt",
    [
        PROMPT,
        "Implement binary search over a sorted list.",
        "Write a function that checks whether a string is a palindrome.",
        "Refactor this code to remove duplicates from a list.",
    ],
)
async def test_coding_answers_carry_code_whose_tests_pass(make: Any, prompt: str) -> None:
    _, client = await make()
    for model in ("openai/gpt-5.5", "deepseek/deepseek-v4-flash"):
        text = await complete(client, model, coding(prompt))
        code = re.search(r"```python\n(.*?)```", text, re.DOTALL)
        assert code and "assert " in code.group(1)
        exec(compile(code.group(1), f"<{model}>", "exec"), {})  # the asserts hold


async def test_stronger_models_write_more_tests_and_edge_cases(make: Any) -> None:
    _, client = await make()
    totals = {}
    for model in ("openai/gpt-5.5", "deepseek/deepseek-v4-flash"):
        texts = [await complete(client, model, coding(f"{PROMPT} ({i})")) for i in range(10)]
        totals[model] = sum(t.count("assert ") + t.count("Edge case:") for t in texts)
    assert totals["openai/gpt-5.5"] > 1.3 * totals["deepseek/deepseek-v4-flash"]


async def test_general_prompt_gets_prose(make: Any) -> None:
    _, client = await make()
    general = [m.model_dump() for m in answer_messages("Explain the CAP theorem.", "general")]
    text = await complete(client, "openai/gpt-5.4", general)
    assert BANNER.match(text) and "```" not in text and text.count("\n\n") >= 2


def _review(prompt: str, texts: list[str]) -> list[dict[str, str]]:
    candidates = [Candidate(stage_label(i), t) for i, t in enumerate(texts)]
    return [m.model_dump() for m in review_messages(prompt, candidates)]


async def test_review_ranks_every_label_in_parseable_json(make: Any) -> None:
    _, client = await make()
    texts = [await complete(client, "z-ai/glm-5.1", coding(f"{PROMPT} {i}")) for i in range(28)]
    text = await complete(client, "openai/gpt-5.4", _review(PROMPT, texts))
    assert BANNER.match(text)
    ranking = ranking_of(text)
    assert sorted(ranking) == sorted(stage_label(i) for i in range(28))  # ... Z, AA, AB
    assert "Response AB" in ranking


async def test_same_seed_same_output_other_seed_differs(make: Any) -> None:
    runs: list[list[str]] = []
    for seed in (3, 3, 4):
        _, client = await make(seed=seed)
        answers = [
            await complete(client, m, coding())
            for m in ("openai/gpt-5.5", "z-ai/glm-5.1", "x-ai/grok-4.3")
        ]
        review = await complete(client, "anthropic/claude-haiku-4.5", _review(PROMPT, answers))
        runs.append([*answers, json.dumps(ranking_of(review))])
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


async def _strong_first_rate(
    client: httpx.AsyncClient, reviewer: str, strong: str, weak: str
) -> int:
    """Reviews of 40 candidate sets; how often the stronger model's answer is ranked first."""
    wins = 0
    for i in range(40):
        prompt = f"{PROMPT} Variant {i}."
        answers = {m: await complete(client, m, coding(prompt)) for m in (strong, weak)}
        # Alternate positions so a label or an order can never carry the signal.
        order = [strong, weak] if i % 2 else [weak, strong]
        review = await complete(client, reviewer, _review(prompt, [answers[m] for m in order]))
        wins += ranking_of(review)[0] == stage_label(order.index(strong))
    return wins


async def test_stronger_models_win_reviews_by_a_real_margin(make: Any) -> None:
    _, client = await make()
    strong, weak = "openai/gpt-5.5", "deepseek/deepseek-v4-flash"  # coding 0.97 vs 0.55
    sharp = await _strong_first_rate(client, "anthropic/claude-sonnet-4.6", strong, weak)
    assert sharp >= 32, sharp  # chance would be 20 of 40
    # Close scores (0.78 vs 0.62) still separate, a little less clearly.
    close = await _strong_first_rate(
        client, "anthropic/claude-sonnet-4.6", "openai/gpt-5.4-mini", "z-ai/glm-5.1"
    )
    assert 24 <= close <= sharp, close


async def test_reviews_read_the_text_not_the_label(make: Any) -> None:
    _, client = await make()
    rich = await complete(client, "openai/gpt-5.5", coding())
    poor = BANNER.sub("", rich).split("```python")[0] + "No tests.\n"
    for texts, best in (([rich, poor], "Response A"), ([poor, rich], "Response B")):
        review = await complete(client, "openai/gpt-5.5", _review(PROMPT, texts))
        assert ranking_of(review)[0] == best


async def test_chairman_builds_on_the_top_ranked_answer(make: Any) -> None:
    _, client = await make()
    answers = [await complete(client, m, coding()) for m in ("z-ai/glm-5.1", "openai/gpt-5.5")]
    candidates = [Candidate(stage_label(i), t) for i, t in enumerate(answers)]
    messages = [
        m.model_dump()
        for m in chairman_messages(
            PROMPT, "coding", candidates, [("Response B", 1.0), ("Response A", 0.0)]
        )
    ]
    text = await complete(client, "anthropic/claude-opus-4.6", messages)
    assert BANNER.match(text) and "## Final answer" in text and "**Response B**" in text
    assert text.rstrip().endswith("```")
    final_code = re.findall(r"```python\n(.*?)```", text, re.DOTALL)[-1]
    assert final_code.strip() in answers[1]  # the top answer's code carried over
