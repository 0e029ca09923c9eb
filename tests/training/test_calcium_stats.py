"""Agreement statistics used by the calcium evaluation, on hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from training.calcium.stats import bland_altman, bootstrap_ci, cohen_kappa, icc_2_1


def test_icc_2_1_hand_computed() -> None:
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert icc_2_1(a, a) == 1.0
    # rows (1,2)..(5,6): MS_rows 5, MS_cols 2.5, MS_error 0 -> 5 / (5 + 2 * 2.5 / 5) = 5/6
    assert icc_2_1(a + 1, a) == pytest.approx(5 / 6)


def test_bland_altman_and_kappa() -> None:
    limits = bland_altman(np.array([2.0, 4.0, 6.0]), np.array([1.0, 2.0, 3.0]))
    assert limits["mean_difference"] == 2.0
    assert limits["loa_high"] == pytest.approx(2.0 + 1.96)
    # 3 of 4 agree; marginals (1,1,2) and (1,2,1): p_e = (1*1 + 1*2 + 2*1) / 16 = 5/16 -> (0.75 - 5/16) / (11/16)
    assert cohen_kappa([0, 1, 2, 2], [0, 1, 2, 1], 3) == pytest.approx((0.75 - 5 / 16) / (11 / 16))
    assert cohen_kappa([0, 1, 2], [0, 1, 2], 5, "linear") == 1.0


def test_bootstrap_ci_brackets_the_statistic() -> None:
    values = np.arange(100, dtype=float)
    low, high = bootstrap_ci(lambda i: float(values[i].mean()), 100, rounds=200)
    assert low < 49.5 < high
