"""Fill between slices: contours drawn on some slices are interpolated across the empty slices between them.

SimpleITK (2.5) does not wrap ITK's MorphologicalContourInterpolator, so this is the shape-based
interpolation it refines (Raya & Udupa 1990, also Slicer's first "fill between slices"): for each label
and each pair of consecutive slices that hold it, the signed distance maps of the two slice masks (in mm,
honouring the in-plane spacing) are blended linearly and the blend's inside is the slice's mask. Only
background voxels of the slices between are filled; the drawn slices and other labels are untouched.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from engine.editing.brush import voxel_size
from engine.editing.diff import VoxelDiff
from engine.volume import LabelMap


def fill_between_slices(label_map: LabelMap, axis: int = 0, label: int | None = None) -> VoxelDiff:
    """Interpolate each label (or only ``label``) across the empty slices along ``axis`` (array order)."""
    array = label_map.array
    if array.ndim != 3:
        raise ValueError("fill between slices needs a 3D label map")
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2 (array order), got {axis}")
    stack = np.moveaxis(array, axis, 0)
    sampling = np.delete(voxel_size(label_map.geometry), axis)
    after = stack.copy()
    values = [label] if label is not None else [int(v) for v in np.unique(array) if v != 0]
    for value in values:
        present = stack == value
        drawn = np.flatnonzero(present.any(axis=(1, 2)))
        for first, last in zip(drawn[:-1], drawn[1:], strict=True):
            if last - first < 2:
                continue
            near, far = _signed_distance(present[first], sampling), _signed_distance(present[last], sampling)
            for k in range(first + 1, last):
                t = (k - first) / (last - first)
                inside = (1 - t) * near + t * far <= 0
                after[k][inside & (after[k] == 0)] = value
    diff = VoxelDiff.between(array, np.moveaxis(after, 0, axis))
    diff.apply(array)
    return diff


def _signed_distance(mask: np.ndarray, sampling: np.ndarray) -> np.ndarray:
    """Distance in mm to the mask's edge: negative inside, positive outside."""
    outside = ndimage.distance_transform_edt(~mask, sampling=sampling)
    inside = ndimage.distance_transform_edt(mask, sampling=sampling) if not mask.all() else np.full(
        mask.shape, np.inf
    )
    return outside - inside
