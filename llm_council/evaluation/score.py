"""Statistics for the eval report: pass-rate intervals, AUC, cost per solved task.

The Wilson interval is the audition reports' own (one implementation for both reports).
"""

from __future__ import annotations

from collections.abc import Sequence

from llm_council.audition.report_stats import wilson_ci95

__all__ = ["auc", "cost_per_solved", "pass_rate", "wilson_ci95"]


def pass_rate(passed: int, n: int) -> float | None:
    """passed/n rounded to 4 places; None when nothing was graded (no data is not 0%)."""
    return round(passed / n, 4) if n else None


def cost_per_solved(cost_usd: float, passed: int) -> float | None:
    """Dollars spent per task solved; None when nothing was solved (the cost is not finite)."""
    return round(cost_usd / passed, 6) if passed else None


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve of ``scores`` predicting ``labels`` (Mann-Whitney U / n1 n0).

    The probability that a random positive scores higher than a random negative, ties
    counting half: 0.5 is no better than chance, 1.0 a perfect ranking. None without at
    least one positive and one negative. O(n log n) via average ranks.
    """
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} scores but {len(labels)} labels")
    positives = sum(1 for label in labels if label)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        average = (i + j) / 2 + 1  # ranks are 1-based; ties share their mean rank
        for k in range(i, j + 1):
            ranks[order[k]] = average
        i = j + 1
    rank_sum = sum(r for r, label in zip(ranks, labels, strict=True) if label)
    u = rank_sum - positives * (positives + 1) / 2
    return round(u / (positives * negatives), 4)
