"""Small, pure statistics for reports: intervals that keep small samples honest, and entropy.

Everything works from sufficient statistics (counts, sums, sums of squares) so the report can
aggregate in SQL and never needs the individual values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

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
