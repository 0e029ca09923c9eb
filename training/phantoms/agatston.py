"""Ground-truth Agatston score from a CT in Hounsfield units and a per-artery calcium label map.

Definition used (Agatston et al. 1990, as in orCaScore):
- a voxel is calcium when it is labelled with an artery (1 LM, 2 LAD, 3 LCX, 4 RCA) and its HU >= 130;
- per axial slice and per artery, calcium voxels form lesions by 2D 8-connectivity;
- a lesion counts only if its area (pixels x pixel area) is at least 1 mm^2;
- its density weight comes from its peak HU: 130-199 -> 1, 200-299 -> 2, 300-399 -> 3, >= 400 -> 4;
- its score is area (mm^2) x weight; an artery's score is the sum over its lesions and slices.
Scores assume 3 mm slices (the protocol of the phantoms); no slice-thickness rescaling is applied.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

ARTERIES = {1: "LM", 2: "LAD", 3: "LCX", 4: "RCA"}
THRESHOLD_HU = 130
MIN_AREA_MM2 = 1.0
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def density_weight(peak_hu: float) -> int:
    """Agatston density factor of a lesion with this peak HU (0 below 130 HU)."""
    if peak_hu < THRESHOLD_HU:
        return 0
    return 1 if peak_hu < 200 else 2 if peak_hu < 300 else 3 if peak_hu < 400 else 4


def agatston_scores(hu: np.ndarray, labels: np.ndarray, pixel_area_mm2: float) -> dict[str, float]:
    """Agatston score per artery ("LM", "LAD", "LCX", "RCA") and "total" for a (z, y, x) HU volume."""
    if hu.shape != labels.shape or hu.ndim != 3:
        raise ValueError(f"hu {hu.shape} and labels {labels.shape} must be the same 3D shape")
    scores = dict.fromkeys(ARTERIES.values(), 0.0)
    for value, name in ARTERIES.items():
        calcium = (labels == value) & (hu >= THRESHOLD_HU)
        for index in np.nonzero(calcium.any(axis=(1, 2)))[0]:
            lesions, count = ndimage.label(calcium[index], structure=_EIGHT_CONNECTED)
            if count == 0:
                continue
            areas = np.bincount(lesions.ravel())[1:] * pixel_area_mm2
            peaks = ndimage.maximum(hu[index], lesions, index=np.arange(1, count + 1))
            for area, peak in zip(areas, np.atleast_1d(peaks), strict=True):
                if area >= MIN_AREA_MM2:
                    scores[name] += float(area) * density_weight(float(peak))
    scores = {name: round(score, 3) for name, score in scores.items()}
    scores["total"] = round(sum(scores.values()), 3)
    return scores
