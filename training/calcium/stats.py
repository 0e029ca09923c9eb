"""Agreement statistics: ICC(2,1), Bland-Altman, Cohen's kappa and case-level bootstrap CIs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def icc_2_1(a: np.ndarray, b: np.ndarray) -> float:
    """ICC(2,1) (two-way random effects, absolute agreement, single rater; Shrout & Fleiss 1979)."""
    data = np.column_stack([a, b]).astype(np.float64)
    n, k = data.shape
    grand = data.mean()
    ms_rows = k * np.sum((data.mean(axis=1) - grand) ** 2) / (n - 1)
    ms_cols = n * np.sum((data.mean(axis=0) - grand) ** 2) / (k - 1)
    residual = data - data.mean(axis=1, keepdims=True) - data.mean(axis=0, keepdims=True) + grand
    ms_error = np.sum(residual**2) / ((n - 1) * (k - 1))
    denominator = ms_rows + (k - 1) * ms_error + k * (ms_cols - ms_error) / n
    return float((ms_rows - ms_error) / denominator) if denominator > 0 else float("nan")


def bland_altman(test: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Mean difference (test - reference) and 95% limits of agreement (mean +- 1.96 SD)."""
    diff = np.asarray(test, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    mean, sd = float(diff.mean()), float(diff.std(ddof=1)) if diff.size > 1 else 0.0
    return {"mean_difference": mean, "loa_low": mean - 1.96 * sd, "loa_high": mean + 1.96 * sd}


def cohen_kappa(a: np.ndarray, b: np.ndarray, n_categories: int, weights: str = "none") -> float:
    """Cohen's kappa of two integer ratings in 0..n-1; ``weights`` 'none' or 'linear'."""
    table = np.zeros((n_categories, n_categories))
    np.add.at(table, (np.asarray(a, dtype=int), np.asarray(b, dtype=int)), 1)
    table /= table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0))
    i, j = np.indices(table.shape)
    disagreement = (i != j).astype(float) if weights == "none" else np.abs(i - j) / (n_categories - 1)
    observed_d, expected_d = float(np.sum(disagreement * table)), float(np.sum(disagreement * expected))
    return 1.0 - observed_d / expected_d if expected_d > 0 else 1.0


def bootstrap_ci(statistic: Callable[[np.ndarray], float], n_cases: int, rounds: int = 1000, seed: int = 0
                 ) -> tuple[float, float]:
    """2.5 and 97.5 percentiles of ``statistic(case_indices)`` over case resamples (nan-skipping)."""
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, n_cases, n_cases)) for _ in range(rounds)], dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))
