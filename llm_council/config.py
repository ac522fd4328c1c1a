"""Load ``unified_config.yaml`` into typed settings, with env overrides and clear errors."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llm_council.defaults import shipped_file

CONFIG_FILENAME = "unified_config.yaml"
CONFIG_ENV = "LLM_COUNCIL_CONFIG"
CHAIRMAN_ENV = "LLM_COUNCIL_CHAIRMAN"
AUDITION_URL_ENV = "LLM_COUNCIL_AUDITION_URL"
BASE_URL_ENV = "OPENROUTER_BASE_URL"
POOL_ENV_PREFIX = "LLM_COUNCIL_MODELS_"


class Tier(StrEnum):
    QUICK = "quick"
    BALANCED = "balanced"
    HIGH = "high"
    REASONING = "reasoning"
    FRONTIER = "frontier"


TIERS: tuple[str, ...] = tuple(t.value for t in Tier)
DEFAULT_SESSION_TIMEOUTS: dict[str, float] = {
    "quick": 30.0,
    "balanced": 90.0,
    "high": 180.0,
    "reasoning": 600.0,
    "frontier": 600.0,
}
DuplicatePolicy = Literal["flag", "collapse", "reroute"]
Mode = Literal["coding", "general"]


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file, key path and problem."""

    def __init__(self, source: str, key_path: str, problem: str) -> None:
        self.source = source
        self.key_path = key_path
        self.problem = problem
        where = f" at {key_path}" if key_path else ""
        super().__init__(f"config error in {source}{where}: {problem}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_score(value: float | None) -> float | None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise ValueError(f"min_coding_score must be between 0 and 1 (got {value})")
    return value


class PoolEntry(_Strict):
    """One seat in a pool: a model id and an optional per-seat Pareto score override."""

    model: str = Field(min_length=1)
    min_coding_score: float | None = None

    _score = field_validator("min_coding_score")(_check_score)


class Pool(_Strict):
    models: tuple[PoolEntry, ...] = Field(min_length=1)
    session_timeout_s: float | None = Field(default=None, gt=0)

    @field_validator("models", mode="before")
    @classmethod
    def _plain_ids(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [{"model": v} if isinstance(v, str) else v for v in value]
        return value


class TiersConfig(_Strict):
    pools: dict[Tier, Pool]

    @field_validator("pools")
    @classmethod
    def _all_tiers(cls, pools: dict[Tier, Pool]) -> dict[Tier, Pool]:
        missing = [t for t in TIERS if t not in pools]
        if missing:
            raise ValueError(f"missing pool for tier(s): {', '.join(missing)}")
        return pools


class CouncilSettings(_Strict):
    chairman: str = Field(min_length=1)
    default_tier: Tier = Tier.BALANCED
    mode: Mode = "coding"
    exclude_self_votes: bool = True
    duplicate_policy: DuplicatePolicy = "flag"


class ParetoSettings(_Strict):
    tier_scores: dict[Tier, float | None] = Field(
        default_factory=lambda: {
            Tier.QUICK: 0.2,
            Tier.BALANCED: 0.5,
            Tier.HIGH: 0.8,
            Tier.REASONING: 0.9,
            Tier.FRONTIER: None,
        }
    )

    @field_validator("tier_scores")
    @classmethod
    def _scores(cls, scores: dict[Tier, float | None]) -> dict[Tier, float | None]:
        for tier, score in scores.items():
            if score is not None and not 0.0 <= score <= 1.0:
                raise ValueError(f"{tier.value}: score must be between 0 and 1 (got {score})")
        return scores


class GatewaySettings(_Strict):
    base_url: str = "https://openrouter.ai/api/v1"
    connect_timeout_s: float = Field(default=10.0, gt=0)
    call_timeout_s: float | None = Field(default=None, gt=0)
    max_attempts: int = Field(default=3, ge=1, le=10)
    # A large keep-alive pool makes httpcore scan every idle connection for each queued
    # request; 20 kept alive served 150 concurrent calls ~10x faster than 128 (ADR-005).
    max_connections: int = Field(default=200, ge=1)
    max_keepalive_connections: int = Field(default=20, ge=0)
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=8.0, ge=0)
    referer: str = "https://github.com/llm-council/llm-council"
    title: str = "llm-council"


class AuditionSettings(_Strict):
    url: str | None = None


class CouncilConfig(_Strict):
    """The whole configuration. ``source`` records where it was read from."""

    council: CouncilSettings
    tiers: TiersConfig
    pareto: ParetoSettings = Field(default_factory=ParetoSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    audition: AuditionSettings = Field(default_factory=AuditionSettings)
    source: str = "<memory>"

    def pool(self, tier: str) -> Pool:
        return self.tiers.pools[Tier(tier)]

    def tier_score(self, tier: str) -> float | None:
        return self.pareto.tier_scores.get(Tier(tier))

    def session_timeout_s(self, tier: str) -> float:
        configured = self.pool(tier).session_timeout_s
        return configured if configured is not None else DEFAULT_SESSION_TIMEOUTS[tier]

    def config_hash(self) -> str:
        """A short stable hash of the effective settings (recorded with each session)."""
        payload = self.model_dump(mode="json", exclude={"source"})
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode())
        return digest.hexdigest()[:16]


def resolve_config_path(explicit: str | Path | None, env: Mapping[str, str]) -> Path:
    """``--config`` / ``LLM_COUNCIL_CONFIG``, else ``./unified_config.yaml``, else the shipped one."""
    chosen = explicit or env.get(CONFIG_ENV)
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            origin = "--config" if explicit else CONFIG_ENV
            raise ConfigError(str(path), "", f"file not found (from {origin})")
        return path
    local = Path.cwd() / CONFIG_FILENAME
    if local.is_file():
        return local
    return shipped_file(CONFIG_FILENAME)


def load_config(
    path: str | Path | None = None, env: Mapping[str, str] | None = None
) -> CouncilConfig:
    """Read, override from the environment and validate the configuration."""
    env = os.environ if env is None else env
    config_path = resolve_config_path(path, env)
    raw = _read_yaml(config_path)
    raw = _apply_env_overrides(raw, env)
    return parse_config(raw, source=str(config_path))


def parse_config(raw: Any, source: str = "<memory>") -> CouncilConfig:
    if not isinstance(raw, dict):
        raise ConfigError(source, "", "the top level must be a mapping")
    try:
        return CouncilConfig.model_validate({**raw, "source": source})
    except ValidationError as exc:
        raise _as_config_error(exc, source) from None


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read file: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(str(path), "", f"YAML syntax error: {line}{exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "", f"YAML syntax error: {exc}") from None


def _apply_env_overrides(raw: Any, env: Mapping[str, str]) -> Any:
    if not isinstance(raw, dict):
        return raw
    raw = json.loads(json.dumps(raw))  # deep copy of plain YAML data
    for name, value in env.items():
        if not name.startswith(POOL_ENV_PREFIX):
            continue
        tier = name.removeprefix(POOL_ENV_PREFIX).lower()
        if tier not in TIERS:
            raise ConfigError(
                f"environment variable {name}", "", f"unknown tier {tier!r}; tiers: {TIERS}"
            )
        models = [m.strip() for m in value.split(",") if m.strip()]
        if not models:
            raise ConfigError(f"environment variable {name}", "", "empty model list")
        pools = raw.setdefault("tiers", {}).setdefault("pools", {})
        pool = pools.get(tier) if isinstance(pools.get(tier), dict) else {}
        pools[tier] = {**pool, "models": models}
    if chairman := env.get(CHAIRMAN_ENV, "").strip():
        raw.setdefault("council", {})["chairman"] = chairman
    if audition_url := env.get(AUDITION_URL_ENV, "").strip():
        raw.setdefault("audition", {})["url"] = audition_url
    if base_url := env.get(BASE_URL_ENV, "").strip():
        raw.setdefault("gateway", {})["base_url"] = base_url
    return raw


def _as_config_error(exc: ValidationError, source: str) -> ConfigError:
    err = exc.errors()[0]
    path = _key_path(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        problem = "unknown key"
        if (len(err["loc"]) >= 2 and err["loc"][:2] == ("tiers", "pools")) or (
            len(err["loc"]) >= 3 and err["loc"][:2] == ("pareto", "tier_scores")
        ):
            problem = f"unknown tier; tiers are {', '.join(TIERS)}"
    elif kind == "enum":
        problem = f"unknown tier {err.get('input')!r}; tiers are {', '.join(TIERS)}"
    elif kind == "too_short":
        problem = "empty pool: list at least one model"
    elif kind == "missing":
        problem = "required key is missing"
    elif kind in {"float_parsing", "float_type"}:
        problem = f"must be a number (got {err.get('input')!r})"
    else:
        problem = err["msg"].removeprefix("Value error, ")
    return ConfigError(source, path, problem)


def _key_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif str(item) in {"float", "none", "function-after[_check_score(), float]"}:
            continue  # pydantic union branch names, not user keys
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)
