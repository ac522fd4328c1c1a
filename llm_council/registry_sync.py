"""Refresh prices and context windows from ``GET /models`` into the local registry overlay.

The shipped ``models/registry.yaml`` is never edited: changes land in the overlay file
(``paths.default_overlay_path()`` unless the caller passes another), which ``load_registry``
applies on top. Only models the registry already knows are updated; families, scores and
the Pareto shortlist stay curated.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import BaseModel

from llm_council.gateway.base import MalformedResponseError
from llm_council.registry import Registry

SYNCED_FIELDS = ("prompt_per_mtok", "completion_per_mtok", "context_length")
_OVERLAY_HEADER = (
    "# Written by `llm-council registry sync`: prices (USD per million tokens) and context\n"
    "# windows that override models/registry.yaml. Delete this file to return to the shipped\n"
    "# values.\n"
)


class ModelLister(Protocol):
    """What sync needs from a gateway: OpenRouter's ``GET /models`` ``data`` list."""

    async def list_models(self) -> list[dict[str, Any]]: ...


class Change(BaseModel):
    model: str
    field: str
    old: float | int
    new: float | int


class SyncResult(BaseModel):
    overlay: str
    fetched: int  # models the gateway listed
    matched: int  # of those, models the registry knows
    changes: list[Change]
    unknown_remote: int  # listed models the registry does not track (ignored)
    written: bool
    dry_run: bool


async def sync_registry(
    gateway: ModelLister, registry: Registry, overlay_path: Path, *, dry_run: bool = False
) -> SyncResult:
    """Compare the gateway's model list with ``registry`` and write what changed to the overlay.

    ``registry`` should already include the current overlay (``load_registry(overlay=...)``),
    so a second sync with no upstream change reports no changes and writes nothing.
    Raises the gateway's errors, and MalformedResponseError for an entry without an id.
    """
    remote = await gateway.list_models()
    changes: list[Change] = []
    updates: dict[str, dict[str, float | int]] = {}
    matched = unknown = 0
    for item in remote:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise MalformedResponseError("GET /models returned an entry without a string 'id'")
        entry = registry.get(item["id"])
        if entry is None or entry.id != item["id"]:  # untracked, or a ":free"-style variant
            if entry is None and registry.meta(item["id"]) is None:
                unknown += 1
            continue
        matched += 1
        for name, value in remote_fields(item).items():
            old = getattr(entry, name)
            if value is not None and not math.isclose(value, old, rel_tol=1e-9, abs_tol=1e-9):
                changes.append(Change(model=entry.id, field=name, old=old, new=value))
                updates.setdefault(entry.id, {})[name] = value
    if updates and not dry_run:
        write_overlay(overlay_path, updates)
    return SyncResult(
        overlay=str(overlay_path),
        fetched=len(remote),
        matched=matched,
        changes=changes,
        unknown_remote=unknown,
        written=bool(updates) and not dry_run,
        dry_run=dry_run,
    )


def remote_fields(item: dict[str, Any]) -> dict[str, float | int | None]:
    """The synced fields of one ``/models`` entry in registry units; None where unusable."""
    pricing = item.get("pricing")
    pricing = pricing if isinstance(pricing, dict) else {}
    context = item.get("context_length")
    return {
        "prompt_per_mtok": per_mtok(pricing.get("prompt")),
        "completion_per_mtok": per_mtok(pricing.get("completion")),
        "context_length": context
        if isinstance(context, int) and not isinstance(context, bool) and context > 0
        else None,
    }


def per_mtok(value: Any) -> float | None:
    """OpenRouter's price (a string, USD per token) as USD per million tokens.

    None for anything that is not a finite non-negative number: ``"-1"`` marks a router
    whose price depends on the model it picks, which is not a price to store.
    """
    if isinstance(value, bool):
        return None
    try:
        per_token = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(per_token) or per_token < 0:
        return None
    return round(per_token * 1_000_000, 6)


def write_overlay(path: Path, updates: dict[str, dict[str, float | int]]) -> None:
    """Merge ``updates`` into the overlay's ``models`` mapping; atomic replace of the file."""
    existing: dict[str, Any] = {}
    if path.is_file():
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        models = loaded.get("models") if isinstance(loaded, dict) else None
        existing = models if isinstance(models, dict) else {}
    for model, values in updates.items():
        current = existing.get(model)
        existing[model] = {**(current if isinstance(current, dict) else {}), **values}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(
        _OVERLAY_HEADER + yaml.safe_dump({"models": existing}, sort_keys=True), encoding="utf-8"
    )
    tmp.replace(path)
