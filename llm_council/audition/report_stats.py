"""Small statistics for reports: confidence intervals that keep small samples honest."""

from __future__ import annotations

import math

Z95 = 1.959964


def mean_ci95(n: int, total: float, total_sq: float) -> tuple[float, float] | None:
    """Normal-approximation 95% interval for a mean from its sufficient statistics, clipped to
    [0, 1] (Borda scores live there). None when n < 2: one value says nothing about spread."""
    if n < 2:
        return None
    mean = total / n
    variance = max(0.0, (total_sq - n * mean * mean) / (n - 1))
    half = Z95 * math.sqrt(variance / n)
    return (round(max(0.0, mean - half), 4), round(min(1.0, mean + half), 4))


def wilson_ci95(successes: int, n: int) -> tuple[float, float] | None:
    """Wilson score interval for a proportion; None when n == 0."""
    if n == 0:
        return None
    p = successes / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))


def share(part: float, whole: float) -> float:
    """part/whole rounded for reports; 0.0 when there is nothing to divide."""
    return round(part / whole, 4) if whole else 0.0
