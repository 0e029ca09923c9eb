"""Candidate calcified lesions: 3D 26-connected components of >= 130 HU voxels inside the body that hold at
least one per-slice lesion counted by the Agatston rules (area >= 1 mm^2).

The body is the largest 3D component of HU > -400 with each slice's holes (lungs) filled (computed on a
2x in-plane subsampled grid), so air, table and noise outside the patient never become candidates.
Components larger than ``max_volume_mm3`` (spine, sternum, ribs: far larger than a coronary plaque) are
not candidates: they are bone by rule, and a single calcified lesion that large is not scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from engine.geometry import Geometry, float3, int3

from .rules import DEFAULT_RULES, ScoringRules
from .scoring import CalciumScore, score_components

BODY_HU = -400.0
MAX_VOLUME_MM3 = 3000.0
_CONNECT_26 = np.ones((3, 3, 3), dtype=bool)


@dataclass(frozen=True)
class Candidate:
    """One candidate lesion: its component id, where it is and its calcium scores."""

    component: int  # value in the component image
    peak_voxel: tuple[int, int, int]  # (z, y, x) of its highest HU
    centroid_voxel: tuple[float, float, float]  # (z, y, x)
    voxels: int  # all >= threshold voxels of the component
    z_extent: int  # slices it spans
    score: CalciumScore  # Agatston / volume / mass of its counted per-slice lesions


@dataclass(frozen=True)
class Candidates:
    """The component image (int32, 0 = none, candidate i has value i + 1) and the candidates."""

    components: np.ndarray
    items: list[Candidate]
    body_centre_voxel: tuple[float, float, float]


def body_mask(hu: np.ndarray) -> np.ndarray:
    """The patient's body (see the module docstring), full resolution."""
    inside = hu[:, ::2, ::2] > BODY_HU
    filled = np.stack([ndimage.binary_fill_holes(plane) for plane in inside])
    labels, count = ndimage.label(filled)
    if count > 1:
        filled = labels == 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
    full = np.repeat(np.repeat(filled, 2, axis=1), 2, axis=2)
    return full[:, : hu.shape[1], : hu.shape[2]]


def find_candidates(hu: np.ndarray, geometry: Geometry, rules: ScoringRules = DEFAULT_RULES,
                    max_volume_mm3: float = MAX_VOLUME_MM3) -> Candidates:
    """Candidate lesions of a (z, y, x) HU volume (see the module docstring)."""
    body = body_mask(hu)
    components, count = ndimage.label(body & (hu >= rules.threshold_hu), structure=_CONNECT_26)
    sizes = np.bincount(components.ravel(), minlength=count + 1)
    voxel_mm3 = float(np.prod(geometry.spacing))
    eligible = (sizes * geometry.spacing[0] * geometry.spacing[1] >= rules.min_area_mm2) & (
        sizes * voxel_mm3 <= max_volume_mm3)
    eligible[0] = False
    components = np.where(eligible[components], components, 0)
    scores = {k: s for k, s in score_components(hu, components, geometry, rules).items() if s.lesions > 0}
    ids = sorted(scores)
    lookup = np.zeros(count + 1, dtype=np.int32)
    lookup[ids] = np.arange(1, len(ids) + 1, dtype=np.int32)
    components = lookup[components]
    items = []
    for new, (old, box) in enumerate(zip(ids, ndimage.find_objects(components), strict=True), start=1):
        mine = components[box] == new
        values = np.where(mine, hu[box].astype(np.float64), -np.inf)
        offset = np.array([s.start for s in box])
        items.append(Candidate(
            component=new,
            peak_voxel=int3(offset + np.unravel_index(int(np.argmax(values)), mine.shape)),
            centroid_voxel=float3(offset + np.argwhere(mine).mean(axis=0)),
            voxels=int(mine.sum()),
            z_extent=int(box[0].stop - box[0].start),
            score=scores[old],
        ))
    centre = np.argwhere(body[:, ::4, ::4]).mean(axis=0) * np.array([1, 4, 4]) if body.any() else \
        (np.asarray(hu.shape) - 1) / 2
    return Candidates(components, items, float3(centre))
