"""Choose and build the gateway: OpenRouter with a key, else the embedded sandbox."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from llm_council.choices import GatewayChoice
from llm_council.config import BASE_URL_ENV, CouncilConfig
from llm_council.gateway.base import GatewayConfigError
from llm_council.gateway.openrouter import OpenRouterGateway
from llm_council.registry import Registry

API_KEY_ENV = "OPENROUTER_API_KEY"
SANDBOX_BASE_URL = "http://sandbox.llm-council.invalid/api/v1"
SANDBOX_NOTICE = "gateway: sandbox (simulated OpenRouter, no OPENROUTER_API_KEY set)"


@dataclass(frozen=True, slots=True)
class GatewayChoiceResult:
    gateway: OpenRouterGateway
    notice: str | None  # said once to the user when we fell back to the sandbox


def check_base_url(url: str, where: str) -> None:
    """``GatewayConfigError`` naming ``where`` unless ``url`` is an absolute http(s) URL."""
    try:
        parsed = httpx.URL(url)
        problem = None
        if parsed.scheme not in ("http", "https"):
            problem = "it must start with http:// or https://"
        elif not parsed.host:
            problem = "it has no host"
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        problem = str(exc) or type(exc).__name__
    if problem:
        raise GatewayConfigError(f"{where} is not a usable URL ({url!r}): {problem}")


def make_gateway(
    config: CouncilConfig,
    registry: Registry,
    choice: GatewayChoice = "auto",
    env: Mapping[str, str] | None = None,
    sandbox_seed: int = 0,
) -> GatewayChoiceResult:
    """Build the gateway for ``choice``; ``openrouter`` without a key is an error, not a sandbox."""
    env = os.environ if env is None else env
    key = env.get(API_KEY_ENV, "").strip()
    if key and not (key.isascii() and key.isprintable()):
        # httpx would fail deep inside header encoding; never echo any part of the key.
        raise GatewayConfigError(
            f"{API_KEY_ENV} contains non-ASCII or control characters ({len(key)} characters); "
            "copy the key again from https://openrouter.ai/keys"
        )
    where = (
        BASE_URL_ENV
        if env.get(BASE_URL_ENV, "").strip()
        else f"gateway.base_url in {config.source}"
    )
    check_base_url(config.gateway.base_url, where)
    tier_scores = {t.value: s for t, s in config.pareto.tier_scores.items()}
    if choice == "openrouter" and not key:
        raise GatewayConfigError(
            f"--gateway openrouter needs {API_KEY_ENV}; export it, or use --gateway sandbox "
            "to run offline on the simulated OpenRouter"
        )
    if choice == "openrouter" or (choice == "auto" and key):
        gateway = OpenRouterGateway(config.gateway, api_key=key, tier_scores=tier_scores)
        return GatewayChoiceResult(gateway, None)
    from llm_council.sandbox import SandboxOptions, create_app

    app = create_app(registry, SandboxOptions(seed=sandbox_seed))
    gateway = OpenRouterGateway(
        config.gateway,
        api_key=None,
        kind="sandbox",
        transport=httpx.ASGITransport(app=app),
        base_url=SANDBOX_BASE_URL,
        tier_scores=tier_scores,
    )
    notice = SANDBOX_NOTICE if choice == "auto" else "gateway: sandbox (simulated OpenRouter)"
    return GatewayChoiceResult(gateway, notice)
