"""The model registry: models, families, prices, the Pareto meta-model and its shortlist."""

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
    """The registry (or its overlay) cannot be used; the message names file, key and problem."""


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


# Family of an id the registry does not know: drop version tokens ("4.7", "v4", "k2.6",
# "20241022") and release tags, and a version glued to the name ("qwen3.6" -> "qwen"), so
# "deepseek/deepseek-v5-pro" falls in "deepseek/deepseek-pro" like the curated entries.
# Size tokens ("70b") and a short name's own digits ("o3", "gpt-4o") are kept.
_VERSION_TOKEN = re.compile(r"^[a-z]?\d+(?:\.\d+)*$")
_GLUED_VERSION = re.compile(r"(?<=[a-z]{3})\d+(?:\.\d+)*$")
_RELEASE_TAGS = frozenset({"preview", "exp", "experimental", "latest", "beta", "alpha"})
OVERLAY_FIELDS = frozenset({"context_length", "prompt_per_mtok", "completion_per_mtok", "name"})


class Registry:
    """Read-only view of the registry data, with helpers the council and sandbox share."""

    def __init__(self, data: RegistryData, source: str = "<memory>") -> None:
        self.data = data
        self.source = source
        self._models: dict[str, ModelEntry] = {}
        for i, model in enumerate(data.models):
            if model.id in self._models:
                raise RegistryError(
                    f"registry error in {source} at models[{i}].id: {model.id!r} is listed twice"
                )
            self._models[model.id] = model
        self._meta = {m.id: m for m in data.meta_models}
        seen: dict[str, str] = {}
        for band, members in data.pareto.shortlist.items():
            for i, model_id in enumerate(members):
                where = f"registry error in {source} at pareto.shortlist.{band}[{i}]"
                if model_id not in self._models:
                    raise RegistryError(f"{where}: {model_id!r} has no entry under models")
                if model_id in seen:
                    raise RegistryError(
                        f"{where}: {model_id!r} is already in band {seen[model_id]}"
                    )
                seen[model_id] = band
        thresholds = data.pareto.thresholds
        if thresholds.medium > thresholds.high:
            raise RegistryError(
                f"registry error in {source} at pareto.thresholds: medium ({thresholds.medium}) "
                f"must not exceed high ({thresholds.high})"
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
        """The registry's family, else the id with its version parts stripped."""
        entry = self.get(model_id)
        if entry:
            return entry.family
        return derive_family(model_id)

    def band_members(self, band: Band) -> tuple[ModelEntry, ...]:
        return tuple(self._models[m] for m in self.pareto.shortlist.get(band, ()))

    def estimate_cost(
        self, model_id: str, prompt_tokens: int, completion_tokens: int
    ) -> float | None:
        entry = self.get(model_id)
        return entry.cost_usd(prompt_tokens, completion_tokens) if entry else None

    def unknown(self, model_ids: Iterable[str]) -> list[str]:
        """The ids the registry has no entry for (a warning for the caller, not an error)."""
        return [m for m in model_ids if not self.is_known(m)]

    def with_overrides(
        self,
        overrides: dict[str, dict[str, Any]],
        source: str = "<overrides>",
        shortlist: dict[Band, tuple[str, ...]] | None = None,
    ) -> Registry:
        """A copy whose model entries take fields from ``overrides`` and whose Pareto bands
        are replaced by ``shortlist`` (the sync overlay; bands it omits stay as they were).

        Everything is validated again; ``source`` names the overlay in errors.
        """
        models = tuple(
            _override(m, overrides[m.id], source) if m.id in overrides else m
            for m in self.data.models
        )
        pareto = self.data.pareto
        if shortlist:
            pareto = pareto.model_copy(update={"shortlist": {**pareto.shortlist, **shortlist}})
        data = self.data.model_copy(update={"models": models, "pareto": pareto})
        try:
            return Registry(data, self.source)
        except RegistryError as exc:
            raise RegistryError(f"{exc} (with the overlay {source})") from None


def _override(entry: ModelEntry, fields: dict[str, Any], source: str) -> ModelEntry:
    try:
        return ModelEntry.model_validate({**entry.model_dump(), **fields})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise RegistryError(
            f"registry overlay error in {source} at models.{entry.id}.{key}: {err['msg']}"
        ) from None


def derive_family(model_id: str) -> str:
    """A family for an id without a registry entry: the id minus version parts and tags."""
    provider, slash, name = _strip_variant(model_id).rpartition("/")
    first, *rest = name.split("-")
    kept = [_GLUED_VERSION.sub("", first)]
    kept += [t for t in rest if t not in _RELEASE_TAGS and not _VERSION_TOKEN.match(t)]
    return f"{provider}{slash}{'-'.join(kept)}"


def _strip_variant(model_id: str) -> str:
    return model_id.split(":", 1)[0]


def load_registry(path: str | Path | None = None, overlay: str | Path | None = None) -> Registry:
    """Load the registry file (the shipped one by default), then apply a sync overlay if present."""
    registry_path = Path(path) if path else shipped_file(REGISTRY_FILENAME)
    registry = Registry(_parse(registry_path), source=str(registry_path))
    if overlay is not None and Path(overlay).is_file():
        overrides, shortlist = _read_overlay(Path(overlay))
        registry = registry.with_overrides(overrides, source=str(overlay), shortlist=shortlist)
    return registry


def _parse(path: Path) -> RegistryData:
    where = f"registry error in {path}"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RegistryError(f"{where}: cannot read file: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise RegistryError(f"{where}: YAML syntax error: {_yaml_problem(exc)}") from None
    if not isinstance(raw, dict):
        raise RegistryError(f"{where}: the top level must be a mapping")
    try:
        return RegistryData.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err["loc"]
        key = "".join(
            f"[{p}]" if isinstance(p, int) else f"{'.' if i else ''}{p}" for i, p in enumerate(loc)
        )
        problem = "required key is missing" if err["type"] == "missing" else err["msg"]
        if err["type"] == "extra_forbidden":
            problem = "unknown key"
        model_id = _entry_id(raw, loc)
        named = f" (model {model_id!r})" if model_id else ""
        raise RegistryError(f"{where} at {key}{named}: {problem}") from None


def _entry_id(raw: dict[str, Any], loc: tuple[int | str, ...]) -> str | None:
    """The id of the models[i] / meta_models[i] entry an error points into, if it has one."""
    if len(loc) >= 2 and loc[0] in {"models", "meta_models"} and isinstance(loc[1], int):
        entries = raw.get(str(loc[0]))
        if isinstance(entries, list) and loc[1] < len(entries):
            entry = entries[loc[1]]
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                return entry["id"]
    return None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
    return str(exc)


def _read_overlay(path: Path) -> tuple[dict[str, dict[str, Any]], dict[Band, tuple[str, ...]]]:
    """The overlay's model fields and its Pareto shortlist bands (``registry sync``)."""
    where = f"registry overlay error in {path}"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise RegistryError(f"{where}: cannot read file: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise RegistryError(f"{where}: YAML syntax error: {_yaml_problem(exc)}") from None
    models = raw.get("models", {}) if isinstance(raw, dict) else None
    if not isinstance(models, dict):
        raise RegistryError(f"{where} at models: must be a mapping of model id -> fields")
    overrides: dict[str, dict[str, Any]] = {}
    for model_id, fields in models.items():
        if not isinstance(fields, dict):
            raise RegistryError(f"{where} at models.{model_id}: must be a mapping of fields")
        # Only what `registry sync` refreshes; families and scores stay curated.
        overrides[str(model_id)] = {k: v for k, v in fields.items() if k in OVERLAY_FIELDS}
    return overrides, _overlay_shortlist(raw, where)


def _overlay_shortlist(raw: Any, where: str) -> dict[Band, tuple[str, ...]]:
    """``pareto.shortlist`` of the overlay (``registry sync --from-store``): whole bands."""
    pareto = raw.get("pareto") if isinstance(raw, dict) else None
    if pareto is None:
        return {}
    bands = pareto.get("shortlist") if isinstance(pareto, dict) else None
    if not isinstance(bands, dict):
        raise RegistryError(f"{where} at pareto.shortlist: must be a mapping of band -> model ids")
    shortlist: dict[Band, tuple[str, ...]] = {}
    for band, members in bands.items():
        if band not in BANDS:
            raise RegistryError(
                f"{where} at pareto.shortlist.{band}: unknown band (bands are {', '.join(BANDS)})"
            )
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise RegistryError(f"{where} at pareto.shortlist.{band}: must be a list of model ids")
        shortlist[band] = tuple(members)
    return shortlist
