"""What a batch run reports: each prompt's outcome, the summary, and live progress.

``BatchResult`` is the ``llm-council batch --json`` contract. Fields named ``estimate``
hold estimates (registry prices x expected tokens); ``spent_usd`` and ``cost_usd`` are what
the gateway reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pydantic import BaseModel, Field, computed_field

from llm_council.batch_input import JournalStatus, PromptItem

DONE_STATUSES = frozenset({"ok", "partial"})
FAILED_STATUSES = frozenset({"failed", "refused", "error"})


class ItemOutcome(BaseModel):
    """What one prompt came to in this run."""

    id: str
    session_id: str | None
    status: JournalStatus
    tier: str
    estimate_usd: float | None
    cost_usd: float
    error: str | None = None
    duration_s: float


class BatchResult(BaseModel):
    """The summary of a batch run (``llm-council batch --json``). Costs in ``estimate``
    fields are estimates; ``spent_usd`` is what the gateway reported."""

    prompts: int
    tier: str | None
    concurrency: int
    max_usd: float | None
    journal: str | None
    outcomes: list[ItemOutcome] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)  # finished in an earlier run
    not_started: list[str] = Field(default_factory=list)
    stopped: Literal["budget", "interrupted"] | None = None
    stop_reason: str | None = None
    spent_usd: float = 0.0  # this run
    spent_before_usd: float = 0.0  # earlier runs of the same journal
    rate_limit_holds: int = 0  # 429s with Retry-After that held the whole batch back
    notices: list[str] = Field(default_factory=list)

    def count(self, statuses: frozenset[str]) -> int:
        return sum(1 for o in self.outcomes if o.status in statuses)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def done(self) -> int:
        """Sessions of this run that finished ``ok`` or ``partial``."""
        return self.count(DONE_STATUSES)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def failed(self) -> int:
        """Prompts of this run whose session failed, or that could not run at all."""
        return self.count(FAILED_STATUSES)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def interrupted(self) -> int:
        return self.count(frozenset({"interrupted"}))


@dataclass(slots=True)
class BatchState:
    """Live numbers for a progress display."""

    total: int  # prompts to run this time
    started_at: float = field(default_factory=time.monotonic)
    done: int = 0
    failed: int = 0
    interrupted: int = 0
    running: dict[str, float] = field(default_factory=dict)  # id -> its estimate
    spent_usd: float = 0.0  # this run
    spent_before_usd: float = 0.0

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.interrupted

    def eta_s(self) -> float | None:
        """Seconds left at the pace so far (None before the first session finished)."""
        if self.finished == 0:
            return None
        elapsed = time.monotonic() - self.started_at
        return elapsed / self.finished * max(0, self.total - self.finished)

    def projected(self, estimate: float) -> float:
        """Spend if a session with this estimate started now and everything ran as estimated."""
        return self.spent_before_usd + self.spent_usd + sum(self.running.values()) + estimate


class BatchProgress(Protocol):
    """Receives batch events; the CLI draws a bar on a terminal, plain lines elsewhere."""

    def session_started(self, item: PromptItem, session_id: str, state: BatchState) -> None: ...

    def session_finished(self, outcome: ItemOutcome, state: BatchState) -> None: ...

    def stopped(self, reason: str, state: BatchState) -> None: ...


class NoProgress:
    """Progress for callers that show none."""

    def session_started(self, item: PromptItem, session_id: str, state: BatchState) -> None:
        pass

    def session_finished(self, outcome: ItemOutcome, state: BatchState) -> None:
        pass

    def stopped(self, reason: str, state: BatchState) -> None:
        pass
