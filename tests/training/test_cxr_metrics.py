"""FROC / CPM / AUC / bootstrap on hand-checked examples, and the LoG baseline on a synthetic blob."""

from __future__ import annotations

import numpy as np
import pytest

from training.cxr.baseline import log_blobs
from training.cxr.metrics import auc, bootstrap, detection_metrics, froc_curve, match, sensitivity_at


def _two_images() -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    truths = [np.array([[100.0, 100.0, 10.0], [200.0, 200.0, 20.0]]), np.zeros((0, 3))]
    detections = [
        np.array([[101.0, 102.0, 0.9],   # hits nodule 1 (within radius 5 px)
                  [100.0, 98.0, 0.8],    # second hit on nodule 1: ignored
                  [300.0, 300.0, 0.7],   # false positive
                  [205.0, 195.0, 0.4]]),  # hits nodule 2 (radius 10 px)
        np.array([[50.0, 50.0, 0.6]]),   # false positive on the negative image
    ]
    return detections, truths, np.array([1.0, 1.0])


def test_match_counts_first_hits_and_ignores_duplicates() -> None:
    detections, truths, spacing = _two_images()
    m = match(detections, truths, spacing)
    assert m.det_tp.tolist() == [True, False, False, True, False]
    assert m.det_ignored.tolist() == [False, True, False, False, False]
    assert m.nod_score.tolist() == [0.9, 0.4]


def test_min_radius_floor_in_mm() -> None:
    truth = [np.array([[10.0, 10.0, 2.0]])]  # 1 px radius
    assert not match([np.array([[12.5, 10.0, 1.0]])], truth, np.array([1.0]), min_radius_mm=1.0).det_tp[0]
    assert match([np.array([[12.5, 10.0, 1.0]])], truth, np.array([1.0]), min_radius_mm=3.0).det_tp[0]


def test_froc_points_and_cpm() -> None:
    detections, truths, spacing = _two_images()
    m = match(detections, truths, spacing)
    fp_rate, sens = froc_curve(m.det_score, m.det_tp, m.det_ignored, 2, 2)
    # kept, by score: 0.9 TP, 0.7 FP, 0.6 FP, 0.4 TP
    np.testing.assert_allclose(fp_rate, [0, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(sens, [0.5, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(sensitivity_at(fp_rate, sens, (0.125, 0.5, 1.0)), [0.5, 0.5, 1.0])
    metrics = detection_metrics(m)
    assert metrics["cpm"] == pytest.approx((0.5 * 3 + 1.0 * 4) / 7)
    assert metrics["sens@0.5 6-10mm"] == 1.0 and metrics["sens@0.5 >10mm"] == 0.0  # 0.4 is below the 0.5 FP cut


def test_auc_with_ties_and_degenerate() -> None:
    assert auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == pytest.approx(0.75)
    assert auc(np.array([0.5, 0.5]), np.array([0, 1])) == pytest.approx(0.5)
    assert np.isnan(auc(np.array([0.5, 0.7]), np.array([1, 1])))


def test_bootstrap_is_deterministic_and_brackets() -> None:
    values = np.arange(50, dtype=float)

    def mean(cases: np.ndarray) -> dict[str, float]:
        return {"mean": float(values[cases].mean())}

    first, second = bootstrap(mean, 50, n_boot=200, seed=3), bootstrap(mean, 50, n_boot=200, seed=3)
    assert first == second
    assert first["mean"][0] < values.mean() < first["mean"][1]


def test_log_baseline_finds_a_blob() -> None:
    yy, xx = np.mgrid[:128, :128]
    image = 0.2 + 0.5 * np.exp(-((yy - 40) ** 2 + (xx - 90) ** 2) / (2 * 4.0**2))
    blobs = log_blobs(image, np.ones_like(image, bool), pixel_mm=1.0)
    assert blobs[0, :2].tolist() == [40.0, 90.0]
    assert 6 <= blobs[0, 2] <= 16
