"""The sandbox speaks OpenRouter's wire format and applies the Pareto Router's rules."""

from __future__ import annotations

import json

import httpx
import pytest

from llm_council.pareto import rank_band
from llm_council.registry import load_registry
from llm_council.sandbox import Fault, SandboxOptions, create_app

REGISTRY = load_registry()
MSG = [{"role": "user", "content": "Write a Python function that merges two sorted lists."}]


def pareto(score=None, *, nitro=False, **extra):
    body = {"model": "openrouter/pareto-code" + (":nitro" if nitro else ""), "messages": MSG}
    if score is not None:
        body["plugins"] = [{"id": "pareto-router", "min_coding_score": score}]
    return {**body, **extra}


@pytest.fixture
def sandbox():
    app = create_app(REGISTRY, SandboxOptions(latency_ms=0))
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox/api/v1/"
    )
    yield app, client


async def post(client, body):
    return await client.post("chat/completions", json=body)


@pytest.mark.parametrize(
    ("score", "model"),
    [
        (0, "deepseek/deepseek-v4-flash"),
        (0.32, "deepseek/deepseek-v4-flash"),
        (0.33, "openai/gpt-5.4-mini"),
        (0.65, "openai/gpt-5.4-mini"),
        (0.66, "deepseek/deepseek-v4-pro"),
        (1, "deepseek/deepseek-v4-pro"),
        (None, "deepseek/deepseek-v4-pro"),
    ],
)
async def test_band_boundaries_pick_the_cheapest_member(sandbox, score, model):
    _, client = sandbox
    response = await post(client, pareto(score))
    assert response.status_code == 200
    assert response.json()["model"] == model


def test_cheapest_in_band_is_by_blended_price():
    for band in ("high", "medium", "low"):
        ranked = rank_band(REGISTRY, band, None)
        members = REGISTRY.band_members(band)
        # Computed apart from rank_band: every member, the cheapest first (id breaks ties).
        assert {m.id for m in ranked} == {m.id for m in members}
        cheapest = min(members, key=lambda m: (m.blended_per_mtok, m.id))
        assert ranked[0].id == cheapest.id


@pytest.mark.parametrize(
    ("score", "model"),
    [
        (0.9, "google/gemini-3.1-pro-preview"),
        (0.5, "x-ai/grok-4.3"),
        (0.1, "anthropic/claude-haiku-4.5"),
    ],
)
async def test_nitro_takes_the_fastest_member(sandbox, score, model):
    _, client = sandbox
    assert (await post(client, pareto(score, nitro=True))).json()["model"] == model


async def test_sibling_fallback_when_the_primary_fails(sandbox):
    app, client = sandbox
    app.set_fault("openai/gpt-5.4-mini", Fault(kind="status", status=502))
    body = (await post(client, pareto(0.5))).json()
    assert body["model"] == "moonshotai/kimi-k2.6"  # next cheapest in the medium band
    app.set_fault("moonshotai/kimi-k2.6", Fault(kind="error_body"))
    assert (await post(client, pareto(0.5))).json()["model"] == "x-ai/grok-4.3"
    app.set_fault("x-ai/grok-4.3", Fault(kind="status", status=503, message="third down"))
    failed = await post(client, pareto(0.5))  # primary + two fallbacks all failed
    assert failed.status_code == 503 and failed.json()["error"]["message"] == "third down"


async def test_neighbouring_band_only_when_the_whole_band_is_down(sandbox):
    app, client = sandbox
    for model in ("openai/gpt-5.4-mini", "moonshotai/kimi-k2.6", "x-ai/grok-4.3"):
        app.set_fault(model, Fault(kind="unavailable"))
    body = (await post(client, pareto(0.5))).json()
    assert body["model"] == "anthropic/claude-sonnet-4.6"  # the band still has a member
    app.set_band_outage("medium")
    body = (await post(client, pareto(0.5))).json()
    assert body["model"] == "deepseek/deepseek-v4-pro"  # stronger neighbour first
    app.set_band_outage("high")
    assert (await post(client, pareto(0.5))).json()["model"] == "deepseek/deepseek-v4-flash"


@pytest.mark.parametrize("score", [1.5, -0.1, "high", True])
async def test_bad_score_is_a_400(sandbox, score):
    _, client = sandbox
    response = await post(client, pareto(score))
    assert response.status_code == 400
    assert "min_coding_score" in response.json()["error"]["message"]
    assert response.json()["error"]["code"] == 400


async def test_session_stickiness_moves_and_models_are_only_fallbacks(sandbox):
    """Docs: "Prompt Caching" (Provider Sticky Routing), "Model Fallbacks"."""
    app, client = sandbox
    first = (await post(client, pareto(0.5, session_id="abc:s3"))).json()["model"]
    app.set_fault(first, Fault(kind="status", status=502, times=1))
    # The sticky model fails once, the router falls back within the band...
    moved = (await post(client, pareto(0.5, session_id="abc:s3"))).json()["model"]
    assert moved != first
    # ...and the session stays where it was last served (CHOICE, ADR-007: stickiness moves).
    assert (await post(client, pareto(0.5, session_id="abc:s3"))).json()["model"] == moved
    # `models` never pins: the router's pick answers while it works.
    chosen = await post(client, pareto(0.5, models=["x-ai/grok-4.3"]))
    assert chosen.json()["model"] == "openai/gpt-5.4-mini"


async def test_unknown_model_and_bad_requests(sandbox):
    _, client = sandbox
    unknown = await post(client, {"model": "nobody/nothing-1", "messages": MSG})
    assert (
        unknown.status_code == 400 and "not a valid model ID" in unknown.json()["error"]["message"]
    )
    bad = await client.post("chat/completions", content=b"{nope")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 400
    assert (await client.get("nowhere")).status_code == 404
    assert (await client.get("chat/completions")).status_code == 405
    assert (await post(client, {"model": "openai/gpt-5.4", "messages": []})).status_code == 400


async def test_models_endpoint_schema(sandbox):
    _, client = sandbox
    data = (await client.get("models")).json()["data"]
    by_id = {m["id"]: m for m in data}
    mini = by_id["openai/gpt-5.4-mini"]
    assert mini["pricing"] == {"prompt": "0.00000025", "completion": "0.000002"}
    assert mini["context_length"] == 400000 and mini["name"]
    assert "openrouter/pareto-code" in by_id
    assert all(isinstance(m["pricing"]["prompt"], str) for m in data)


async def test_completion_is_billed_at_the_concrete_models_price(sandbox):
    _, client = sandbox
    body = (await post(client, pareto(0.2))).json()
    usage = body["usage"]
    entry = REGISTRY.get(body["model"])
    assert usage["cost"] == pytest.approx(
        entry.cost_usd(usage["prompt_tokens"], usage["completion_tokens"])
    )
    assert body["id"].startswith("gen-") and body["provider"] == entry.provider
    assert body["choices"][0]["message"]["content"].startswith("_(sandbox answer from")


async def test_sse_stream_format(sandbox):
    _, client = sandbox
    async with client.stream("POST", "chat/completions", json=pareto(0.5, stream=True)) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line async for line in response.aiter_lines() if line]
    assert lines[0] == ": OPENROUTER PROCESSING"
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[1:-1]]
    assert all(c["model"] == "openai/gpt-5.4-mini" for c in chunks)
    assert (
        chunks[-1]["usage"]["completion_tokens"] > 0
        and chunks[-1]["choices"][0]["finish_reason"] == "stop"
    )
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "def merge_sorted" in text


async def test_request_log_keeps_exact_bodies(sandbox):
    app, client = sandbox
    body = pareto(0.8, session_id="x:s1")
    await post(client, body)
    assert list(app.requests) == [body]


def _review_prompt(answers):
    blocks = "\n\n".join(
        f'<candidate label="Response {chr(65 + i)}">\n{a}\n</candidate>'
        for i, a in enumerate(answers)
    )
    return [{"role": "user", "content": f"Rank these.\n\n{blocks}"}]


async def test_determinism_and_seed(sandbox):
    _, client = sandbox
    a = (await post(client, {"model": "z-ai/glm-5.1", "messages": MSG})).json()
    b = (await post(client, {"model": "z-ai/glm-5.1", "messages": MSG})).json()
    assert a["choices"][0]["message"]["content"] == b["choices"][0]["message"]["content"]
    other = create_app(REGISTRY, SandboxOptions(seed=7, latency_ms=0))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=other), base_url="http://s/api/v1/"
    ) as c2:
        texts = set()
        for model in ("z-ai/glm-5.1", "openai/gpt-5.5", "x-ai/grok-4.3"):
            seeded = (await post(c2, {"model": model, "messages": MSG})).json()
            plain = (await post(client, {"model": model, "messages": MSG})).json()
            texts.add(
                seeded["choices"][0]["message"]["content"]
                == plain["choices"][0]["message"]["content"]
            )
        assert False in texts  # another seed changes at least one answer


async def test_reviews_rank_every_label_and_favour_stronger_models(sandbox):
    _, client = sandbox
    strong, weak = "openai/gpt-5.5", "deepseek/deepseek-v4-flash"
    wins = 0
    for i in range(40):
        prompt = [{"role": "user", "content": f"Write code to merge lists, variant {i}."}]
        answers = [
            (await post(client, {"model": m, "messages": prompt})).json()["choices"][0]["message"][
                "content"
            ]
            for m in (weak, strong)
        ]
        review = await post(
            client, {"model": "anthropic/claude-sonnet-4.6", "messages": _review_prompt(answers)}
        )
        text = review.json()["choices"][0]["message"]["content"]
        ranking = json.loads(text.split("```json\n", 1)[1].split("\n```", 1)[0])["ranking"]
        assert sorted(ranking) == ["Response A", "Response B"]
        wins += ranking[0] == "Response B"
    assert wins >= 28, wins  # the stronger model wins clearly more often than chance (20/40)


async def test_latency_follows_model_speed_unless_fixed():
    import time

    async def timed(app, model):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://s/api/v1/"
        ) as c:
            t0 = time.perf_counter()
            await post(c, {"model": model, "messages": MSG})
            return time.perf_counter() - t0

    scaled = create_app(REGISTRY, SandboxOptions(latency_ms=60))
    fast, slow = (
        await timed(scaled, "x-ai/grok-4.3"),
        await timed(scaled, "deepseek/deepseek-v4-pro"),
    )
    assert slow > 2 * fast  # 45 tok/s vs 210 tok/s
    fixed = create_app(REGISTRY, SandboxOptions(latency_ms=60, scale_latency=False))
    assert (
        abs(await timed(fixed, "x-ai/grok-4.3") - await timed(fixed, "deepseek/deepseek-v4-pro"))
        < 0.03
    )


async def test_run_sync_inside_a_loop_is_a_clear_error(monkeypatch):
    from llm_council import Council

    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    council = Council.from_config(gateway="sandbox", audition=False)
    with pytest.raises(RuntimeError, match=r"await council\.run"):
        council.run_sync("Write code.")
    await council.aclose()
