"""Small metric helpers: ROC AUC (rank statistic), a t-based confidence interval over seeds, a percentile
bootstrap over samples."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with mid-ranks for ties)."""
    labels = np.asarray(labels).astype(bool)
    ranks = stats.rankdata(scores)
    positives, negatives = labels.sum(), (~labels).sum()
    if positives == 0 or negatives == 0:
        return float("nan")
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def mean_ci(values: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and the t-distribution confidence interval (low, high) of ``values`` (one per seed)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return mean, mean - half, mean + half


def bootstrap_ci(values: np.ndarray, statistic: Callable[[np.ndarray], float], draws: int = 1000,
                 seed: int = 0, level: float = 0.95) -> list[float]:
    """[statistic(values), low, high]: the percentile bootstrap interval over the rows of ``values``; an
    empty ``values`` gives NaNs."""
    values = np.asarray(values)
    if len(values) == 0:
        return [float("nan")] * 3
    rng = np.random.default_rng(seed)
    samples = [float(statistic(values[rng.integers(len(values), size=len(values))])) for _ in range(draws)]
    tail = 100 * (1 - level) / 2
    return [float(statistic(values)), float(np.percentile(samples, tail)), float(np.percentile(samples, 100 - tail))]
