"""Refresh the local registry overlay: prices and context windows from ``GET /models``, and
(``--from-store``) the Pareto shortlist from what the router listed in the audition store.

The shipped ``models/registry.yaml`` is never edited: changes land in the overlay file
(``paths.default_overlay_path()`` unless the caller passes another), which ``load_registry``
applies on top. Only models the registry already knows are updated or shortlisted; families
and scores stay curated. The overlay's shape::

    models:                      # per-model fields (SYNCED_FIELDS)
      openai/gpt-5.4-mini: {prompt_per_mtok: 0.2}
    pareto:
      shortlist:                 # whole bands that replace the shipped snapshot's
        medium: [openai/gpt-5.4-mini, moonshotai/kimi-k2.6]
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import BaseModel

from llm_council.audition.report_router import ObservedShortlist
from llm_council.gateway.base import MalformedResponseError
from llm_council.registry import BANDS, Band, Registry

SYNCED_FIELDS = ("prompt_per_mtok", "completion_per_mtok", "context_length")
_OVERLAY_HEADER = (
    "# Written by `llm-council registry sync`: prices (USD per million tokens), context\n"
    "# windows and Pareto shortlist bands (`--from-store`) that override models/registry.yaml.\n"
    "# Delete this file to return to the shipped values.\n"
)
# A band is rewritten from observations only after this many Pareto calls asked for it: the
# router lists the endpoints available at that moment, and a few calls miss a brief outage.
MIN_CALLS_FOR_SHORTLIST = 5


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
        write_overlay(overlay_path, updates=updates)
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


def write_overlay(
    path: Path,
    updates: dict[str, dict[str, float | int]] | None = None,
    shortlist: dict[Band, list[str]] | None = None,
) -> None:
    """Merge model ``updates`` and shortlist bands into the overlay; atomic replace of the file.

    Every other section of the overlay is kept, so a price sync never drops the shortlist
    and a shortlist sync never drops prices.
    """
    document = _read_document(path)
    models = document.get("models")
    models = models if isinstance(models, dict) else {}
    for model, values in (updates or {}).items():
        current = models.get(model)
        models[model] = {**(current if isinstance(current, dict) else {}), **values}
    # Sorted, so successive syncs give small, readable diffs of the file.
    document["models"] = {
        m: dict(sorted(v.items())) if isinstance(v, dict) else v
        for m, v in sorted(models.items(), key=lambda kv: str(kv[0]))
    }
    if shortlist:
        pareto = document.get("pareto")
        pareto = pareto if isinstance(pareto, dict) else {}
        bands = pareto.get("shortlist")
        bands = bands if isinstance(bands, dict) else {}
        bands.update({band: list(members) for band, members in shortlist.items()})
        pareto["shortlist"] = {b: bands[b] for b in BANDS if b in bands}
        document["pareto"] = pareto
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(_OVERLAY_HEADER + yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    tmp.replace(path)


def _read_document(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return loaded if isinstance(loaded, dict) else {}


# -- the Pareto shortlist from the audition store ---------------------------------------------


class BandChange(BaseModel):
    band: Band
    calls: int  # observed Pareto calls that asked for this band (0: changed to keep bands apart)
    before: list[str]
    after: list[str]
    added: list[str]
    removed: list[str]


class ShortlistSyncResult(BaseModel):
    overlay: str
    store: str
    since: datetime | None
    calls: int  # observed Pareto calls with router metadata, all bands
    changes: list[BandChange]
    notes: list[str]  # bands left alone and models left out, and why
    written: bool
    dry_run: bool


def sync_shortlist(
    registry: Registry,
    observed: ObservedShortlist,
    overlay_path: Path,
    *,
    dry_run: bool = False,
    min_calls: int = MIN_CALLS_FOR_SHORTLIST,
) -> ShortlistSyncResult:
    """Rewrite each band with at least ``min_calls`` observed calls to the models the router
    listed for it, and write the changed bands to the overlay's ``pareto.shortlist``.

    ``registry`` should include the current overlay, so a second sync with nothing new
    observed changes nothing. A model the registry does not know is left out (a shortlist
    member needs prices and a family); a model seen in two bands goes to the one that listed
    it on the larger share of its calls (a band can end empty that way; the notes say so).
    """
    current = {band: list(registry.pareto.shortlist.get(band, ())) for band in BANDS}
    notes: list[str] = []
    claims: dict[str, tuple[float, Band]] = {}  # model -> (share of the band's calls, band)
    rebuilt: set[Band] = set()
    for band_seen in observed.bands:
        band = band_seen.band
        if band_seen.calls < min_calls:
            notes.append(
                f"{band} band left alone: {band_seen.calls} observed calls, fewer than {min_calls}"
            )
            continue
        known = [m for m in band_seen.models if registry.get(m.model) is not None]
        unknown = [m.model for m in band_seen.models if registry.get(m.model) is None]
        if unknown:
            notes.append(
                f"{band} band: left out {', '.join(unknown)}, which the registry does not "
                "know (add an entry under models to shortlist it)"
            )
        if not known:
            notes.append(f"{band} band left alone: no observed model is in the registry")
            continue
        rebuilt.add(band)
        for m in known:
            claim = (m.seen / band_seen.calls, band)
            if m.model not in claims or claim[0] > claims[m.model][0]:
                claims[m.model] = claim
    after: dict[Band, list[str]] = {}
    for band in BANDS:
        if band in rebuilt:
            mine = {m for m, (_share, b) in claims.items() if b == band}
            seen = observed.band(band)
            order = [m.model for m in seen.models] if seen else []
            # Keep the snapshot's order for models that stay, then new ones most-listed first.
            members = [m for m in current[band] if m in mine]
            members += [m for m in order if m in mine and m not in members]
        else:
            # Untouched bands lose only models that now sit in a rebuilt band.
            members = [m for m in current[band] if m not in claims]
        if not members and current[band]:
            notes.append(
                f"{band} band ends with no model: the router listed each of its models more "
                "often for another band; a seat asking for it routes to a neighbouring band"
            )
        after[band] = members
    changes = [
        BandChange(
            band=band,
            calls=b.calls if (b := observed.band(band)) else 0,
            before=current[band],
            after=after[band],
            added=[m for m in after[band] if m not in current[band]],
            removed=[m for m in current[band] if m not in after[band]],
        )
        for band in BANDS
        if set(after[band]) != set(current[band])
    ]
    if changes and not dry_run:
        write_overlay(overlay_path, shortlist={c.band: c.after for c in changes})
    return ShortlistSyncResult(
        overlay=str(overlay_path),
        store=observed.store,
        since=observed.since,
        calls=observed.calls,
        changes=changes,
        notes=notes,
        written=bool(changes) and not dry_run,
        dry_run=dry_run,
    )
