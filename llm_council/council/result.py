"""The typed session result; its JSON form is the ``llm-council run --json`` contract."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer

from llm_council.gateway.base import CallStatus, GatewayKind
from llm_council.gateway.router_metadata import RouterMetadata
from llm_council.pareto import is_pareto_model

# "interrupted": the user or a client cancelled the session; every completed call is kept.
SessionStatus = Literal["ok", "partial", "failed", "interrupted"]
Stage = Literal["answer", "review", "reroute", "judge", "chairman"]
ParseKind = Literal["json", "bare_json", "final_ranking", "labels", "none"]
# exact/family/drift are duplicate findings; "unnamed": the response did not say which
# concrete model answered (kept, paid for, model unknown).
FlagKind = Literal["exact", "family", "drift", "unnamed"]
# How a seat's answer was obtained: through the Pareto router, or by naming a concrete
# model directly (a reroute). None for named seats, which are always direct.
AnsweredVia = Literal["router", "direct"]


class DuplicateFlag(BaseModel):
    """One duplicate finding on a seat: ``{"kind": "exact", "with": "s1"}`` or a drift."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    kind: FlagKind
    with_seat: str | None = Field(default=None, alias="with")
    model: str | None = None  # the other seat's concrete model (exact/family); not serialised
    stage2_model: str | None = None  # drift: what the seat's review call resolved to

    @model_serializer(mode="plain")
    def _compact(self) -> dict[str, Any]:
        # Exactly the contract's shapes; ``model`` stays in memory and in the flags table.
        out: dict[str, Any] = {"kind": self.kind}
        if self.with_seat is not None:
            out["with"] = self.with_seat
        if self.stage2_model is not None:
            out["stage2_model"] = self.stage2_model
        return out


class CallRecord(BaseModel):
    """One gateway call of a session, as the audition store keeps it."""

    stage: Stage
    seat_id: str  # "chairman" for the stage 3 call
    requested_model: str
    resolved_model: str | None
    min_coding_score: float | None = None
    variant: str | None = None
    generation_id: str | None = None
    status: CallStatus
    error: str | None = None
    started_at: datetime
    latency_ms: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    cost_estimated: bool = False
    attempts: int = 1
    provider: str | None = None  # the serving provider, as the response named it
    router: RouterMetadata | None = None  # OpenRouter's openrouter_metadata, when sent


class SeatResult(BaseModel):
    seat_id: str
    requested_model: str
    variant: str | None = None
    min_coding_score: float | None = None
    resolved_model: str | None = None
    status: CallStatus
    error: str | None = None
    latency_ms: float | None = None
    cost_usd: float | None = None
    label: str | None = None
    borda: float | None = None
    votes: int = 0
    borda_peers: float | None = None  # Borda from seat reviewers only (judges left out)
    duplicate_of: list[str] = Field(default_factory=list)
    duplicate_kind: Literal["exact", "family"] | None = None
    flags: list[DuplicateFlag] = Field(default_factory=list)
    answer: str | None = None
    generation_id: str | None = None
    attempts: int = 0
    rerouted_from: str | None = None  # the model a reroute replaced, when one happened
    answered_via: AnsweredVia | None = None  # Pareto seats: "router", or "direct" if rerouted

    @property
    def is_pareto(self) -> bool:
        return is_pareto_model(self.requested_model)


class RankingEntry(BaseModel):
    seat_id: str
    borda: float
    votes: int


class ReviewResult(BaseModel):
    reviewer_seat: str  # a seat id, or "judge1".. for an independent judge
    resolved_model: str | None
    ranking: list[str]  # seat ids, best first, only the votes that counted
    abstained: bool
    parse: ParseKind
    status: CallStatus = "ok"
    error: str | None = None
    judge: bool = False  # an independent reviewer, not a seat (see council.judges)
    requested_model: str | None = None  # the judge's model; seats' are on the seat
    order: list[str] = Field(default_factory=list)  # seat ids in the order shown, first first


Confidence = Literal["high", "medium", "low"]


class Disagreement(BaseModel):
    point: str
    seats: dict[str, str]  # seat id -> that seat's position


class Verdict(BaseModel):
    """The chairman's structured account next to its synthesis (seat ids, not labels)."""

    consensus: list[str] = Field(default_factory=list)
    disagreements: list[Disagreement] = Field(default_factory=list)
    blind_spots: list[str] = Field(default_factory=list)
    confidence: Confidence | None = None
    built_on: list[str] = Field(default_factory=list)


class ChairmanResult(BaseModel):
    requested_model: str
    resolved_model: str | None = None
    status: CallStatus
    error: str | None = None


class UsageTotals(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class AttachmentRecord(BaseModel):
    """What the store keeps of an attached file or diff: never its content."""

    name: str  # the path as shown to the models, or "git diff REF" / "diff"
    kind: Literal["file", "diff"]
    sha256: str  # of the UTF-8 text sent
    size: int  # bytes


class SessionResult(BaseModel):
    """Everything one council session produced. ``calls`` is kept for the audition store only."""

    session_id: str
    created_at: datetime
    tier: str
    mode: Literal["coding", "general"]
    status: SessionStatus
    gateway: GatewayKind
    prompt: str
    seats: list[SeatResult]
    ranking: list[RankingEntry] = Field(default_factory=list)
    reviews: list[ReviewResult] = Field(default_factory=list)
    chairman: ChairmanResult
    synthesis: str | None = None
    synthesis_is_fallback: bool = False
    verdict: Verdict | None = None  # None, with a notice saying why, when there is none
    usage: UsageTotals = Field(default_factory=UsageTotals)
    duplicate_policy: Literal["flag", "collapse", "reroute"] = "flag"
    notices: list[str] = Field(default_factory=list)
    config_hash: str | None = None
    attachments: list[AttachmentRecord] = Field(default_factory=list)  # sent to the seats
    parent_session_id: str | None = None  # the session this one follows up
    # Why the audition store did not take this session and where the record went instead;
    # also a notice. Not part of the JSON contract.
    storage_problem: str | None = Field(default=None, exclude=True)
    calls: list[CallRecord] = Field(default_factory=list, exclude=True)

    def stored_json(self) -> dict[str, Any]:
        """The ``run --json`` contract plus ``calls[]``: how ``sessions show --json``, MCP and
        HTTP show a stored session."""
        return {
            **self.model_dump(mode="json"),
            "calls": [c.model_dump(mode="json") for c in self.calls],
        }

    def seat(self, seat_id: str) -> SeatResult:
        for seat in self.seats:
            if seat.seat_id == seat_id:
                return seat
        raise KeyError(seat_id)
