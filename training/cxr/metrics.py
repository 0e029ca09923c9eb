"""Detection and classification metrics: hit matching, FROC, CPM, AUC, NODE21 score, bootstrap CIs.

Hit rule (LUNA16 style, with a floor): a detection hits a nodule when its centre lies within
max(nodule radius, ``min_radius_mm``) of the nodule centre. In score order, the first hit on a nodule
is a true positive, further hits on an already-found nodule are ignored, everything else is a false
positive. FROC operating points: 1/8, 1/4, 1/2, 1, 2, 4, 8 false positives per image; CPM is their mean.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

FROC_POINTS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
MIN_RADIUS_MM = 3.0


@dataclass
class Matched:
    """Per detection: case, score, TP / ignored flags; per nodule: case, diameter (mm), best hit score."""

    det_case: np.ndarray
    det_score: np.ndarray
    det_tp: np.ndarray
    det_ignored: np.ndarray
    nod_case: np.ndarray
    nod_diameter_mm: np.ndarray
    nod_score: np.ndarray  # score of the TP detection that found it, -inf if never found
    n_images: int


def match(detections: list[np.ndarray], truths: list[np.ndarray], spacing_mm: np.ndarray,
          min_radius_mm: float = MIN_RADIUS_MM) -> Matched:
    """Match per-image detections ((m, 3) row, col, score) to truths ((k, 3) row, col, diameter_px)."""
    det_case, det_score, det_tp, det_ignored = [], [], [], []
    nod_case, nod_diameter, nod_score = [], [], []
    for case, (dets, truth) in enumerate(zip(detections, truths, strict=True)):
        dets = np.asarray(dets, dtype=np.float64).reshape(-1, 3)
        truth = np.asarray(truth, dtype=np.float64).reshape(-1, 3)
        order = np.argsort(-dets[:, 2], kind="stable")
        found = np.full(len(truth), -np.inf)
        reach = np.maximum(truth[:, 2] / 2, min_radius_mm / spacing_mm[case])
        for row, col, score in dets[order]:
            distance = np.hypot(truth[:, 0] - row, truth[:, 1] - col)
            hits = np.nonzero(distance <= reach)[0]
            fresh = [h for h in hits if found[h] == -np.inf]
            tp, ignored = bool(fresh), bool(len(hits)) and not fresh
            if fresh:
                found[min(fresh, key=lambda h: distance[h])] = score
            det_case.append(case)
            det_score.append(score)
            det_tp.append(tp)
            det_ignored.append(ignored)
        nod_case.extend([case] * len(truth))
        nod_diameter.extend(truth[:, 2] * spacing_mm[case])
        nod_score.extend(found)
    return Matched(np.asarray(det_case, int), np.asarray(det_score), np.asarray(det_tp, bool),
                   np.asarray(det_ignored, bool), np.asarray(nod_case, int), np.asarray(nod_diameter),
                   np.asarray(nod_score), len(detections))


def froc_curve(det_score: np.ndarray, det_tp: np.ndarray, det_ignored: np.ndarray, n_nodules: int,
               n_images: int) -> tuple[np.ndarray, np.ndarray]:
    """(FP per image, sensitivity) at every score threshold, from high to low scores."""
    keep = ~det_ignored
    scores, tp = det_score[keep], det_tp[keep]
    order = np.argsort(-scores, kind="stable")
    tp_cum = np.cumsum(tp[order])
    fp_cum = np.cumsum(~tp[order])
    return fp_cum / max(n_images, 1), tp_cum / max(n_nodules, 1)


def sensitivity_at(fp_rate: np.ndarray, sensitivity: np.ndarray, points: tuple[float, ...] = FROC_POINTS
                   ) -> np.ndarray:
    """Best sensitivity with at most ``p`` FP/image, for each operating point ``p``."""
    out = []
    for point in points:
        allowed = fp_rate <= point
        out.append(float(sensitivity[allowed].max()) if allowed.any() else 0.0)
    return np.asarray(out)


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC (Mann-Whitney, ties count one half); NaN when one class is absent."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels).astype(bool)
    n_pos, n_neg = labels.sum(), (~labels).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    start = 0
    for end in range(1, len(values) + 1):
        if end == len(values) or sorted_values[end] != sorted_values[start]:
            ranks[order[start:end]] = (start + end + 1) / 2
            start = end
    return ranks


def detection_metrics(m: Matched, cases: np.ndarray | None = None) -> dict[str, float]:
    """FROC points, CPM and sensitivity at 0.5 FP/image by size bin, on ``cases`` (a bootstrap sample)."""
    if cases is None:
        cases = np.arange(m.n_images)
    counts = np.bincount(cases, minlength=m.n_images)
    det_weight = counts[m.det_case]
    nod_weight = counts[m.nod_case]
    scores = np.repeat(m.det_score, det_weight)
    tp, ignored = np.repeat(m.det_tp, det_weight), np.repeat(m.det_ignored, det_weight)
    n_nodules = int(nod_weight.sum())
    fp_rate, sens = froc_curve(scores, tp, ignored, n_nodules, len(cases))
    points = sensitivity_at(fp_rate, sens)
    result = {f"sens@{p:g}": float(v) for p, v in zip(FROC_POINTS, points, strict=True)}
    result["cpm"] = float(points.mean())
    threshold = _threshold_at(fp_rate, scores[~ignored], 0.5)
    diameters, found = np.repeat(m.nod_diameter_mm, nod_weight), np.repeat(m.nod_score, nod_weight)
    for name, low, high in (("<=6mm", 0, 6), ("6-10mm", 6, 10), (">10mm", 10, np.inf)):
        members = (diameters > low) & (diameters <= high) if low else diameters <= high
        result[f"sens@0.5 {name}"] = float((found[members] >= threshold).mean()) if members.any() else float("nan")
    return result


def _threshold_at(fp_rate: np.ndarray, scores_kept: np.ndarray, point: float) -> float:
    """The lowest score threshold whose FP rate stays <= ``point`` (inf if none)."""
    ordered = np.sort(scores_kept)[::-1]
    allowed = np.nonzero(fp_rate <= point)[0]
    return float(ordered[allowed[-1]]) if len(allowed) else float("inf")


def bootstrap(statistic: Callable[[np.ndarray], dict[str, float]], n_images: int, n_boot: int = 1000,
              seed: int = 0) -> dict[str, tuple[float, float]]:
    """95% percentile intervals of every value of ``statistic(cases)`` over case resamples."""
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    for _ in range(n_boot):
        for key, value in statistic(rng.integers(0, n_images, n_images)).items():
            samples.setdefault(key, []).append(value)
    return {key: (float(np.nanpercentile(v, 2.5)), float(np.nanpercentile(v, 97.5))) for key, v in samples.items()}
