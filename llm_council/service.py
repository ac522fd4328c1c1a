"""The one service every interface calls: the CLI, the Python API users, MCP and HTTP.

It runs sessions (with progress events and interruption that keeps finished calls), looks
sessions up and builds reports. Interfaces translate their protocol to and from these
calls and hold no council logic of their own (ADR-012).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from llm_council.api import Council
from llm_council.archive import SessionArchive
from llm_council.attachments import Attachment
from llm_council.choices import DuplicatePolicy, GatewayChoice, Mode
from llm_council.council.result import SessionResult
from llm_council.council.session import ProgressListener

if TYPE_CHECKING:
    pass


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
    # Files and a diff for every seat and the chairman (llm_council.attachments).
    attachments: tuple[Attachment, ...] = ()
    # A follow-up of this stored session (id or unique prefix): its tier and mode are the
    # defaults, and its question and synthesis go along as data unless the prompt already
    # carries the conversation (parent_in_prompt=False: the HTTP message history).
    parent_session_id: str | None = None
    parent_in_prompt: bool = True


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
            attachments=request.attachments,
            parent_session_id=request.parent_session_id,
            parent_in_prompt=request.parent_in_prompt,
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

    @property
    def archive(self) -> SessionArchive:
        """The read side over this council's store: sessions, threads, reports."""
        if self.council.audition is None:
            raise ServiceError("this council has no audition store", bad_input=False)
        return SessionArchive(self.council.audition.store, self.council.registry)

    async def aclose(self) -> None:
        await self.council.aclose()
