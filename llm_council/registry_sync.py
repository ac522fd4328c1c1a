"""Refresh prices and context windows from ``GET /models`` into a local registry overlay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from llm_council.gateway.base import Gateway, MalformedResponseError
from llm_council.registry import Registry


class Change(BaseModel):
    model: str
    field: str
    old: float | int
    new: float | int


class SyncResult(BaseModel):
    overlay: str
    fetched: int
    changes: list[Change]
    unknown_remote: int  # models OpenRouter lists that the registry does not track
    written: bool


async def sync_registry(
    gateway: Gateway, registry: Registry, overlay_path: Path, *, dry_run: bool = False
) -> SyncResult:
    """Compare the gateway's model list with the registry and write what changed to the overlay.

    Only models the registry already knows are updated; the shipped registry file is never
    edited. ``registry`` should already include the current overlay, so a second sync with
    no upstream change reports no changes.
    """
    remote = await gateway.list_models()
    changes: list[Change] = []
    updates: dict[str, dict[str, Any]] = {}
    unknown = 0
    for item in remote:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise MalformedResponseError("GET /models returned an entry without an 'id'")
        entry = registry.get(item["id"])
        if entry is None or entry.id != item["id"]:
            unknown += registry.meta(item["id"]) is None
            continue
        fresh = _fields(item)
        for name, value in fresh.items():
            old = getattr(entry, name)
            if value is not None and abs(float(value) - float(old)) > 1e-9:
                changes.append(Change(model=entry.id, field=name, old=old, new=value))
                updates.setdefault(entry.id, {})[name] = value
    written = False
    if updates and not dry_run:
        _write_overlay(overlay_path, updates)
        written = True
    return SyncResult(
        overlay=str(overlay_path),
        fetched=len(remote),
        changes=changes,
        unknown_remote=unknown,
        written=written,
    )


def _fields(item: dict[str, Any]) -> dict[str, float | int | None]:
    pricing = item.get("pricing") if isinstance(item.get("pricing"), dict) else {}
    return {
        "prompt_per_mtok": _per_mtok(pricing.get("prompt")),
        "completion_per_mtok": _per_mtok(pricing.get("completion")),
        "context_length": item.get("context_length")
        if isinstance(item.get("context_length"), int)
        else None,
    }


def _per_mtok(value: Any) -> float | None:
    """OpenRouter prices are strings in USD per token; the registry keeps USD per million."""
    try:
        per_token = float(value)
    except (TypeError, ValueError):
        return None
    if per_token < 0:  # "-1" marks a variable-price router, not a price
        return None
    return round(per_token * 1_000_000, 6)


def _write_overlay(path: Path, updates: dict[str, dict[str, Any]]) -> None:
    existing: dict[str, Any] = {}
    if path.is_file():
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        existing = loaded.get("models", {}) if isinstance(loaded, dict) else {}
    for model, fields in updates.items():
        existing.setdefault(model, {}).update(fields)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    header = "# Written by `llm-council registry sync`; overrides models/registry.yaml.\n"
    tmp.write_text(header + yaml.safe_dump({"models": existing}, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
