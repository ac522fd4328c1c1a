"""The sandbox's Pareto Router: bands, in-band order, fallbacks, outages, stickiness, plugin.

``models`` is OpenRouter's fallback list after ``model`` (docs: "Model Fallbacks"), never a
pin; the Pareto rules are the docs' ("Pareto Router"): a tier by score, the cheapest
available member, up to two same-tier fallbacks, a neighbouring tier only when the whole
tier is unavailable.

Driven through the ASGI app over HTTP, the way the gateway sees it. Band membership and
prices come from the shipped registry (models/registry.yaml); blended price is
(3 * prompt + completion) / 4 per million tokens:
  high    deepseek-v4-pro 1.05 < gemini-3.1-pro 4.5 < gpt-5.5 4.81 < opus-4.7 10
  medium  gpt-5.4-mini 0.69 < kimi-k2.6 1.08 < grok-4.3 2.19 < claude-sonnet-4.6 6
  low     deepseek-v4-flash 0.18 < mimo-v2.5-pro 0.53 < glm-5.1 0.79 < haiku-4.5 2 < qwen 2.4
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_council.registry import Registry, load_registry
from llm_council.sandbox import Fault, SandboxApp, SandboxOptions, create_app

REGISTRY = load_registry()
MSG = [{"role": "user", "content": "Write a Python function that merges two sorted lists."}]
MINI, KIMI, GROK, SONNET = (
    "openai/gpt-5.4-mini",
    "moonshotai/kimi-k2.6",
    "x-ai/grok-4.3",
    "anthropic/claude-sonnet-4.6",
)
HIGH_CHEAPEST, LOW_CHEAPEST = "deepseek/deepseek-v4-pro", "deepseek/deepseek-v4-flash"


def pareto(score: Any = None, *, nitro: bool = False, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "openrouter/pareto-code" + (":nitro" if nitro else ""),
        "messages": MSG,
    }
    if score is not None:
        body["plugins"] = [{"id": "pareto-router", "min_coding_score": score}]
    return {**body, **extra}


class Sandbox:
    """An app plus a client on it; ``model(body)`` posts and returns the answering model."""

    def __init__(self, app: SandboxApp, client: httpx.AsyncClient) -> None:
        self.app, self.client = app, client

    async def post(self, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post("chat/completions", json=body)

    async def model(self, body: dict[str, Any]) -> str:
        response = await self.post(body)
        assert response.status_code == 200, response.text
        return response.json()["model"]


async def _sandbox(
    registry: Registry = REGISTRY, app: SandboxApp | None = None
) -> AsyncIterator[Sandbox]:
    app = app or create_app(registry, SandboxOptions(latency_ms=0))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox/api/v1/") as c:
        yield Sandbox(app, c)


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    async for sandbox in _sandbox():
        yield sandbox


@pytest.mark.parametrize(
    ("score", "model"),
    [
        (0, LOW_CHEAPEST),
        (0.32, LOW_CHEAPEST),
        (0.33, MINI),
        (0.65, MINI),
        (0.66, HIGH_CHEAPEST),
        (1, HIGH_CHEAPEST),
        (None, HIGH_CHEAPEST),  # plugin omitted: the high band
    ],
)
async def test_band_boundaries(sb: Sandbox, score: float | None, model: str) -> None:
    assert await sb.model(pareto(score)) == model


async def test_plugin_without_a_score_means_the_high_band(sb: Sandbox) -> None:
    body = {**pareto(), "plugins": [{"id": "pareto-router"}]}
    assert await sb.model(body) == HIGH_CHEAPEST


async def test_cheapest_in_band_follows_the_registry_prices() -> None:
    # Make Sonnet the cheapest medium member: the router must follow the prices, not a list.
    cheap_sonnet = REGISTRY.with_overrides(
        {SONNET: {"prompt_per_mtok": 0.1, "completion_per_mtok": 0.2}}
    )
    async for sandbox in _sandbox(cheap_sonnet):
        assert await sandbox.model(pareto(0.5)) == SONNET
        body = (await sandbox.post(pareto(0.5))).json()
        entry = cheap_sonnet.get(SONNET)
        assert entry is not None
        usage = body["usage"]
        assert usage["cost"] == pytest.approx(
            entry.cost_usd(usage["prompt_tokens"], usage["completion_tokens"])
        )


@pytest.mark.parametrize(
    ("score", "model"),
    [
        (0.9, "google/gemini-3.1-pro-preview"),  # 140 tok/s beats gpt-5.5's 95
        (0.5, GROK),  # 210 tok/s
        (0.1, "anthropic/claude-haiku-4.5"),  # 160 tok/s, though not the cheapest
    ],
)
async def test_nitro_takes_the_fastest_member_first(sb: Sandbox, score: float, model: str) -> None:
    assert await sb.model(pareto(score, nitro=True)) == model


async def test_nitro_falls_back_in_throughput_order(sb: Sandbox) -> None:
    sb.app.set_fault(GROK, Fault(kind="status", status=502))
    assert await sb.model(pareto(0.5, nitro=True)) == MINI  # 180 tok/s, next fastest


async def test_sibling_fallbacks_then_the_last_failure(sb: Sandbox) -> None:
    sb.app.set_fault(MINI, Fault(kind="status", status=502))
    assert await sb.model(pareto(0.5)) == KIMI  # next cheapest in the medium band
    sb.app.set_fault(KIMI, Fault(kind="error_body"))
    assert await sb.model(pareto(0.5)) == GROK
    sb.app.set_fault(GROK, Fault(kind="status", status=503, message="third down"))
    failed = await sb.post(pareto(0.5))
    # Primary plus two fallbacks all failed: the last failure comes back, Sonnet is not tried.
    assert failed.status_code == 503
    assert failed.json()["error"] == {
        "code": 503,
        "message": "third down",
        "metadata": {"provider_name": "x-ai"},
    }


async def test_rate_limit_is_transient_for_the_router(sb: Sandbox) -> None:
    sb.app.set_fault(MINI, Fault(kind="status", status=429, retry_after=5))
    assert await sb.model(pareto(0.5)) == KIMI


async def test_payment_required_is_not_a_reason_to_fall_back(sb: Sandbox) -> None:
    sb.app.set_fault(MINI, Fault(kind="status", status=402, message="out of credits"))
    response = await sb.post(pareto(0.5))
    assert response.status_code == 402 and response.json()["error"]["code"] == 402


async def test_unavailable_members_are_skipped_within_the_band(sb: Sandbox) -> None:
    for model in (MINI, KIMI, GROK):
        sb.app.set_fault(model, Fault(kind="unavailable"))
    assert await sb.model(pareto(0.5)) == SONNET  # the band still has a member


@pytest.mark.parametrize(
    ("score", "down", "model"),
    [
        (0.5, ("medium",), HIGH_CHEAPEST),  # equidistant: the stronger neighbour first
        (0.5, ("medium", "high"), LOW_CHEAPEST),
        (0.9, ("high",), MINI),
        (0.1, ("low",), MINI),
        (0.9, ("high", "medium"), LOW_CHEAPEST),
    ],
)
async def test_neighbouring_band_when_the_whole_band_is_down(
    sb: Sandbox, score: float, down: tuple[str, ...], model: str
) -> None:
    for band in down:
        sb.app.set_band_outage(band)
    assert await sb.model(pareto(score)) == model
    sb.app.clear_faults()
    assert await sb.model(pareto(score)) != model  # healed: back in its own band


async def test_every_band_down_is_a_503(sb: Sandbox) -> None:
    for band in ("high", "medium", "low"):
        sb.app.set_band_outage(band)
    response = await sb.post(pareto(0.5))
    assert response.status_code == 503
    assert "no available provider" in response.json()["error"]["message"]


async def test_unavailable_with_times_heals_after_turning_requests_away(sb: Sandbox) -> None:
    sb.app.set_fault(MINI, Fault(kind="unavailable", times=1))
    assert await sb.model(pareto(0.5)) == KIMI
    assert await sb.model(pareto(0.5)) == MINI


@pytest.mark.parametrize("score", [1.5, -0.1, "high", True, "0.5", [0.5]])
async def test_bad_score_is_a_400(sb: Sandbox, score: Any) -> None:
    response = await sb.post(pareto(score))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 400 and "min_coding_score" in error["message"]
    assert sb.app.requests[-1] == pareto(score)  # logged even though refused


async def test_the_plugin_is_ignored_on_a_named_model(sb: Sandbox) -> None:
    body = {"model": "openai/gpt-5.4", "messages": MSG, "plugins": pareto(0.1)["plugins"]}
    assert await sb.model(body) == "openai/gpt-5.4"


async def test_bad_score_is_a_400_even_on_a_named_model(sb: Sandbox) -> None:
    """CHOICE (ADR-007): the plugin is validated like a schema, whatever the model."""
    body = {"model": "openai/gpt-5.4", "messages": MSG, "plugins": pareto(7)["plugins"]}
    response = await sb.post(body)
    assert response.status_code == 400 and "min_coding_score" in response.text


@pytest.mark.parametrize(("enabled", "score"), [(False, 0.1), (False, None)])
async def test_disabled_plugin_means_the_default_high_tier(
    sb: Sandbox, enabled: bool, score: float | None
) -> None:
    """Docs: SDK ParetoRouterPlugin ("Set to false to disable the pareto-router plugin for
    this request"; omitted score: "the router default tier") and "Pareto Router" (the
    default is the strongest / High tier)."""
    plugin: dict[str, Any] = {"id": "pareto-router", "enabled": enabled}
    if score is not None:
        plugin["min_coding_score"] = score
    assert await sb.model({**pareto(), "plugins": [plugin]}) == HIGH_CHEAPEST
    plugin["enabled"] = True
    expected = LOW_CHEAPEST if score is not None else HIGH_CHEAPEST
    assert await sb.model({**pareto(), "plugins": [plugin]}) == expected


@pytest.mark.parametrize("enabled", ["false", 0, None, [False]])
async def test_non_boolean_enabled_is_a_400(sb: Sandbox, enabled: Any) -> None:
    """CHOICE (ADR-007): the SDK types ``enabled`` as a boolean; anything else is refused."""
    plugin = {"id": "pareto-router", "enabled": enabled, "min_coding_score": 0.1}
    response = await sb.post({**pareto(), "plugins": [plugin]})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 400 and "enabled" in response.text


async def test_unknown_plugin_fields_and_plugins_are_ignored(sb: Sandbox) -> None:
    """Docs: SDK ParetoRouterPlugin (``id``, ``enabled``, ``min_coding_score``); the rest is
    additive and ignored, as are other plugins' entries."""
    plugins = [
        {"id": "web", "max_results": 3},
        {"id": "pareto-router", "min_coding_score": 0.1, "future_knob": {"x": [1, 2]}},
    ]
    assert await sb.model({**pareto(), "plugins": plugins}) == LOW_CHEAPEST


async def test_nan_score_is_a_400(sb: Sandbox) -> None:
    raw = json.dumps(pareto(0.5)).replace("0.5", "NaN")
    response = await sb.client.post(
        "chat/completions", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and "min_coding_score" in response.text


async def test_session_stickiness(sb: Sandbox) -> None:
    """Docs: "Pareto Router" (session stickiness keeps a session on the same model when it
    can) and "Prompt Caching" (the sticky endpoint is the one that last served; when it is
    unavailable the router falls back). CHOICE (ADR-007): stickiness moves with the answer."""
    sb.app.set_fault(MINI, Fault(kind="unavailable"))
    assert await sb.model(pareto(0.5, session_id="run1:s3")) == KIMI
    sb.app.clear_faults()
    # The session stays on its model; a new session takes the cheapest again.
    assert await sb.model(pareto(0.5, session_id="run1:s3")) == KIMI
    assert await sb.model(pareto(0.5, session_id="run2:s3")) == MINI
    assert await sb.model(pareto(0.5)) == MINI
    assert await sb.model(pareto(0.5, session_id="run1:s3", nitro=True)) == GROK  # own key
    # The sticky model down: the cascade serves, and the session moves to what served it...
    sb.app.set_fault(KIMI, Fault(kind="unavailable"))
    assert await sb.model(pareto(0.5, session_id="run1:s3")) == MINI
    sb.app.clear_faults()
    # ...and stays there once KIMI is back.
    assert await sb.model(pareto(0.5, session_id="run1:s3")) == MINI
    # Another band for the same session routes afresh (and the session follows it).
    assert await sb.model(pareto(0.9, session_id="run1:s3")) == HIGH_CHEAPEST


async def test_sticky_model_with_a_transient_fault_moves_the_session(sb: Sandbox) -> None:
    assert await sb.model(pareto(0.5, session_id="x")) == MINI
    sb.app.set_fault(MINI, Fault(kind="status", status=502, times=1))
    assert await sb.model(pareto(0.5, session_id="x")) == KIMI
    assert await sb.model(pareto(0.5, session_id="x")) == KIMI  # healed MINI does not win it back
    assert await sb.model(pareto(0.5, session_id="y")) == MINI


async def test_sticky_sessions_expire_after_the_idle_ttl() -> None:
    """Docs: "Prompt Caching" ("Sticky sessions expire after 10 minutes of inactivity")."""
    now = [1000.0]
    app = create_app(REGISTRY, SandboxOptions(latency_ms=0), clock=lambda: now[0])
    async for sb in _sandbox(app=app):
        sb.app.set_fault(MINI, Fault(kind="unavailable", times=1))
        assert await sb.model(pareto(0.5, session_id="s")) == KIMI
        now[0] += 599  # activity inside the TTL refreshes it
        assert await sb.model(pareto(0.5, session_id="s")) == KIMI
        now[0] += 599
        assert await sb.model(pareto(0.5, session_id="s")) == KIMI
        now[0] += 601  # idle past 10 minutes: the session routes afresh
        assert await sb.model(pareto(0.5, session_id="s")) == MINI
        assert sb.app.sticky_sessions == 1


async def test_sticky_sessions_are_capped_least_recently_used_first() -> None:
    """CHOICE (ADR-007): at most ``sticky_max`` sessions are kept; the oldest go first."""
    app = create_app(REGISTRY, SandboxOptions(latency_ms=0, sticky_max=2))
    async for sb in _sandbox(app=app):
        sb.app.set_fault(MINI, Fault(kind="unavailable"))
        for session in ("a", "b"):
            assert await sb.model(pareto(0.5, session_id=session)) == KIMI
        sb.app.clear_faults()
        assert await sb.model(pareto(0.5, session_id="a")) == KIMI  # "a" is now the newest
        assert await sb.model(pareto(0.5, session_id="c")) == MINI  # evicts "b"
        assert sb.app.sticky_sessions == 2
        assert await sb.model(pareto(0.5, session_id="b")) == MINI  # forgotten
        assert await sb.model(pareto(0.5, session_id="c")) == MINI
        for n in range(50):
            await sb.post(pareto(0.5, session_id=f"many-{n}"))
        assert sb.app.sticky_sessions == 2


async def test_models_are_fallbacks_never_a_pin(sb: Sandbox) -> None:
    """Docs: "Model Fallbacks" — ``models`` is tried only after ``model`` returns an error."""
    # A working `model` answers; the fallbacks are never used.
    assert await sb.model(pareto(0.5, models=[GROK])) == MINI
    assert await sb.model(pareto(0.5, models=["openai/gpt-5.4", GROK])) == MINI
    assert await sb.model({"model": SONNET, "messages": MSG, "models": [GROK]}) == SONNET
    # The named model fails: the fallbacks in order.
    sb.app.set_fault(SONNET, Fault(kind="status", status=502))
    assert await sb.model({"model": SONNET, "messages": MSG, "models": [GROK, KIMI]}) == GROK
    sb.app.set_fault(SONNET, Fault(kind="unavailable"))
    assert await sb.model({"model": SONNET, "messages": MSG, "models": [GROK]}) == GROK


async def test_the_pareto_cascade_comes_before_the_models_list(sb: Sandbox) -> None:
    """Docs: "Pareto Router" (the router's own fallbacks), then "Model Fallbacks"."""
    fallback = "openai/gpt-5.4"
    sb.app.set_fault(MINI, Fault(kind="status", status=503))
    assert await sb.model(pareto(0.5, models=[fallback])) == KIMI  # a sibling first
    sb.app.set_band_outage("medium")
    assert await sb.model(pareto(0.5, models=[fallback])) == HIGH_CHEAPEST  # then a neighbour
    sb.app.clear_faults()
    for model in (MINI, KIMI, GROK):  # primary and both siblings fail: the router gives up
        sb.app.set_fault(model, Fault(kind="status", status=502))
    assert await sb.model(pareto(0.5, models=[fallback])) == fallback
    for band in ("high", "medium", "low"):  # the router has nothing at all
        sb.app.set_band_outage(band)
    assert await sb.model(pareto(0.5, models=[fallback])) == fallback


@pytest.mark.parametrize(
    ("fault", "falls_back"),
    [
        (Fault(kind="status", status=400, message="context length exceeded"), True),
        (Fault(kind="status", status=403, message="flagged by moderation"), True),
        (Fault(kind="status", status=408), True),
        (Fault(kind="status", status=429), True),
        (Fault(kind="status", status=502), True),
        (Fault(kind="error_body"), True),
        (Fault(kind="status", status=401), False),
        (Fault(kind="status", status=402), False),
        (Fault(kind="truncated"), False),
    ],
    ids=lambda v: v if isinstance(v, bool) else f"{v.kind}-{v.status}",
)
async def test_which_errors_trigger_the_models_fallbacks(
    sb: Sandbox, fault: Fault, falls_back: bool
) -> None:
    """Docs: "Model Fallbacks" (any error, incl. context length, moderation, rate limits,
    downtime). CHOICE (ADR-007): not 401/402 (key or account) nor a response already begun."""
    sb.app.set_fault(SONNET, fault)
    response = await sb.post({"model": SONNET, "messages": MSG, "models": [GROK]})
    if falls_back:
        assert response.status_code == 200 and response.json()["model"] == GROK
    else:  # the primary's own failure comes back untouched
        assert response.status_code == (fault.status if fault.kind == "status" else 200)
        assert GROK not in response.text


async def test_a_down_fallback_is_skipped_and_the_last_error_returns(sb: Sandbox) -> None:
    """Docs: "Model Fallbacks" ("If the fallback model is down or returns an error,
    OpenRouter will return that error")."""
    body = {"model": SONNET, "messages": MSG, "models": [KIMI, GROK]}
    sb.app.set_fault(SONNET, Fault(kind="status", status=502))
    sb.app.set_fault(KIMI, Fault(kind="unavailable"))
    assert await sb.model(body) == GROK
    sb.app.set_fault(GROK, Fault(kind="status", status=503, message="last one down"))
    failed = await sb.post(body)
    assert failed.status_code == 503
    assert failed.json()["error"] == {
        "code": 503,
        "message": "last one down",
        "metadata": {"provider_name": "x-ai"},
    }
    sb.app.set_fault(GROK, Fault(kind="unavailable"))
    down = await sb.post(body)
    assert down.status_code == 503
    assert down.json()["error"]["message"] == f"no available provider for {GROK}"


async def test_models_without_model_uses_the_first_entry_as_primary(sb: Sandbox) -> None:
    """Docs: "Model Fallbacks" ("Provide an array of model IDs in priority order")."""
    assert await sb.model({"models": [SONNET, GROK], "messages": MSG}) == SONNET
    sb.app.set_fault(SONNET, Fault(kind="status", status=429))
    assert await sb.model({"models": [SONNET, GROK], "messages": MSG}) == GROK


@pytest.mark.parametrize(
    ("models", "needle"),
    [
        (["nobody/nothing-1"], "not a valid model ID"),
        ([], "non-empty list"),
        ("x-ai/grok-4.3", "non-empty list"),
        (["openrouter/pareto-code"], "concrete"),  # CHOICE (ADR-007)
    ],
)
async def test_bad_models_lists_are_a_400(sb: Sandbox, models: Any, needle: str) -> None:
    response = await sb.post(pareto(0.5, models=models))
    assert response.status_code == 400 and needle in response.json()["error"]["message"]


async def test_a_fallback_answer_does_not_make_a_session_sticky(sb: Sandbox) -> None:
    sb.app.set_fault("openrouter/pareto-code", Fault(kind="status", status=503, times=1))
    assert await sb.model(pareto(0.5, session_id="p", models=[GROK])) == GROK
    assert await sb.model(pareto(0.5, session_id="p")) == MINI


async def test_named_models_answer_as_themselves_with_their_own_faults(sb: Sandbox) -> None:
    named = {"model": MINI, "messages": MSG}
    assert await sb.model(named) == MINI
    sb.app.set_fault(MINI, Fault(kind="status", status=502))
    assert (await sb.post(named)).status_code == 502  # no sibling fallback for a named model
    sb.app.set_fault(MINI, Fault(kind="unavailable"))
    response = await sb.post(named)
    assert response.status_code == 503
    assert response.json()["error"]["message"] == f"no available provider for {MINI}"
    sb.app.clear_faults()
    sb.app.set_band_outage("medium")
    assert (await sb.post(named)).status_code == 503  # a band outage covers named requests
    assert await sb.model({"model": "openai/gpt-5.4", "messages": MSG}) == "openai/gpt-5.4"


async def test_faults_on_the_router_itself(sb: Sandbox) -> None:
    sb.app.set_fault("openrouter/pareto-code", Fault(kind="status", status=402, times=1))
    assert (await sb.post(pareto(0.5))).status_code == 402
    assert await sb.model(pareto(0.5)) == MINI
    sb.app.set_fault("openrouter/pareto-code", Fault(kind="unavailable"))
    response = await sb.post(pareto(0.5, nitro=True))
    assert response.status_code == 503 and "no available provider" in response.text
    sb.app.clear_faults()
    sb.app.set_fault("openrouter/pareto-code:nitro", Fault(kind="status", status=503))
    assert (await sb.post(pareto(0.5, nitro=True))).status_code == 503
    assert await sb.model(pareto(0.5)) == MINI  # the plain router is unaffected


@pytest.mark.parametrize("model", ["nobody/nothing-1", "openrouter/pareto-code:turbo"])
async def test_unknown_models_are_a_400(sb: Sandbox, model: str) -> None:
    response = await sb.post({"model": model, "messages": MSG})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == f"{model} is not a valid model ID"


def test_fault_and_outage_arguments_are_checked() -> None:
    app = create_app(REGISTRY, SandboxOptions(latency_ms=0))
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault(kind="explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"400\.\.599"):
        Fault(kind="status", status=200)
    with pytest.raises(ValueError, match="not in the registry"):
        app.set_fault("nobody/nothing-1", Fault(kind="hang"))
    with pytest.raises(ValueError, match="unknown band"):
        app.set_band_outage("ultra")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
_PLUGIN = st.fixed_dictionaries(
    {"id": st.sampled_from(["pareto-router", "web"]) | _JSON},
    optional={"min_coding_score": _JSON, "enabled": _JSON, "extra": _JSON},
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plugins=st.none() | st.lists(_PLUGIN | _JSON, max_size=3),
    models=st.none() | st.lists(st.sampled_from([GROK, SONNET, "openrouter/pareto-code"]) | _JSON),
)
def test_hostile_plugins_and_models_never_crash_the_router(plugins: Any, models: Any) -> None:
    """Whatever arrives in ``plugins`` / ``models``, the answer is a completion or one of
    OpenRouter's documented errors (docs: "Errors and Debugging"), never a crash."""

    async def check() -> None:
        body: dict[str, Any] = {"model": "openrouter/pareto-code", "messages": MSG}
        if plugins is not None:
            body["plugins"] = plugins
        if models is not None:
            body["models"] = models
        async for sb in _sandbox():
            # json.dumps, not httpx's encoder: NaN / Infinity literals are hostile input too.
            response = await sb.client.post(
                "chat/completions",
                content=json.dumps(body),
                headers={"content-type": "application/json"},
            )
            assert response.status_code in (200, 400), response.text
            payload = response.json()
            if response.status_code == 200:
                shortlist = {m for band in REGISTRY.pareto.shortlist.values() for m in band}
                assert payload["model"] in shortlist
            else:
                assert payload["error"]["code"] == 400 and payload["error"]["message"]

    asyncio.run(check())
