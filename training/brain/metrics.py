"""Segmentation metrics: Dice and the 95th-percentile Hausdorff distance in mm (spacing-aware), bootstrap CIs.

HD95 follows the BraTS convention: surface voxels of each mask (mask minus its erosion), distances from
every surface voxel of one mask to the nearest surface voxel of the other (Euclidean distance transform
with the voxel spacing), the 95th percentile of both directions pooled. Both empty -> 0 mm; one empty ->
the diagonal of the image in mm (the worst possible), as BraTS penalises a missed or spurious region.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def dice(prediction: np.ndarray, truth: np.ndarray) -> float:
    """2|A and B| / (|A| + |B|); 1.0 when both are empty."""
    a, b = np.asarray(prediction, dtype=bool), np.asarray(truth, dtype=bool)
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def _surface(mask: np.ndarray) -> np.ndarray:
    return mask & ~ndimage.binary_erosion(mask, structure=ndimage.generate_binary_structure(mask.ndim, 1))


def hd95(prediction: np.ndarray, truth: np.ndarray, spacing_zyx: tuple[float, ...]) -> float:
    """Symmetric 95th-percentile surface distance in mm; ``spacing_zyx`` in array order."""
    a, b = np.asarray(prediction, dtype=bool), np.asarray(truth, dtype=bool)
    if not a.any() and not b.any():
        return 0.0
    if not a.any() or not b.any():
        return float(np.linalg.norm(np.asarray(a.shape) * np.asarray(spacing_zyx)))
    both = np.argwhere(a | b)
    low = np.maximum(both.min(axis=0) - 2, 0)
    high = both.max(axis=0) + 3
    box = tuple(slice(lo, hi) for lo, hi in zip(low, high, strict=True))
    a, b = np.pad(a[box], 1), np.pad(b[box], 1)
    surface_a, surface_b = _surface(a), _surface(b)
    to_b = ndimage.distance_transform_edt(~surface_b, sampling=spacing_zyx)
    to_a = ndimage.distance_transform_edt(~surface_a, sampling=spacing_zyx)
    distances = np.concatenate([to_b[surface_a], to_a[surface_b]])
    return float(np.percentile(distances, 95))


def bootstrap_ci(values: np.ndarray, rounds: int = 1000, seed: int = 0, level: float = 0.95
                 ) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean of ``values`` (cases resampled)."""
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(rounds, len(values)))].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)
