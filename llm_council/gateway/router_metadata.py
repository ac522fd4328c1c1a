"""OpenRouter's own account of a routed call: the ``openrouter_metadata`` response field.

Sent back on successful responses when the request carries ``X-OpenRouter-Metadata:
enabled`` (docs: "Router Metadata"; older spelling ``X-OpenRouter-Experimental-Metadata``).
The docs call the shape experimental and additive, so parsing here is total: unknown
fields are kept in ``raw``, missing or mistyped fields become ``None`` / empty lists, and
nothing in it can fail the call that carried it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Both spellings are sent: servers ignore the one they do not know (docs: Router Metadata).
METADATA_HEADERS: dict[str, str] = {
    "X-OpenRouter-Metadata": "enabled",
    "X-OpenRouter-Experimental-Metadata": "enabled",
}
METADATA_FIELD = "openrouter_metadata"


class RouterCandidate(BaseModel):
    """One endpoint the router listed as available (``endpoints.available[]``)."""

    model_config = ConfigDict(frozen=True)

    model: str
    provider: str | None = None
    selected: bool = False


class RouterAttempt(BaseModel):
    """One upstream attempt the router made (``attempts[]``); a failed one has status >= 400."""

    model_config = ConfigDict(frozen=True)

    model: str | None = None
    provider: str | None = None
    status: int | None = None

    @property
    def failed(self) -> bool:
        return self.status is not None and self.status >= 400


class RouterMetadata(BaseModel):
    """The parts of ``openrouter_metadata`` the audition record uses, plus the raw object."""

    model_config = ConfigDict(frozen=True)

    requested: str | None = None
    strategy: str | None = None
    candidates: tuple[RouterCandidate, ...] = ()
    attempts: tuple[RouterAttempt, ...] = ()
    summary: str | None = None
    generation_time_ms: float | None = None
    raw: dict[str, Any] = Field(default_factory=dict)

    @property
    def selected(self) -> str | None:
        """The model the router marked as selected, if it marked one."""
        return next((c.model for c in self.candidates if c.selected), None)

    @property
    def failed_attempts(self) -> tuple[RouterAttempt, ...]:
        return tuple(a for a in self.attempts if a.failed)


def parse_router_metadata(raw: Any) -> RouterMetadata | None:
    """``RouterMetadata`` from a response's ``openrouter_metadata`` value; never raises.

    ``None`` when the server sent nothing usable (absent, null, not an object).
    """
    if not isinstance(raw, dict):
        return None
    endpoints = raw.get("endpoints")
    available = endpoints.get("available") if isinstance(endpoints, dict) else None
    return RouterMetadata(
        requested=_text(raw.get("requested")),
        strategy=_text(raw.get("strategy")),
        candidates=tuple(
            RouterCandidate(
                model=entry["model"],
                provider=_text(entry.get("provider")),
                selected=entry.get("selected") is True,
            )
            for entry in _objects(available)
            if isinstance(entry.get("model"), str) and entry["model"]
        ),
        attempts=tuple(
            RouterAttempt(
                model=_text(entry.get("model")),
                provider=_text(entry.get("provider")),
                status=_status(entry.get("status")),
            )
            for entry in _objects(raw.get("attempts"))
        ),
        summary=_text(raw.get("summary")),
        generation_time_ms=_number(raw.get("generation_time")),
        raw=raw,
    )


def _objects(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _status(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value and value >= 0 else None
