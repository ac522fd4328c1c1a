"""The model registry: models, families, prices, the Pareto meta-model and its shortlist snapshot."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llm_council.defaults import shipped_file

Band = Literal["high", "medium", "low"]
BANDS: tuple[Band, ...] = ("high", "medium", "low")
REGISTRY_FILENAME = "registry.yaml"


class RegistryError(Exception):
    """The registry file cannot be used; the message names the file and the problem."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelEntry(_Frozen):
    id: str
    name: str
    provider: str
    family: str
    context_length: int = Field(gt=0)
    prompt_per_mtok: float = Field(ge=0)
    completion_per_mtok: float = Field(ge=0)
    coding_score: float | None = Field(default=None, ge=0, le=1)
    throughput_tps: float | None = Field(default=None, gt=0)

    @property
    def blended_per_mtok(self) -> float:
        """Price used to order a band: 3 prompt tokens to 1 completion token."""
        return (3 * self.prompt_per_mtok + self.completion_per_mtok) / 4

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.prompt_per_mtok + completion_tokens * self.completion_per_mtok
        ) / 1_000_000


class MetaModelEntry(_Frozen):
    id: str
    name: str
    plugin_id: str
    variants: tuple[str, ...] = ()
    coding_only: bool = False
    context_length: int = Field(gt=0)


class ParetoThresholds(_Frozen):
    high: float = Field(ge=0, le=1)
    medium: float = Field(ge=0, le=1)


class ParetoSnapshot(_Frozen):
    thresholds: ParetoThresholds
    shortlist: dict[Band, tuple[str, ...]]


class RegistryData(_Frozen):
    schema_version: int
    snapshot_date: str
    models: tuple[ModelEntry, ...]
    meta_models: tuple[MetaModelEntry, ...] = ()
    pareto: ParetoSnapshot


_VERSION_TAIL = re.compile(r"[-_.]?v?\d+(?:[.\-]\d+)*(?:[-_.]?(?:preview|exp|latest))?$")


class Registry:
    """Read-only view of the registry data, with helpers the council and sandbox share."""

    def __init__(self, data: RegistryData, source: str = "<memory>") -> None:
        self.data = data
        self.source = source
        self._models = {m.id: m for m in data.models}
        self._meta = {m.id: m for m in data.meta_models}
        for band, members in data.pareto.shortlist.items():
            for model_id in members:
                if model_id not in self._models:
                    raise RegistryError(
                        f"registry error in {source} at pareto.shortlist.{band}: "
                        f"{model_id!r} has no entry under models"
                    )

    @property
    def models(self) -> tuple[ModelEntry, ...]:
        return tuple(self._models.values())

    @property
    def meta_models(self) -> tuple[MetaModelEntry, ...]:
        return tuple(self._meta.values())

    @property
    def pareto(self) -> ParetoSnapshot:
        return self.data.pareto

    def get(self, model_id: str) -> ModelEntry | None:
        return self._models.get(_strip_variant(model_id))

    def meta(self, model_id: str) -> MetaModelEntry | None:
        return self._meta.get(_strip_variant(model_id))

    def is_known(self, model_id: str) -> bool:
        base = _strip_variant(model_id)
        return base in self._models or base in self._meta

    def provider_of(self, model_id: str) -> str:
        entry = self.get(model_id)
        return entry.provider if entry else model_id.split("/", 1)[0]

    def family_of(self, model_id: str) -> str:
        """The registry's family, else the id with its version suffix stripped."""
        entry = self.get(model_id)
        if entry:
            return entry.family
        return _VERSION_TAIL.sub("", _strip_variant(model_id)) or model_id

    def band_members(self, band: Band) -> tuple[ModelEntry, ...]:
        return tuple(self._models[m] for m in self.pareto.shortlist.get(band, ()))

    def estimate_cost(
        self, model_id: str, prompt_tokens: int, completion_tokens: int
    ) -> float | None:
        entry = self.get(model_id)
        return entry.cost_usd(prompt_tokens, completion_tokens) if entry else None

    def unknown(self, model_ids: Iterable[str]) -> list[str]:
        return [m for m in model_ids if not self.is_known(m)]

    def with_overrides(self, overrides: dict[str, dict[str, Any]]) -> Registry:
        """A copy whose model entries take fields from ``overrides`` (the sync overlay)."""
        models = tuple(
            m.model_copy(update=overrides[m.id]) if m.id in overrides else m
            for m in self.data.models
        )
        return Registry(self.data.model_copy(update={"models": models}), self.source)


def _strip_variant(model_id: str) -> str:
    return model_id.split(":", 1)[0]


def load_registry(path: str | Path | None = None, overlay: str | Path | None = None) -> Registry:
    """Load the registry file (the shipped one by default), then apply a sync overlay if present."""
    registry_path = Path(path) if path else shipped_file(REGISTRY_FILENAME)
    registry = Registry(_parse(registry_path), source=str(registry_path))
    if overlay is not None and Path(overlay).is_file():
        overrides = _read_overlay(Path(overlay))
        registry = registry.with_overrides(overrides)
    return registry


def _parse(path: Path) -> RegistryData:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RegistryError(f"registry error in {path}: cannot read file: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise RegistryError(f"registry error in {path}: YAML syntax error: {exc}") from None
    try:
        return RegistryData.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise RegistryError(f"registry error in {path} at {loc}: {err['msg']}") from None


def _read_overlay(path: Path) -> dict[str, dict[str, Any]]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RegistryError(f"registry overlay {path} is unreadable: {exc}") from None
    models = raw.get("models", {}) if isinstance(raw, dict) else None
    if not isinstance(models, dict):
        raise RegistryError(f"registry overlay {path}: 'models' must be a mapping of id -> fields")
    allowed = {"context_length", "prompt_per_mtok", "completion_per_mtok", "name"}
    return {
        str(mid): {k: v for k, v in fields.items() if k in allowed}
        for mid, fields in models.items()
        if isinstance(fields, dict)
    }
