"""Stage 2 figures of the report: the paired Pareto-vs-named comparison, reviewer agreement
(Kendall's W), position bias, and how many sessions a judge reviewed.

Definitions (per tier; ``overall`` merges the tiers' statistics):

- ``paired``: per session with a Borda score on both sides, d = the mean Borda of its Pareto
  seats (one, as pools are built) minus the mean Borda of its named seats (``seats.borda``,
  judges' votes included), stored as ``sessions.paired_diff`` (``report_stats.paired_diff``).
  ``mean_diff`` is the mean of d over sessions, with a percentile bootstrap 95% interval
  over sessions (``report_stats.bootstrap_mean_ci95``); a win is d > 0, a loss d < 0, a tie
  d = 0 (d is rounded to 6 places, like Borda itself).
- ``agreement``: ``kendall_w`` is the mean over sessions of each session's Kendall's W
  (``sessions.kendall_w``, see ``report_stats.session_agreement``: 1 when every reviewer
  ranked its answers in the council's final order, 0 when the ballots cancel out), over the
  sessions with at least two ballots that share a seat. Beside it (table, Markdown, HTML,
  advice) the mean chance level (``sessions.kendall_w_chance``: the W random ballots would
  score on the same design) and agreement beyond chance, the mean of
  (W - chance) / (1 - chance): 0 is chance, 1 full agreement.
- ``position_bias``: over counted reviews shown at least two answers (``reviews``), the
  share whose top choice was the answer shown first, against chance, the mean of
  1/candidates over the same reviews.

Per-session W and d are computed when a session is stored: as SQL over ``review_ranks`` they
need a per-seat then a per-session GROUP BY over every ballot position, which took 2 s of the
report's 2 s budget at 100k sessions (ADR-004).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import and_, case, func, literal, select

from llm_council.audition import schema
from llm_council.audition.report_models import Agreement, Paired, PositionBias
from llm_council.audition.report_stats import bootstrap_mean_ci95, mean_ci95, ratio, wilson_ci95

BEYOND_CHANCE_BOUNDS = (-1e9, 1.0)  # a cycle of 3 seats scores (0 - .75) / .25 = -3


@dataclass
class ReviewAcc:
    """Stage 2 statistics of one tier; merging two gives the statistics of both."""

    diffs: Counter[float] = field(default_factory=Counter)  # paired d -> sessions
    w_n: int = 0
    w_sum: float = 0.0
    w_sq: float = 0.0
    chance_sum: float = 0.0
    beyond_n: int = 0
    beyond_sum: float = 0.0
    beyond_sq: float = 0.0
    shown_reviews: int = 0
    first_choices: int = 0
    chance_rate_sum: float = 0.0
    judged_sessions: int = 0

    def merge(self, other: ReviewAcc) -> None:
        for f in fields(self):
            if f.name == "diffs":
                self.diffs.update(other.diffs)
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def paired(self) -> Paired:
        n = sum(self.diffs.values())
        ci = bootstrap_mean_ci95(self.diffs)
        return Paired(
            sessions=n,
            mean_diff=ratio(sum(d * c for d, c in self.diffs.items()), n),
            ci95=list(ci) if ci else None,
            wins=sum(c for d, c in self.diffs.items() if d > 0),
            losses=sum(c for d, c in self.diffs.items() if d < 0),
            ties=self.diffs.get(0.0, 0),
        )

    def agreement(self) -> Agreement:
        ci = mean_ci95(self.w_n, self.w_sum, self.w_sq)
        beyond = mean_ci95(self.beyond_n, self.beyond_sum, self.beyond_sq, BEYOND_CHANCE_BOUNDS)
        return Agreement(
            kendall_w=ratio(self.w_sum, self.w_n),
            sessions=self.w_n,
            ci95=list(ci) if ci else None,
            chance_w=ratio(self.chance_sum, self.w_n),
            beyond_chance=ratio(self.beyond_sum, self.beyond_n),
            beyond_chance_ci95=list(beyond) if beyond else None,
            beyond_chance_sessions=self.beyond_n,
        )

    def position_bias(self) -> PositionBias:
        ci = wilson_ci95(self.first_choices, self.shown_reviews)
        return PositionBias(
            reviews=self.shown_reviews,
            first_choice_rate=ratio(self.first_choices, self.shown_reviews),
            chance_rate=ratio(self.chance_rate_sum, self.shown_reviews),
            first_choices=self.first_choices,
            ci95=list(ci) if ci else None,
        )


def collect_reviews_by_tier(
    conn: Any, conds: list[Any], *, per_session: bool, reviews: bool
) -> dict[str, ReviewAcc]:
    """Stage 2 statistics per tier of the sessions ``conds`` (conditions on
    ``schema.sessions``) select. A store behind schema version 2 lacks the per-session
    columns (``per_session`` False) or the ``reviews`` table (``reviews`` False): those
    figures are then empty, not an error."""
    accs: dict[str, ReviewAcc] = {}

    def acc(tier: str) -> ReviewAcc:
        return accs.setdefault(tier, ReviewAcc())

    if per_session:
        s = schema.sessions
        w, chance = s.c.kendall_w, s.c.kendall_w_chance
        beyond = case((chance < 1.0, (w - chance) / (literal(1.0) - chance)), else_=None)
        # Grouped by d as well, so one scan of the sessions' covering index gives the paired
        # differences (few distinct values: Borda is a mean of a few ballot scores) and the
        # agreement sums, which Python adds up per tier.
        for tier, diff, n, w_n, w_sum, w_sq, chance_sum, b_n, b_sum, b_sq in conn.execute(
            select(
                s.c.tier,
                s.c.paired_diff,
                func.count(),
                func.count(w),
                func.sum(w),
                func.sum(w * w),
                func.sum(chance),
                func.count(beyond),
                func.sum(beyond),
                func.sum(beyond * beyond),
            )
            .where(*conds)
            .group_by(s.c.tier, s.c.paired_diff)
        ):
            a = acc(tier)
            if diff is not None:
                # Rounded again: SQLite and PostgreSQL may not hand back the same last bit.
                a.diffs[round(float(diff), 6) + 0.0] += int(n)
            a.w_n += int(w_n)
            a.w_sum += float(w_sum or 0)
            a.w_sq += float(w_sq or 0)
            a.chance_sum += float(chance_sum or 0)
            a.beyond_n += int(b_n)
            a.beyond_sum += float(b_sum or 0)
            a.beyond_sq += float(b_sq or 0)
    if reviews:
        _collect_reviews(conn, conds, acc)
    return accs


def _collect_reviews(conn: Any, conds: list[Any], acc: Any) -> None:
    rv, s = schema.reviews, schema.sessions
    source: Any = rv.join(s, s.c.session_id == rv.c.session_id) if conds else rv
    shown = and_(rv.c.top_choice.is_not(None), rv.c.candidates >= 2)
    for tier, n, firsts, chance in conn.execute(
        select(
            rv.c.tier,
            func.count(),
            func.sum(case((rv.c.top_choice == rv.c.shown_first, 1), else_=0)),
            func.sum(1.0 / rv.c.candidates),
        )
        .select_from(source)
        .where(*conds, shown)
        .group_by(rv.c.tier)
    ):
        a = acc(tier)
        a.shown_reviews, a.first_choices = int(n), int(firsts or 0)
        a.chance_rate_sum = float(chance or 0)
    for tier, n in conn.execute(
        select(rv.c.tier, func.count(func.distinct(rv.c.session_id)))
        .select_from(source)
        .where(*conds, rv.c.judge)
        .group_by(rv.c.tier)
    ):
        acc(tier).judged_sessions = int(n)
