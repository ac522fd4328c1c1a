"""Load ``unified_config.yaml`` into typed settings, with env overrides and clear errors."""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from llm_council.choices import TIERS, DuplicatePolicy, Mode, Tier
from llm_council.defaults import shipped_file
from llm_council.pareto import PARETO_TIER_SCORES

CONFIG_FILENAME = "unified_config.yaml"
CONFIG_ENV = "LLM_COUNCIL_CONFIG"
CHAIRMAN_ENV = "LLM_COUNCIL_CHAIRMAN"
AUDITION_URL_ENV = "LLM_COUNCIL_AUDITION_URL"
BASE_URL_ENV = "OPENROUTER_BASE_URL"
POOL_ENV_PREFIX = "LLM_COUNCIL_MODELS_"


DEFAULT_SESSION_TIMEOUTS: dict[str, float] = {
    "quick": 30.0,
    "balanced": 90.0,
    "high": 180.0,
    "reasoning": 600.0,
    "frontier": 600.0,
}


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


def _not_bool(value: Any) -> Any:
    # YAML reads `yes`/`true` as booleans, which pydantic would quietly take as 1.0.
    if isinstance(value, bool):
        raise ValueError(f"must be a number between 0 and 1 (got {value!r})")
    return value


def _check_score(value: float | None) -> float | None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise ValueError(f"min_coding_score must be between 0 and 1 (got {value:g})")
    return value


# A Pareto min_coding_score: a number in [0, 1], or None for "omit the plugin".
Score = Annotated[float | None, BeforeValidator(_not_bool), AfterValidator(_check_score)]
DEFAULT_TIER_SCORES = PARETO_TIER_SCORES  # owned by the Pareto rules (llm_council.pareto)


class PoolEntry(_Strict):
    """One seat in a pool: a model id and an optional per-seat Pareto score override."""

    model: str = Field(min_length=1)
    min_coding_score: Score = None


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
    # Independent reviewers used when peer review alone would leave a voice without a vote
    # (duplicates, collapse, two-seat councils); empty = the chairman model judges.
    judges: tuple[str, ...] = ()


class ParetoSettings(_Strict):
    """min_coding_score per council tier; ``None`` omits the plugin (frontier's default)."""

    tier_scores: dict[Tier, Score] = Field(
        default_factory=lambda: {Tier(t): s for t, s in DEFAULT_TIER_SCORES.items()}
    )

    @field_validator("tier_scores", mode="before")
    @classmethod
    def _fill_defaults(cls, value: Any) -> Any:
        # A file that sets only some tiers keeps the defaults for the others; without this a
        # missing tier would read as None and silently drop that tier's plugin.
        if isinstance(value, Mapping):
            return {**DEFAULT_TIER_SCORES, **value}
        return value


class GatewaySettings(_Strict):
    base_url: str = "https://openrouter.ai/api/v1"
    connect_timeout_s: float = Field(default=10.0, gt=0)
    call_timeout_s: float | None = Field(default=None, gt=0)
    max_attempts: int = Field(default=3, ge=1, le=10)
    # The aiohttp pool under the gateway's client (ADR-013): at most max_connections
    # sockets at once. max_keepalive_connections only applies to a plain httpx transport.
    max_connections: int = Field(default=200, ge=1)
    max_keepalive_connections: int = Field(default=20, ge=0)
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=8.0, ge=0)
    referer: str = "https://github.com/llm-council/llm-council"
    title: str = "llm-council"
    # Ask OpenRouter for its routing account (openrouter_metadata) on every Pareto call.
    router_metadata: bool = True


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
        """The pool of ``tier``; ValueError naming the tiers for an unknown one."""
        return self.tiers.pools[_tier(tier)]

    def tier_score(self, tier: str) -> float | None:
        """The Pareto min_coding_score of ``tier`` (None: the plugin is omitted)."""
        return self.pareto.tier_scores.get(_tier(tier))

    def session_timeout_s(self, tier: str) -> float:
        """The session's wall-clock budget: the pool's setting, else the tier default."""
        configured = self.pool(tier).session_timeout_s
        return configured if configured is not None else DEFAULT_SESSION_TIMEOUTS[_tier(tier)]

    def config_hash(self) -> str:
        """A short stable hash of the effective settings (recorded with each session)."""
        payload = self.model_dump(mode="json", exclude={"source"})
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode())
        return digest.hexdigest()[:16]


def _tier(name: str) -> Tier:
    try:
        return Tier(name)
    except ValueError:
        raise ValueError(f"unknown tier {name!r}; tiers are {', '.join(TIERS)}") from None


def resolve_config_path(explicit: str | Path | None, env: Mapping[str, str]) -> Path:
    """``--config``, else ``LLM_COUNCIL_CONFIG``, else ``./unified_config.yaml``, else shipped."""
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
    """Validate plain config data (as read from YAML); any problem is one ConfigError."""
    if not isinstance(raw, dict):
        got = "an empty file" if raw is None else f"a {type(raw).__name__}"
        raise ConfigError(source, "", f"the top level must be a mapping (got {got})")
    if "source" in raw:  # our own bookkeeping field, never read from a file
        raise ConfigError(source, "source", _unknown_key_problem("source", _TOP_LEVEL_KEYS))
    try:
        return CouncilConfig.model_validate({**raw, "source": source})
    except ValidationError as exc:
        raise _as_config_error(exc, source, raw) from None


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
    raw = copy.deepcopy(raw)  # never mutate the caller's data
    for name, value in env.items():
        if not name.startswith(POOL_ENV_PREFIX):
            continue
        tier = name.removeprefix(POOL_ENV_PREFIX).lower()
        source = f"environment variable {name}"
        if tier not in TIERS:
            raise ConfigError(
                source,
                f"tiers.pools.{tier}",
                f"unknown tier {tier!r}; use one of "
                + ", ".join(POOL_ENV_PREFIX + t.upper() for t in TIERS),
            )
        models = [m.strip() for m in value.split(",") if m.strip()]
        if not models:
            raise ConfigError(
                source, f"tiers.pools.{tier}.models", "empty model list; give comma-separated ids"
            )
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


_TOP_LEVEL_KEYS = ("council", "tiers", "pareto", "gateway", "audition")


# Loc entries pydantic adds for union branches, validators and dict keys: not user keys.
def _as_config_error(exc: ValidationError, source: str, raw: Any) -> ConfigError:
    err = exc.errors()[0]
    loc = _user_loc(err["loc"], raw, missing=err["type"] == "missing")
    path = _key_path(loc)
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        problem = _unknown_key_problem(str(loc[-1]), _allowed_keys(loc[:-1]))
    elif kind == "enum":
        problem = f"unknown tier {value!r}; tiers are {', '.join(TIERS)}"
    elif kind == "too_short" and path.endswith(".models"):
        problem = "empty pool: list at least one model"
    elif kind == "missing":
        problem = "required key is missing"
    elif kind in {"float_parsing", "float_type"}:
        problem = f"must be a number (got {value!r})"
    elif kind in {"dict_type", "model_type", "model_attributes_type"}:
        if path.split(".")[-1].startswith("models["):
            problem = (
                f"a pool entry is a model id or {{model: ID, min_coding_score: S}} (got {value!r})"
            )
        else:
            problem = f"must be a mapping (got {_describe(value)})"
    elif kind == "string_too_short":
        problem = "must not be empty"
    elif kind in {"tuple_type", "list_type"}:
        problem = f"must be a list (got {_describe(value)})"
    else:
        problem = err["msg"].removeprefix("Value error, ")
    return ConfigError(source, path, problem)


def _describe(value: Any) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"


def _user_loc(
    loc: tuple[int | str, ...], raw: Any, *, missing: bool = False
) -> tuple[int | str, ...]:
    """The part of pydantic's ``loc`` that names keys and indices of the user's data.

    pydantic adds entries of its own (union branches, validator names, ``[key]``); rather
    than matching their spelling, walk the input and keep what exists in it. Past a scalar
    that a validator expanded (a pool entry written as a bare model id), field names are
    kept; a missing key is kept as the last entry.
    """
    kept: list[int | str] = []
    node: Any = raw
    for index, item in enumerate(loc):
        in_mapping = isinstance(node, Mapping) and item in node
        in_list = isinstance(node, list) and isinstance(item, int) and 0 <= item < len(node)
        if in_mapping or in_list:
            kept.append(item)
            node = node[item]
        else:
            expanded = isinstance(node, str | int | float) and str(item).isidentifier()
            if expanded or (missing and index == len(loc) - 1):
                kept.append(item)
    return tuple(kept)


def _key_path(loc: tuple[int | str, ...]) -> str:
    """``('tiers', 'pools', 'balanced', 'models', 1)`` -> ``tiers.pools.balanced.models[1]``."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _allowed_keys(loc: tuple[int | str, ...]) -> tuple[str, ...]:
    """The keys the mapping at ``loc`` accepts (walking the pydantic models)."""
    current: Any = CouncilConfig
    for item in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(item))
            current = field.annotation if field else None
        else:  # dict[K, V] / tuple[V, ...]: step into the value type
            args = [a for a in typing.get_args(current) if a is not Ellipsis]
            current = args[-1] if args else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return tuple(k for k in current.model_fields if k != "source")
    return ()


def _unknown_key_problem(key: str, allowed: tuple[str, ...]) -> str:
    if not allowed:
        return "unknown key"
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key; {hint}allowed keys: {', '.join(allowed)}"
