"""Held-out evaluation through the plugin's own path, temperature fitting, and metric summaries.

Every test case is rendered from its seed on its source grid, preprocessed with
``plugins.brain_tumor_mri.preprocessing.prepare_brain`` and segmented with ``segment`` (sliding window + resampling
back), exactly as the plugin does; Dice and HD95 (mm) are computed on the source grid against the
phantom's exact labels, per region. The baseline gets the same preprocessing and resampling.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

from engine.ai.calibration import expected_calibration_error, fit_temperature, probabilities
from engine.ai.tiling import sliding_window
from plugins.brain_tumor_mri.preprocessing import REGIONS, PreparedBrain, regions_from_labels, segment, to_source_grid
from training.brain.baseline import Thresholds, baseline_regions
from training.brain.data import CachedSplit, SplitSpec, render_spec
from training.brain.export import INPUT, OUTPUT, session
from training.brain.metrics import bootstrap_ci, dice, hd95

Segmenter = Callable[[PreparedBrain], np.ndarray]  # prepared case -> bool (3, Z, Y, X) on the source grid


def onnx_logits(path: str | os.PathLike, window: Sequence[int], overlap: float, threads: int = 1
                ) -> Callable[[PreparedBrain], np.ndarray]:
    """Source-grid region logits of a prepared case from the ONNX model at ``path`` (the plugin's path)."""
    runner = session(path, threads)

    def predictor(tiles: np.ndarray) -> np.ndarray:
        return runner.run([OUTPUT], {INPUT: np.ascontiguousarray(tiles, dtype=np.float32)})[0]

    return lambda prepared: segment(prepared, predictor, window, overlap)


def baseline_segmenter(thresholds: Thresholds) -> Segmenter:
    """The threshold baseline, resampled onto the source grid like the model's output."""
    def run(prepared: PreparedBrain) -> np.ndarray:
        regions = baseline_regions(prepared.image, thresholds).astype(np.float32)
        return to_source_grid(regions, prepared) >= 0.5
    return run


def evaluate(spec: SplitSpec, systems: dict[str, Segmenter], log: Callable[[str], None] = print
             ) -> dict[str, dict[str, np.ndarray]]:
    """Per system: ``dice`` and ``hd95`` arrays (cases, 3 regions) and ``volume_error_ml`` (cases, 3)."""
    scores = {name: {"dice": [], "hd95": [], "volume_error_ml": []} for name in systems}
    for index, seed in enumerate(spec.seeds):
        rendered = render_spec(spec, seed)
        truth = regions_from_labels(rendered.case.labels)
        spacing = rendered.case.geometry.spacing[::-1]
        voxel_ml = float(np.prod(spacing)) / 1000.0
        for name, system in systems.items():
            predicted = system(rendered.prepared)
            scores[name]["dice"].append([dice(p, t) for p, t in zip(predicted, truth, strict=True)])
            scores[name]["hd95"].append([hd95(p, t, spacing) for p, t in zip(predicted, truth, strict=True)])
            scores[name]["volume_error_ml"].append(
                [(int(p.sum()) - int(t.sum())) * voxel_ml for p, t in zip(predicted, truth, strict=True)])
        if (index + 1) % 5 == 0 or index + 1 == spec.count:
            log(f"[eval] {spec.name}: {index + 1}/{spec.count} cases")
    return {name: {key: np.asarray(values) for key, values in table.items()} for name, table in scores.items()}


def summarise(scores: dict[str, np.ndarray], rounds: int) -> dict[str, dict[str, dict[str, float]]]:
    """Mean and bootstrap 95% CI per metric and region."""
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for metric in ("dice", "hd95"):
        summary[metric] = {}
        for r, region in enumerate(REGIONS):
            values = scores[metric][:, r]
            low, high = bootstrap_ci(values, rounds, seed=r)
            summary[metric][region] = {"mean": float(values.mean()), "median": float(np.median(values)),
                                       "ci95": [low, high]}
    return summary


def paired_difference(a: np.ndarray, b: np.ndarray, rounds: int) -> dict[str, dict[str, float]]:
    """Mean Dice difference a - b per region with a paired bootstrap 95% CI."""
    result = {}
    for r, region in enumerate(REGIONS):
        differences = a[:, r] - b[:, r]
        low, high = bootstrap_ci(differences, rounds, seed=10 + r)
        result[region] = {"mean": float(differences.mean()), "ci95": [low, high]}
    return result


def voxel_sample(logits: Sequence[np.ndarray], targets: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                 per_case: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """WT logits and labels of ``per_case`` random voxels inside each case's mask (model grid)."""
    rng = np.random.default_rng(seed)
    values, labels = [], []
    for logit, target, mask in zip(logits, targets, masks, strict=True):
        inside = np.flatnonzero(mask.ravel())
        chosen = rng.choice(inside, size=min(per_case, inside.size), replace=False)
        values.append(logit[0].ravel()[chosen])
        labels.append(target[0].ravel()[chosen])
    return np.concatenate(values), np.concatenate(labels).astype(int)


def calibrate(path: str | os.PathLike, split: CachedSplit, window: Sequence[int], overlap: float
              ) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Temperature of the WT logits fitted on ``split`` voxels with the 15-bin ECE before and after, and the
    voxel sample (logits, labels) it was fitted on."""
    runner = session(path)

    def predictor(tiles: np.ndarray) -> np.ndarray:
        return runner.run([OUTPUT], {INPUT: np.ascontiguousarray(tiles, dtype=np.float32)})[0]

    logits = [sliding_window(image.astype(np.float32), window, predictor, overlap) for image in split.images]
    values, labels = voxel_sample(logits, split.targets, [image.any(axis=0) for image in split.images])
    temperature = fit_temperature(values, labels)
    facts = {"temperature": temperature, "voxels": int(values.size),
             "ece_before": expected_calibration_error(probabilities(values), labels),
             "ece_after": expected_calibration_error(probabilities(values, temperature), labels)}
    return facts, values, labels
