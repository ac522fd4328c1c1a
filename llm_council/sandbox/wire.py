"""OpenRouter's wire format as plain data: request checks, completions, errors, SSE, /models.

Pure functions with no ASGI in them, so the shapes can be read (and tested) on their own.
"""

from __future__ import annotations

import calendar
import json
import time
from decimal import Decimal
from typing import Any

from llm_council.registry import Registry

_ROLES = {"system", "user", "assistant", "tool", "developer"}
METADATA_FIELD = "openrouter_metadata"
_SSE_PIECE = 64  # characters per streamed delta; small enough that any answer streams in parts
_ARCHITECTURE = {
    "modality": "text->text",
    "input_modalities": ["text"],
    "output_modalities": ["text"],
    "tokenizer": "Other",
    "instruct_type": None,
}


def message_text(content: Any) -> str | None:
    """A message's text: a string, or OpenRouter's list of ``{"type": "text"}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        return "".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
    return None


def problem(body: dict[str, Any]) -> str | None:
    """Why OpenRouter would answer this chat-completions body with a 400, or None."""
    model = body.get("model")
    # Without `model`, the first `models` entry is the primary (docs: Model Fallbacks).
    models_only = model is None and isinstance(body.get("models"), list) and bool(body["models"])
    if not models_only and (not isinstance(model, str) or not model.strip()):
        return "'model' is required and must be a model id string"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty list"
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            return f"messages[{i}] needs a 'role' (one of {', '.join(sorted(_ROLES))})"
        if message_text(m.get("content")) is None:
            return f"messages[{i}].content must be a string or a list of text parts"
    if "plugins" in body and not (
        isinstance(body["plugins"], list) and all(isinstance(p, dict) for p in body["plugins"])
    ):
        return "'plugins' must be a list of objects"
    if "session_id" in body and not isinstance(body["session_id"], str):
        return "'session_id' must be a string"
    if "stream" in body and not isinstance(body["stream"], bool):
        return "'stream' must be a boolean"
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        return "'max_tokens' must be a positive integer"
    temperature = body.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or not 0 <= temperature <= 2
    ):
        return "'temperature' must be a number in [0, 2]"
    return None


def error_body(code: int, message: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{"error": {...}}`` exactly as OpenRouter shapes it."""
    return {"error": {"code": code, "message": message, "metadata": metadata or {}}}


def completion(
    *,
    gen_id: str,
    model: str,
    provider: str,
    content: str,
    finish_reason: str,
    prompt_tokens: int,
    completion_tokens: int,
    cost: float,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A non-streaming ``chat.completion`` object; ``model`` is the model that answered.

    ``metadata`` (router metadata, when the request opted in) becomes ``openrouter_metadata``.
    """
    payload: dict[str, Any] = {
        "id": gen_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "provider": provider,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "cost": cost,
            # Documented on every response (Usage Accounting); nothing is cached or
            # reasoned in the sandbox. cost_details is left out: BYOK is not simulated.
            "prompt_tokens_details": {
                "cached_tokens": 0,
                "cache_write_tokens": 0,
                "audio_tokens": 0,
            },
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }
    if metadata is not None:
        payload[METADATA_FIELD] = metadata
    return payload


def sse_events(payload: dict[str, Any], error: dict[str, Any] | None = None) -> list[str]:
    """The ``data:`` events streaming ``payload`` (a ``completion``), ending with ``[DONE]``.

    With ``error`` the stream breaks off after the first delta with an error chunk, the way
    OpenRouter reports a provider that fails mid-generation; no ``[DONE]`` follows.
    """
    base = {k: payload[k] for k in ("id", "provider", "model", "created")}
    base["object"] = "chat.completion.chunk"
    choice = payload["choices"][0]
    content = choice["message"]["content"]
    pieces = [content[i : i + _SSE_PIECE] for i in range(0, len(content), _SSE_PIECE)] or [""]
    events = []
    for number, piece in enumerate(pieces):
        delta = {"role": "assistant", "content": piece} if number == 0 else {"content": piece}
        events.append(_event({**base, "choices": [_chunk_choice(delta, None)]}))
        if error is not None:
            failed = {**base, "error": error, "choices": [_chunk_choice({"content": ""}, "error")]}
            return [*events, _event(failed)]
    final = {**base, "choices": [_chunk_choice({}, choice["finish_reason"])]}
    final["usage"] = payload["usage"]
    # Router metadata rides on the final chunk before [DONE] (docs: Router Metadata).
    if METADATA_FIELD in payload:
        final[METADATA_FIELD] = payload[METADATA_FIELD]
    events.append(_event(final))
    events.append("data: [DONE]\n\n")
    return events


def _chunk_choice(delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "finish_reason": finish_reason}


def _event(chunk: dict[str, Any]) -> str:
    return f"data: {json.dumps(chunk)}\n\n"


def model_rows(registry: Registry) -> list[dict[str, Any]]:
    """``GET /models`` ``data``: every registry model, then the meta-models (priced "0")."""
    # The snapshot date as UTC midnight, so the value does not depend on the host's zone.
    created = calendar.timegm(time.strptime(registry.data.snapshot_date, "%Y-%m-%d"))
    rows = [
        _row(
            m.id,
            m.name,
            created,
            f"{m.name}: simulated by the llm-council sandbox (registry snapshot prices).",
            m.context_length,
            {
                "prompt": per_token(m.prompt_per_mtok),
                "completion": per_token(m.completion_per_mtok),
            },
        )
        for m in registry.models
    ]
    rows += [
        _row(
            meta.id,
            meta.name,
            created,
            "Routes each request to a coding model on the quality/cost frontier; billed at "
            "the price of the model that answers.",
            meta.context_length,
            {"prompt": "0", "completion": "0"},
        )
        for meta in registry.meta_models
    ]
    return rows


def _row(
    model_id: str,
    name: str,
    created: int,
    description: str,
    context_length: int,
    pricing: dict[str, str],
) -> dict[str, Any]:
    return {
        "id": model_id,
        "canonical_slug": model_id,
        "name": name,
        "created": created,
        "description": description,
        "context_length": context_length,
        "pricing": pricing,
        "architecture": dict(_ARCHITECTURE),
        "top_provider": {"context_length": context_length, "is_moderated": False},
        "supported_parameters": ["max_tokens", "temperature", "stream"],
    }


def per_token(per_mtok: float) -> str:
    """USD per million tokens -> OpenRouter's per-token price string (0.25 -> "0.00000025")."""
    # Decimal keeps the string exact; float division would print 2.4999999999999998e-07.
    value = (Decimal(str(per_mtok)) / Decimal(1_000_000)).normalize()
    return format(value, "f") if value else "0"
