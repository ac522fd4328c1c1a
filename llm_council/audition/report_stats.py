"""Small, pure statistics for reports: intervals that keep small samples honest, and entropy.

Nearly everything works from sufficient statistics (counts, sums, sums of squares) so the
report can aggregate in SQL and never needs the individual values; the one bootstrap takes
values with their counts, which SQL groups too.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence

Z95 = 1.959963984540054  # standard normal 0.975 quantile

# Student t 0.975 quantiles for 1..30 degrees of freedom (standard tables, 4 decimals).
_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip


def t975(df: int) -> float:
    """The two-sided 95% Student t critical value for ``df`` degrees of freedom (df >= 1).

    A table up to 30; beyond it the Cornish-Fisher expansion around the normal quantile,
    within 1e-4 of the exact value there.
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1 (got {df})")
    if df <= len(_T975):
        return _T975[df - 1]
    z = Z95
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


def mean_ci95(
    n: int, total: float, total_sq: float, bounds: tuple[float, float] = (0.0, 1.0)
) -> tuple[float, float] | None:
    """Student t 95% interval for a mean, from n, sum and sum of squares.

    mean +- t(0.975, n-1) * s / sqrt(n), with s the sample standard deviation, clipped to
    ``bounds`` (Borda scores live in [0, 1]). A t-interval rather than a bootstrap because
    it needs only the three sums SQL returns, and is wider than the normal one at small n.
    None when n < 2: one value says nothing about spread.
    """
    if n < 2:
        return None
    mean = total / n
    # Guard the subtraction against rounding: a variance is never negative.
    variance = max(0.0, (total_sq - n * mean * mean) / (n - 1))
    half = t975(n - 1) * math.sqrt(variance / n)
    lo, hi = bounds
    return (round(max(lo, mean - half), 4), round(min(hi, mean + half), 4))


def wilson_ci95(successes: int, n: int) -> tuple[float, float] | None:
    """Wilson score 95% interval for a proportion; None when n == 0.

    Unlike p +- z*sqrt(p(1-p)/n) it stays inside [0, 1] and is not zero-width at 0 or n.
    """
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within 0..{n} (got {successes})")
    p = successes / n
    z2 = Z95 * Z95
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))


def normalised_entropy(counts: Iterable[int], slots: int | None = None) -> float:
    """Shannon entropy of ``counts`` divided by its maximum, so 0 = one kind, 1 = all differ.

    The maximum is ln(slots) where ``slots`` is the number of items (default: the total
    count): three seats from three providers score 1.0, from two providers 0.579, from one 0.
    0.0 when there are fewer than two items.
    """
    values = [c for c in counts if c > 0]
    total = sum(values)
    slots = total if slots is None else slots
    if total == 0 or slots < 2:
        return 0.0
    h = -sum((c / total) * math.log(c / total) for c in values)
    return round(h / math.log(slots), 6)


def share(part: float, whole: float) -> float:
    """part/whole rounded to 4 places; 0.0 when there is nothing to divide."""
    return round(part / whole, 4) if whole else 0.0


def ratio(part: float, whole: float, places: int = 4) -> float | None:
    """part/whole rounded, or None when ``whole`` is 0 (no data is not the same as zero)."""
    return round(part / whole, places) if whole else None


BOOTSTRAP_RESAMPLES = 2000
# Above this many values the percentile bootstrap of a mean is its normal limit, mean +-
# z * sd / sqrt(n), to well under the 0.01 a report shows (tests/test_report_stats.py
# checks it at this size on a skewed sample); the limit costs nothing at 100k sessions.
BOOTSTRAP_MAX_N = 200
BOOTSTRAP_SEED = 20261125  # fixed: the same store always gives the same report


def bootstrap_mean_ci95(
    counts: Mapping[float, int],
    bounds: tuple[float, float] = (-1.0, 1.0),
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    max_n: int = BOOTSTRAP_MAX_N,
) -> tuple[float, float] | None:
    """Percentile bootstrap 95% interval of the mean of values given as ``{value: count}``.

    Resamples the n values with replacement ``resamples`` times (seeded, so reproducible)
    and takes the 2.5% and 97.5% points of the resampled means (nearest rank). Beyond
    ``max_n`` values, the bootstrap's normal limit: mean +- z * sd / sqrt(n), with sd the
    values' own spread (divisor n, as the bootstrap resamples them). None when n < 2.
    """
    n = sum(counts.values())
    if n < 2:
        return None
    lo, hi = bounds
    values = sorted(v for v, c in counts.items() for _ in range(c))  # sorted: order-free
    mean = sum(values) / n
    if n > max_n:
        variance = max(0.0, sum(v * v for v in values) / n - mean * mean)
        half = Z95 * math.sqrt(variance / n)
        return (round(max(lo, mean - half), 4), round(min(hi, mean + half), 4))
    rng = random.Random(BOOTSTRAP_SEED)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    low = means[math.ceil(0.025 * resamples) - 1]
    high = means[math.ceil(0.975 * resamples) - 1]
    return (round(max(lo, low), 4), round(min(hi, high), 4))


# -- per-session stage 2 figures, computed when a session is stored (rows.py) -----------------


def centred_score(position: int, ballot: int) -> float:
    """Position 0 (best) .. ballot-1 (worst) on a ballot of ``ballot >= 2`` seats as a score
    from +1 to -1: ballots of any length weigh alike, and each one's scores sum to 0."""
    return (ballot - 1 - 2 * position) / (ballot - 1)


def session_agreement(
    ballots: Iterable[Sequence[str]], final_order: Sequence[str]
) -> tuple[float, float] | None:
    """Kendall's W of one session's ballots (seat ids, best first) and its chance level.

    Each position becomes a centred score u (``centred_score``); U_j sums seat j's scores
    over the ballots that ranked it, and U*_j the scores it would have had if every reviewer
    had ranked its own seats in ``final_order`` (the session's Borda ranking). Then
    W = sum U_j^2 / sum U*_j^2, capped at 1. When every ballot ranks every seat,
    sum U*_j^2 is the largest spread rank sums can have and W is Kendall's W exactly
    (12 S / (m^2 (n^3 - n)), no ties); when reviewers skip their own answer it is the
    largest spread *that* design allows, so reviewers who all agree still score 1.
    Chance: the expected W of independent random ballots, sum of u^2 over all positions
    (the expected sum U_j^2) over the same sum U*_j^2.

    Ballots of fewer than two seats rank nothing and are left out; None when no two of the
    rest share a seat (nothing to agree on). A seat named twice counts its first place.
    """
    place = {seat: i for i, seat in enumerate(final_order)}
    spread: dict[str, float] = {}
    most: dict[str, float] = {}
    votes: dict[str, int] = {}
    random_spread = 0.0
    for raw in ballots:
        ballot = list(dict.fromkeys(raw))
        k = len(ballot)
        if k < 2:
            continue
        agreed = sorted(ballot, key=lambda seat: (place.get(seat, len(place)), ballot.index(seat)))
        for pos, seat in enumerate(ballot):
            u = centred_score(pos, k)
            spread[seat] = spread.get(seat, 0.0) + u
            most[seat] = most.get(seat, 0.0) + centred_score(agreed.index(seat), k)
            votes[seat] = votes.get(seat, 0) + 1
            random_spread += u * u
    ceiling = sum(v * v for v in most.values())
    if max(votes.values(), default=0) < 2 or ceiling <= 0:
        return None
    w = min(1.0, sum(v * v for v in spread.values()) / ceiling)
    return round(w, 6), round(random_spread / ceiling, 6)


def paired_diff(pareto: Iterable[float | None], named: Iterable[float | None]) -> float | None:
    """Mean Borda of a session's Pareto seats minus its named seats' (seats without a score
    left out); None when either side has none. Positive: the Pareto seat ranked better."""
    p = [b for b in pareto if b is not None]
    q = [b for b in named if b is not None]
    if not p or not q:
        return None
    return round(sum(p) / len(p) - sum(q) / len(q), 6) + 0.0  # + 0.0: never -0.0
