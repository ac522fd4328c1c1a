"""The read side of the service: stored sessions, their threads and reports.

It needs only the audition store and the registry, never a gateway, so ``sessions`` and
``report`` work without a key or a network. ``CouncilService`` (ADR-012) hands its read
operations to an archive over its own store; the CLI opens one from the config. Every
interface thus lists, shows and reports through the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llm_council.audition.store import AuditionStore, SessionSummary, Thread, open_store
from llm_council.config import load_config
from llm_council.council.result import SessionResult
from llm_council.paths import default_overlay_path
from llm_council.registry import Registry, load_registry

if TYPE_CHECKING:
    from llm_council.audition.report_models import Report


@dataclass(frozen=True, slots=True)
class SessionPage:
    """A page of ``sessions list``: newest first, with the total so truncation is visible."""

    sessions: list[SessionSummary]
    total: int
    notices: list[str]

    @property
    def truncated(self) -> bool:
        return len(self.sessions) < self.total

    def to_json(self) -> dict[str, Any]:
        """``sessions list --json`` and MCP ``council_sessions``."""
        return {
            "sessions": [s.model_dump(mode="json") for s in self.sessions],
            "shown": len(self.sessions),
            "total": self.total,
            "truncated": self.truncated,
            "notices": self.notices,
        }


@dataclass(frozen=True, slots=True)
class StoredSession:
    """One stored session with its calls and its follow-up thread."""

    result: SessionResult
    thread: Thread

    def to_json(self) -> dict[str, Any]:
        """``sessions show --json`` and MCP ``council_session``: the ``run --json`` contract
        plus ``calls[]`` and ``thread``."""
        return {**self.result.stored_json(), "thread": self.thread.model_dump(mode="json")}


class SessionArchive:
    """Stored sessions and reports over one audition store. Store errors propagate
    (``AuditionStoreError`` and its kinds); the caller decides how to show them."""

    def __init__(self, store: AuditionStore, registry: Registry | None = None) -> None:
        self.store = store
        self._registry = registry

    @classmethod
    def open(cls, config_path: str | Path | None = None) -> SessionArchive:
        """The store the config names (``LLM_COUNCIL_AUDITION_URL`` etc.). ConfigError or
        StoreConfigError when the config or the store URL is bad."""
        return cls(open_store(load_config(config_path)))

    @property
    def notices(self) -> list[str]:
        """What the store wants said (e.g. a store at an older schema, read only)."""
        return list(self.store.notices)

    def sessions(self, *, last: int | None = 20, tier: str | None = None) -> SessionPage:
        """The newest ``last`` sessions (all when None) of one tier or all tiers."""
        rows = self.store.list_sessions(last=last, tier=tier)
        total = self.store.count_sessions(tier) if last is not None else len(rows)
        return SessionPage(rows, total, self.notices)

    def session(self, session_id: str) -> StoredSession:
        """One stored session (full id or unique prefix) with its calls and thread."""
        result = self.store.get_session(session_id)
        return StoredSession(result, self.store.thread(result.session_id))

    def report(
        self, *, since: datetime | None = None, last: int | None = None, tier: str | None = None
    ) -> Report:
        """The duplicate / diversity / peer-review / cost report over a window of sessions.
        The registry (with the sync overlay) is loaded on first use; RegistryError if bad."""
        # Imported here: the report code is the heaviest part, and listing or showing
        # sessions never needs it.
        from llm_council.audition.report import build_report

        if self._registry is None:
            self._registry = load_registry(overlay=default_overlay_path())
        return build_report(self.store, self._registry, since=since, last=last, tier=tier)

    def close(self) -> None:
        self.store.close()
