"""The one service every interface calls: the CLI, the Python API users, MCP and HTTP.

It runs sessions (with progress events and interruption that keeps finished calls), looks
sessions up and builds reports. Interfaces translate their protocol to and from these
calls and hold no council logic of their own (ADR-012).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from llm_council.api import Council
from llm_council.choices import DuplicatePolicy, GatewayChoice, Mode
from llm_council.council.result import SessionResult
from llm_council.council.session import ProgressListener

if TYPE_CHECKING:
    from llm_council.audition.report_models import Report
    from llm_council.audition.store import AuditionStore, SessionSummary


@dataclass(frozen=True, slots=True)
class RunRequest:
    """One council question and how to ask it; None means the config's default."""

    prompt: str
    tier: str | None = None
    mode: Mode | None = None
    chairman: str | None = None
    duplicate_policy: DuplicatePolicy | None = None
    strict: bool = False
    max_usd: float | None = None  # refuse before any call when the estimate is above
    session_id: str | None = None


@dataclass(frozen=True, slots=True)
class SessionPage:
    """A page of ``sessions list``: newest first, with the total so truncation is visible."""

    sessions: list[SessionSummary]
    total: int
    notices: list[str]

    @property
    def truncated(self) -> bool:
        return len(self.sessions) < self.total


class ServiceError(Exception):
    """A request the service cannot serve; ``bad_input`` separates caller errors (exit 2)."""

    def __init__(self, message: str, *, bad_input: bool) -> None:
        super().__init__(message)
        self.bad_input = bad_input


class CouncilService:
    """A council and its audition store behind the operations every interface offers."""

    def __init__(self, council: Council) -> None:
        self.council = council

    @classmethod
    def from_config(
        cls,
        path: str | Path | None = None,
        *,
        gateway: GatewayChoice = "auto",
        env: Mapping[str, str] | None = None,
        sandbox_seed: int = 0,
    ) -> CouncilService:
        """Load config, registry, gateway and store (``Council.from_config``)."""
        return cls(Council.from_config(path, gateway=gateway, env=env, sandbox_seed=sandbox_seed))

    @property
    def notices(self) -> tuple[str, ...]:
        """Said once to the user when the service starts (e.g. the sandbox fallback)."""
        return self.council.notices

    async def run(
        self,
        request: RunRequest,
        *,
        progress: ProgressListener | None = None,
        on_interrupt: Callable[[SessionResult], None] | None = None,
        on_synthesis_delta: Callable[[str], None] | None = None,
    ) -> SessionResult:
        """Run one session. Cancelled, it is stored as ``interrupted``, handed to
        ``on_interrupt``, and the cancellation propagates (``asyncio.CancelledError``).
        ``on_synthesis_delta`` receives the chairman's synthesis piece by piece as it streams."""
        return await self.council.run(
            request.prompt,
            request.tier,
            request.mode,
            chairman=request.chairman,
            duplicate_policy=request.duplicate_policy,
            progress=progress,
            session_id=request.session_id,
            strict=request.strict,
            max_usd=request.max_usd,
            on_interrupt=on_interrupt,
            on_synthesis_delta=on_synthesis_delta,
        )

    async def run_keeping_interrupted(
        self,
        request: RunRequest,
        *,
        progress: ProgressListener | None = None,
        on_synthesis_delta: Callable[[str], None] | None = None,
    ) -> SessionResult:
        """``run``, but an interrupted session is returned (status ``interrupted``) instead of
        re-raising when the caller's own task was cancelled, for interfaces that report it."""
        kept: list[SessionResult] = []
        try:
            return await self.run(
                request,
                progress=progress,
                on_interrupt=kept.append,
                on_synthesis_delta=on_synthesis_delta,
            )
        except asyncio.CancelledError:
            if kept:
                return kept[0]
            raise

    def _store(self) -> AuditionStore:
        if self.council.audition is None:
            raise ServiceError("this council has no audition store", bad_input=False)
        return self.council.audition.store

    def sessions(self, *, last: int | None = 20, tier: str | None = None) -> SessionPage:
        """The newest ``last`` sessions (all when None) of one tier or all tiers."""
        store = self._store()
        rows = store.list_sessions(last=last, tier=tier)
        total = store.count_sessions(tier) if last is not None else len(rows)
        return SessionPage(rows, total, list(store.notices))

    def session(self, session_id: str) -> SessionResult:
        """One stored session (full id or unique prefix) with its calls."""
        return self._store().get_session(session_id)

    def report(
        self, *, since: datetime | None = None, last: int | None = None, tier: str | None = None
    ) -> Report:
        """The duplicate / diversity / peer-review / cost report over a window of sessions."""
        from llm_council.audition.report import build_report

        return build_report(self._store(), self.council.registry, since=since, last=last, tier=tier)

    async def aclose(self) -> None:
        await self.council.aclose()
