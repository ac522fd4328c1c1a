"""Plain-language recommendations from the report's evidence, not from session counts.

A line appears when its statistic clears a threshold at 95% confidence, however many
sessions that took; each names the tier, its numbers and their interval, and what to do:

- duplicate: the Wilson lower bound of the share of sessions (with a Pareto seat) in which
  the Pareto seat duplicated one named model is above 25%;
- drift: the Wilson lower bound of the drift rate is at least 10%;
- peer review: the paired Borda difference's bootstrap interval excludes zero (below:
  replace or raise the seat; above: it earns its seat);
- agreement: the upper bound of agreement beyond chance is below 0.2 (reviewers agree
  little more than random ballots would, so Borda carries little signal);
- position bias: the Wilson lower bound of the first-shown-first rate is above chance;
- price: any Pareto call billed above its band's ceiling (a billed fact, not an estimate).
"""

from __future__ import annotations

from llm_council.audition.report_models import TierReport
from llm_council.audition.report_stats import wilson_ci95

DUPLICATE_ADVICE_SHARE = 0.25  # a named model duplicated in over a quarter of sessions
DRIFT_ADVICE_LOWER_BOUND = 0.10
LOW_AGREEMENT = 0.2  # agreement beyond chance: 0 = random ballots, 1 = full agreement
NO_ADVICE = "none: no figure cleared its 95% threshold in this window"


def recommendations(tiers: dict[str, TierReport]) -> list[str]:
    """Advice per tier, in the order duplicate, drift, peer review, agreement, position
    bias, price; each line names the tier, the evidence and what to do."""
    out: list[str] = []
    for name, t in tiers.items():
        out += _duplicates(name, t)
        out += _drift(name, t)
        out += _paired(name, t)
        out += _agreement(name, t)
        out += _position(name, t)
        if t.cost.above_band_calls:
            out.append(
                f"{name}: {t.cost.above_band_calls} of {t.pareto_calls} Pareto calls were "
                "billed above the tier's expected price band; run `llm-council registry "
                "sync` and `llm-council check` to see whether prices or the shortlist moved"
            )
    return out


def _pct(ci: tuple[float, float] | list[float]) -> str:
    return f"95% CI {ci[0]:.0%}–{ci[1]:.0%}"


def _duplicates(name: str, t: TierReport) -> list[str]:
    out = []
    n = t.pareto_sessions
    for d in t.duplicated_seats:
        ci = wilson_ci95(d.sessions, n)
        if ci and ci[0] > DUPLICATE_ADVICE_SHARE:
            out.append(
                f"{name}: the Pareto seat duplicated {d.model} in {d.sessions} of {n} sessions "
                f"({d.share:.0%}, {_pct(ci)}); drop that named seat or move the Pareto seat "
                "to another tier"
            )
    return out


def _drift(name: str, t: TierReport) -> list[str]:
    n, drifted = t.pareto_sessions, t.flagged_sessions.get("drift", 0)
    ci = wilson_ci95(drifted, n)
    if not ci or ci[0] < DRIFT_ADVICE_LOWER_BOUND:
        return []
    return [
        f"{name}: the Pareto seat resolved to a different model for its review than for its "
        f"answer in {drifted} of {n} sessions ({t.duplicate_rate.drift:.0%}, {_pct(ci)}); its "
        "reviews are not from the model that answered, so pin a named model if that matters"
    ]


def _paired(name: str, t: TierReport) -> list[str]:
    p = t.paired
    if not p.ci95 or p.mean_diff is None or p.ci95[0] <= 0 <= p.ci95[1]:
        return []
    evidence = (
        f"mean Borda difference {p.mean_diff:+.2f} (95% CI {p.ci95[0]:+.2f} to "
        f"{p.ci95[1]:+.2f}) over {p.sessions} sessions, {p.wins} won, {p.losses} lost, "
        f"{p.ties} tied"
    )
    if p.ci95[1] < 0:
        return [
            f"{name}: peers rank the Pareto seat below the named seats of the same sessions "
            f"({evidence}); raise its min_coding_score or replace it with a named model"
        ]
    return [
        f"{name}: peers rank the Pareto seat above the named seats of the same sessions "
        f"({evidence}); it earns its seat"
    ]


def _agreement(name: str, t: TierReport) -> list[str]:
    a = t.agreement
    ci = a.beyond_chance_ci95
    if not ci or ci[1] >= LOW_AGREEMENT or a.kendall_w is None or a.chance_w is None:
        return []
    return [
        f"{name}: reviewers barely agree: Kendall's W {a.kendall_w:.2f} against "
        f"{a.chance_w:.2f} from random ballots, agreement beyond chance "
        f"{a.beyond_chance or 0:.2f} (95% CI {ci[0]:.2f} to {ci[1]:.2f}) over "
        f"{a.beyond_chance_sessions} sessions; their Borda carries little signal, so add a "
        "judge or more seats before acting on it"
    ]


def _position(name: str, t: TierReport) -> list[str]:
    b = t.position_bias
    if not b.ci95 or b.chance_rate is None or b.first_choice_rate is None:
        return []
    if b.ci95[0] <= b.chance_rate:
        return []
    return [
        f"{name}: reviewers put the answer shown first on top in {b.first_choices} of "
        f"{b.reviews} reviews ({b.first_choice_rate:.0%}, {_pct(b.ci95)}) against "
        f"{b.chance_rate:.0%} by chance; the council rotates the order per reviewer, so this "
        "cancels out of Borda, but such reviews say less about the answers: consider a "
        "stronger reviewing model"
    ]
