"""The typed report: its JSON form is the ``llm-council report --format json`` contract.

Fields marked ``exclude=True`` are for the renderers and recommendations only; they never
appear in the JSON, so the contract's keys stay exactly as DESIGN.md lists them.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ModelCount(BaseModel):
    model: str
    count: int
    share: float


class DuplicateRate(BaseModel):
    any: float
    exact: float
    family: float
    drift: float


class DuplicatedSeat(BaseModel):
    model: str
    sessions: int
    share: float


class Diversity(BaseModel):
    distinct_models_per_session: float
    provider_entropy: float


class PeerGroup(BaseModel):
    mean_borda: float | None
    ci95: list[float] | None  # Student t interval of mean_borda; None when n < 2
    first_place_rate: float | None
    n: int  # seats with a Borda score (the ones peers could rank)
    firsts: int = Field(default=0, exclude=True)
    first_place_ci95: list[float] | None = Field(default=None, exclude=True)  # Wilson


class BordaGroup(BaseModel):
    mean_borda: float | None
    ci95: list[float] | None  # Student t interval of mean_borda; None when n < 2
    n: int  # seats with a Borda score from seat reviewers


class WithoutJudges(BaseModel):
    """Borda from the seats' own reviews only (``seats.borda_peers``): judges left out.

    It differs from ``peer_review.pareto`` / ``named`` only in sessions where a judge
    reviewed (``judged_sessions``); sessions stored before schema version 2 have none.
    """

    pareto: BordaGroup
    named: BordaGroup
    judged_sessions: int


class PeerReview(BaseModel):
    pareto: PeerGroup
    named: PeerGroup
    without_judges: WithoutJudges  # an addition to the contract's pareto / named


class Agreement(BaseModel):
    """How far the reviewers of a session agreed: Kendall's W per session, averaged.

    Per session W is the spread of the seats' summed ballot scores over the spread they
    would have had if every reviewer had ranked its seats in the session's final order;
    with every reviewer ranking every answer that is Kendall's W exactly. 1: all agreed; 0:
    the ballots cancel out. ``sessions``: sessions with at least two ballots over a shared
    seat (see ``report_reviews``).
    """

    kendall_w: float | None
    sessions: int
    ci95: list[float] | None = Field(default=None, exclude=True)  # Student t
    chance_w: float | None = Field(default=None, exclude=True)  # mean W of random ballots
    # Agreement beyond chance, (W - chance) / (1 - chance) per session: 0 = chance, 1 = full.
    beyond_chance: float | None = Field(default=None, exclude=True)
    beyond_chance_ci95: list[float] | None = Field(default=None, exclude=True)
    beyond_chance_sessions: int = Field(default=0, exclude=True)


class Paired(BaseModel):
    """Within each session, the Pareto seat's Borda minus the named seats' mean Borda."""

    sessions: int  # sessions where both had a Borda score
    mean_diff: float | None  # positive: the Pareto seat was ranked better
    ci95: list[float] | None  # percentile bootstrap over sessions (report_stats)
    wins: int
    losses: int
    ties: int


class PositionBias(BaseModel):
    """How often reviewers put the answer shown first on top, against chance."""

    reviews: int  # counted reviews that were shown at least two answers
    first_choice_rate: float | None
    chance_rate: float | None  # mean of 1/candidates over the same reviews
    first_choices: int = Field(default=0, exclude=True)
    ci95: list[float] | None = Field(default=None, exclude=True)  # Wilson


class CostGroup(BaseModel):
    mean_usd: float | None
    total_usd: float


class Cost(BaseModel):
    pareto: CostGroup
    named: CostGroup
    above_band_calls: int


class DayModels(BaseModel):
    date: str
    models: dict[str, int]


class ShortlistModel(BaseModel):
    """A model the router listed as available on Pareto calls (``endpoints.available``)."""

    model: str
    seen: int  # Pareto calls that listed it (once per call, whatever the providers)
    selected: int  # of those, calls in which the router selected it


class FailedModel(BaseModel):
    model: str
    count: int  # Pareto calls in which an attempt on this model failed (status >= 400)


class Fallbacks(BaseModel):
    """Pareto calls on which the router had to fall back after a failed attempt.

    ``share`` is ``calls`` over the Pareto seat calls that carried router metadata (the
    only calls whose attempts are known); 0.0 when none did.
    """

    calls: int
    share: float
    failed_models: list[FailedModel]
    # The denominator of ``share``: Pareto seat calls with router metadata.
    with_metadata: int = Field(default=0, exclude=True)


class TierReport(BaseModel):
    sessions: int
    # Sessions that had a Pareto seat: the denominator of duplicate_rate and duplicated_seats.
    pareto_sessions: int = Field(default=0, exclude=True)
    flagged_sessions: dict[str, int] = Field(default_factory=dict, exclude=True)
    seats: int
    pareto_seats: int
    pareto_calls: int
    resolved_models: list[ModelCount]
    duplicate_rate: DuplicateRate
    duplicated_seats: list[DuplicatedSeat]
    diversity: Diversity
    peer_review: PeerReview
    cost: Cost
    by_day: list[DayModels]
    observed_shortlist: list[ShortlistModel]
    fallbacks: Fallbacks
    agreement: Agreement
    paired: Paired
    position_bias: PositionBias  # an addition to the contract's keys


class Window(BaseModel):
    since: datetime | None
    until: datetime | None
    sessions: int


class Report(BaseModel):
    """The ``llm-council report --format json`` contract."""

    window: Window
    tiers: dict[str, TierReport]
    overall: TierReport
    recommendations: list[str]
