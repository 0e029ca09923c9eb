"""Temperature scaling, confidence tiers, temperature fitting and ECE (known answers)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.ai.calibration import Calibration, expected_calibration_error, fit_temperature, probabilities
from engine.ai.schema_check import FieldError


@pytest.mark.parametrize(
    ("probability", "tier"),
    [
        (0.99, "high"),
        (0.9001, "high"),
        (0.90, "medium"),
        (0.80, "medium"),
        (0.70, "medium"),
        (0.6999, "needs_review"),
        (0.0, "needs_review"),
    ],
)
def test_default_tiers_follow_the_product_spec(probability: float, tier: str) -> None:
    assert Calibration().tier(probability) == tier


def test_tier_thresholds_come_from_the_calibration() -> None:
    strict = Calibration(high=0.97, medium=0.85)
    assert [strict.tier(p) for p in (0.98, 0.95, 0.80)] == ["high", "medium", "needs_review"]


@pytest.mark.parametrize(
    "kwargs",
    [{"temperature": 0.0}, {"temperature": float("nan")}, {"high": 0.6, "medium": 0.7}, {"high": 1.0}],
)
def test_invalid_calibration_is_refused(kwargs: dict) -> None:
    with pytest.raises(FieldError):
        Calibration(**kwargs)


def test_temperature_scales_logits_before_sigmoid_and_softmax() -> None:
    assert probabilities(np.array([2.0]), temperature=2.0)[0] == pytest.approx(1 / (1 + np.exp(-1.0)))
    softmax = probabilities(np.array([[2.0, 0.0]]), temperature=2.0)[0]
    assert softmax == pytest.approx([np.exp(1) / (np.exp(1) + 1), 1 / (np.exp(1) + 1)])
    assert Calibration(temperature=4.0).probabilities(np.array([0.0, 8.0]))[1] == pytest.approx(
        1 / (1 + np.exp(-2))
    )


def test_ece_on_a_hand_computed_example() -> None:
    # 3 bins. Confidences (top label) 0.2->0.8 (class 0), 0.9, 0.6, 0.4->0.6 (class 0)
    probs = np.array([0.2, 0.9, 0.6, 0.4])
    labels = np.array([0, 1, 0, 0])
    # bin (1/3, 2/3]: confidences 0.6 (predicted 1, wrong), 0.6 (predicted 0, right): acc 0.5, conf 0.6
    # bin (2/3, 1]: 0.8 (right), 0.9 (right): acc 1.0, conf 0.85
    expected = 0.5 * abs(0.5 - 0.6) + 0.5 * abs(1.0 - 0.85)
    assert expected_calibration_error(probs, labels, n_bins=3) == pytest.approx(expected)


def test_ece_multiclass_and_perfect_calibration() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.7, 0.2], [0.2, 0.1, 0.7]])
    # every confidence 0.7, accuracy 2/3 -> ECE = |2/3 - 0.7|
    assert expected_calibration_error(probs, np.array([0, 1, 0])) == pytest.approx(0.7 - 2 / 3)
    assert expected_calibration_error(np.array([1.0, 0.0]), np.array([1, 0])) == 0.0


def _overconfident_binary(n: int = 20000, sharpening: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    true_logits = rng.normal(0.0, 2.0, n)
    labels = (rng.random(n) < 1 / (1 + np.exp(-true_logits))).astype(int)
    return true_logits * sharpening, labels


def test_fitted_temperature_undoes_overconfidence_and_lowers_ece() -> None:
    logits, labels = _overconfident_binary()
    temperature = fit_temperature(logits, labels)
    assert temperature == pytest.approx(3.0, rel=0.1)
    before = expected_calibration_error(probabilities(logits), labels)
    after = expected_calibration_error(probabilities(logits, temperature), labels)
    assert after < before / 3
    assert after < 0.02


def test_fit_temperature_multiclass() -> None:
    rng = np.random.default_rng(7)
    true_logits = rng.normal(0.0, 1.5, (5000, 4))
    cumulative = np.cumsum(probabilities(true_logits), axis=1)
    labels = (rng.random((5000, 1)) > cumulative).sum(axis=1)
    assert fit_temperature(true_logits * 0.5, labels) == pytest.approx(0.5, rel=0.1)


def test_fit_temperature_needs_matching_inputs() -> None:
    with pytest.raises(ValueError, match="as many labels"):
        fit_temperature(np.zeros(3), np.zeros(2))
