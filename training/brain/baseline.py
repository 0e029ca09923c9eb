"""The simple baseline: FLAIR / T1c thresholds on the z-scored model-grid image + connected components.

WT = the largest connected component of FLAIR > ``flair_z`` inside the brain (head mask eroded by
``skull_mm``, which removes the bright scalp), holes filled; ET = T1c > ``t1c_z`` inside WT; TC = ET
with its holes filled (the necrotic centre of an enhancing rim). Thresholds are chosen on the validation
split by grid search on mean Dice (``fit``), so the baseline is tuned as fairly as the model.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from plugins.brain_tumor_mri.preprocessing import MODEL_SPACING_MM, SEQUENCES
from training.brain.metrics import dice

FLAIR, T1C = SEQUENCES.index("FLAIR"), SEQUENCES.index("T1c")


@dataclass(frozen=True)
class Thresholds:
    flair_z: float = 1.5
    t1c_z: float = 2.0
    skull_mm: float = 14.0


def _largest(mask: np.ndarray) -> np.ndarray:
    components, count = ndimage.label(mask)
    if not count:
        return mask
    return components == (np.argmax(np.bincount(components.ravel())[1:]) + 1)


def baseline_regions(image: np.ndarray, thresholds: Thresholds = Thresholds()) -> np.ndarray:
    """Bool (3, z, y, x) WT, TC, ET of a prepared image (4, z, y, x) on the model grid."""
    head = ndimage.binary_fill_holes(np.any(image != 0, axis=0))
    brain = ndimage.binary_erosion(head, iterations=max(1, int(round(thresholds.skull_mm / MODEL_SPACING_MM))))
    wt = ndimage.binary_opening(brain & (image[FLAIR] > thresholds.flair_z))
    wt = ndimage.binary_fill_holes(_largest(wt))
    et = wt & (image[T1C] > thresholds.t1c_z)
    tc = ndimage.binary_fill_holes(et)
    return np.stack([wt | tc, tc, et])


def fit(images: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> Thresholds:
    """The thresholds with the best mean Dice (WT, TC, ET) over the given validation cases."""
    best, best_score = Thresholds(), -1.0
    for flair_z, t1c_z in itertools.product((0.75, 1.0, 1.25, 1.5, 2.0, 2.5), (1.0, 1.5, 2.0, 2.5, 3.0)):
        candidate = Thresholds(flair_z, t1c_z)
        scores = [np.mean([dice(p, t) for p, t in zip(baseline_regions(np.asarray(image, np.float32), candidate),
                                                       target, strict=True)])
                  for image, target in zip(images, targets, strict=True)]
        if np.mean(scores) > best_score:
            best, best_score = candidate, float(np.mean(scores))
    return best
