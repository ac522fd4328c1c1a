"""Flatten a SessionResult into the audition store's rows (one list per table)."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError

from llm_council.audition.report_stats import normalised_entropy, paired_diff, session_agreement
from llm_council.council.result import CallRecord, SessionResult
from llm_council.pareto import is_pareto_model
from llm_council.registry import Registry
from llm_council.timeutil import as_utc

Row = dict[str, Any]
# A server may send an unpaired surrogate escape ("\\ud800"); no database can hold it as
# UTF-8. The JSON columns keep the exact text as an escape; plain columns get U+FFFD.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def session_rows(result: SessionResult, registry: Registry) -> dict[str, list[Row]]:
    """All rows of one session, keyed by table name; per-session metrics precomputed."""
    tables = _rows(result, registry)
    for rows in tables.values():
        for row in rows:
            for key, value in row.items():
                if isinstance(value, str) and _SURROGATE.search(value):
                    row[key] = _SURROGATE.sub("\ufffd", value)
    return tables


def model_json(model: BaseModel) -> str:
    """``model`` as JSON text; unpaired surrogates kept as ``\\udxxx`` escapes (pure ASCII
    then), which the store reads back exactly (``store_read``)."""
    try:
        return model.model_dump_json()
    except PydanticSerializationError:
        return json.dumps(model.model_dump(mode="json"))


def _rows(result: SessionResult, registry: Registry) -> dict[str, list[Row]]:
    return {
        "sessions": [_session_row(result, registry)],
        "seats": _seat_rows(result, registry),
        "flags": [
            {
                "session_id": result.session_id,
                "seat_id": s.seat_id,
                "kind": f.kind,
                "with_seat": f.with_seat,
                "model": f.model,
                "stage2_model": f.stage2_model,
            }
            for s in result.seats
            for f in s.flags
        ],
        "calls": _call_rows(result, registry),
        **_router_rows(result),
        **_review_rows(result),
        "attachments": [
            {
                "session_id": result.session_id,
                "position": position,
                "name": a.name,
                "kind": a.kind,
                "sha256": a.sha256,
                "size": a.size,
            }
            for position, a in enumerate(result.attachments)
        ],
    }


def _router_rows(result: SessionResult) -> dict[str, list[Row]]:
    """``router_candidates`` (one row per call and listed model) and ``router_attempts``."""
    candidates: list[Row] = []
    attempts: list[Row] = []
    for seq, call in enumerate(result.calls):
        if call.router is None:
            continue
        common = {
            "session_id": result.session_id,
            "call_seq": seq,
            "tier": result.tier,
            "is_pareto": is_pareto_seat_call(call),
        }
        # A model listed by several providers is one candidate of the call: selected if any
        # of its endpoints was, named after the selected endpoint's provider (else the first).
        # Keyed as stored: two ids differing only in unpaired surrogates are one U+FFFD id.
        by_model: dict[str, Row] = {}
        for c in call.router.candidates:
            model = _SURROGATE.sub("\ufffd", c.model)
            row = by_model.get(model)
            if row is None:
                by_model[model] = {**common, "model": model, "provider": c.provider, "selected": c.selected}  # fmt: skip
            elif c.selected and not row["selected"]:
                row.update(provider=c.provider, selected=True)
        candidates += by_model.values()
        attempts += [
            {**common, "model": a.model, "provider": a.provider, "status": a.status}
            for a in call.router.attempts
        ]
    return {"router_candidates": candidates, "router_attempts": attempts}


def is_pareto_seat_call(call: CallRecord) -> bool:
    """A seat's call to the Pareto router (answer, review, reroute or judge stage); the
    chairman's call is never one, whatever model it names."""
    return call.stage != "chairman" and is_pareto_model(call.requested_model)


def _session_row(result: SessionResult, registry: Registry) -> Row:
    answered = [s.resolved_model for s in result.seats if s.status == "ok" and s.resolved_model]
    providers = Counter(registry.provider_of(m) for m in answered)
    pareto_kinds = {f.kind for s in result.seats if s.is_pareto for f in s.flags}
    created = as_utc(result.created_at)
    agreement = session_agreement(
        (r.ranking for r in result.reviews), [e.seat_id for e in result.ranking]
    )
    return {
        "session_id": result.session_id,
        "created_at": created,
        "day": created.strftime("%Y-%m-%d"),
        "tier": result.tier,
        "mode": result.mode,
        "status": result.status,
        "gateway": result.gateway,
        "prompt": result.prompt,
        "chairman_model": result.chairman.requested_model,
        "chairman_resolved": result.chairman.resolved_model,
        "chairman_status": result.chairman.status,
        "chairman_error": result.chairman.error,
        "synthesis_is_fallback": result.synthesis_is_fallback,
        "duplicate_policy": result.duplicate_policy,
        "config_hash": result.config_hash,
        "prompt_tokens": result.usage.prompt_tokens,
        "completion_tokens": result.usage.completion_tokens,
        "cost_usd": result.usage.cost_usd,
        "distinct_models": len(set(answered)),
        "provider_entropy": normalised_entropy(providers.values(), len(answered)),
        "pareto_seats": sum(1 for s in result.seats if s.is_pareto),
        "pareto_exact": "exact" in pareto_kinds,
        "pareto_family": "family" in pareto_kinds,
        "pareto_drift": "drift" in pareto_kinds,
        "kendall_w": agreement[0] if agreement else None,
        "kendall_w_chance": agreement[1] if agreement else None,
        "paired_diff": paired_diff(
            (s.borda for s in result.seats if s.is_pareto),
            (s.borda for s in result.seats if not s.is_pareto),
        ),
        "result_json": model_json(result),
        "parent_session_id": result.parent_session_id,
    }


def _seat_rows(result: SessionResult, registry: Registry) -> list[Row]:
    first = result.ranking[0].seat_id if result.ranking else None
    return [
        {
            "session_id": result.session_id,
            "seat_id": s.seat_id,
            "requested_model": s.requested_model,
            "is_pareto": s.is_pareto,
            "variant": s.variant,
            "min_coding_score": s.min_coding_score,
            "resolved_model": s.resolved_model,
            "provider": registry.provider_of(s.resolved_model) if s.resolved_model else None,
            "family": registry.family_of(s.resolved_model) if s.resolved_model else None,
            "status": s.status,
            "error": s.error,
            "latency_ms": s.latency_ms,
            "cost_usd": s.cost_usd,
            "label": s.label,
            "borda": s.borda,
            "votes": s.votes,
            "borda_peers": s.borda_peers,
            "is_first": s.seat_id == first,
            "duplicate_kind": s.duplicate_kind,
            "duplicate_of": ",".join(s.duplicate_of) or None,
            "rerouted_from": s.rerouted_from,
            "tier": result.tier,
            "day": as_utc(result.created_at).strftime("%Y-%m-%d"),
        }
        for s in result.seats
    ]


def _review_rows(result: SessionResult) -> dict[str, list[Row]]:
    """``reviews`` (one row per reviewer) and ``review_ranks`` (one per counted position)."""
    requested = {s.seat_id: s.requested_model for s in result.seats}
    reviews: list[Row] = []
    ranks: list[Row] = []
    for seq, r in enumerate(result.reviews):
        # A ranking never names a seat twice (ranking.parse_ranking); a hand-made one might,
        # and the first mention is the vote that counts.
        ranking = list(dict.fromkeys(r.ranking))
        common = {
            "session_id": result.session_id,
            "reviewer": r.reviewer_seat,
            "tier": result.tier,
            "judge": r.judge,
        }
        reviews.append(
            {
                **common,
                "seq": seq,
                "requested_model": r.requested_model or requested.get(r.reviewer_seat),
                "resolved_model": r.resolved_model,
                "status": r.status,
                "abstained": r.abstained,
                "parse": r.parse,
                "shown_first": r.order[0] if r.order else None,
                "top_choice": ranking[0] if ranking else None,
                "candidates": len(r.order),
                "order_json": json.dumps(r.order),
                "ranking_json": json.dumps(ranking),
            }
        )
        ranks += [{**common, "position": pos, "seat_id": s} for pos, s in enumerate(ranking)]
    return {"reviews": reviews, "review_ranks": ranks}


def _call_rows(result: SessionResult, registry: Registry) -> list[Row]:
    rows = []
    for seq, c in enumerate(result.calls):
        cost, estimated = c.cost_usd, c.cost_estimated
        if cost is None and c.resolved_model:
            # No billed cost came back: price the tokens from the registry and say so.
            cost = registry.estimate_cost(c.resolved_model, c.prompt_tokens, c.completion_tokens)
            estimated = cost is not None
        rows.append(
            {
                "session_id": result.session_id,
                "seq": seq,
                "tier": result.tier,
                "stage": c.stage,
                "seat_id": c.seat_id,
                "requested_model": c.requested_model,
                "is_pareto": is_pareto_model(c.requested_model),
                "resolved_model": c.resolved_model,
                "min_coding_score": c.min_coding_score,
                "variant": c.variant,
                "generation_id": c.generation_id,
                "status": c.status,
                "error": c.error,
                "started_at": as_utc(c.started_at),
                "latency_ms": c.latency_ms,
                "prompt_tokens": c.prompt_tokens,
                "completion_tokens": c.completion_tokens,
                "cost_usd": cost,
                "cost_estimated": estimated,
                "attempts": c.attempts,
                "provider": c.provider,
                "router_json": model_json(c.router) if c.router is not None else None,
            }
        )
    return rows
