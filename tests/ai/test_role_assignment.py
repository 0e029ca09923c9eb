"""engine.ai.roles.max_weight_assignment (numpy Hungarian) finds scipy's linear_sum_assignment optimum."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from engine.ai.roles import max_weight_assignment


@pytest.mark.parametrize("seed", range(40))
def test_same_optimum_as_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows, columns = (int(n) for n in rng.integers(1, 8, 2))
    gain = rng.normal(size=(rows, columns))
    if seed % 2:
        gain = np.round(gain)  # ties
    gain[rng.random(gain.shape) < 0.3] = -1.0
    theirs_rows, theirs_columns = linear_sum_assignment(gain, maximize=True)
    ours = max_weight_assignment(gain)
    assert len(ours) == min(rows, columns)
    assert len({r for r, _ in ours}) == len(ours) == len({c for _, c in ours})
    assert sum(gain[r, c] for r, c in ours) == pytest.approx(gain[theirs_rows, theirs_columns].sum())


def test_prefers_filling_roles_then_score() -> None:
    gain = np.array([[1000.5, 1000.9, -1.0], [-1.0, 1000.8, -1.0]])
    assert max_weight_assignment(gain) == [(0, 0), (1, 1)]
