"""Remove small islands: a label's connected components under N voxels (or N mm³) become background."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from engine.editing.brush import voxel_size
from engine.editing.diff import VoxelDiff
from engine.volume import LabelMap


def remove_small_islands(
    label_map: LabelMap,
    min_voxels: int | None = None,
    min_mm3: float | None = None,
    label: int | None = None,
) -> VoxelDiff:
    """Clear face-connected components smaller than ``min_voxels`` (or ``min_mm3``), per label.

    Every label value present is processed, or only ``label`` when given. Give exactly one size.
    """
    if min_voxels is not None and min_mm3 is None:
        threshold = int(min_voxels)
    elif min_mm3 is not None and min_voxels is None:
        threshold = math.ceil(float(min_mm3) / float(np.prod(voxel_size(label_map.geometry))) - 1e-9)
    else:
        raise ValueError("give exactly one of min_voxels and min_mm3")
    array = label_map.array
    values = [label] if label is not None else [int(v) for v in np.unique(array) if v != 0]
    after = array.copy()
    for value in values:
        components, count = ndimage.label(array == value)
        if count == 0:
            continue
        sizes = np.bincount(components.ravel())
        small = sizes < threshold
        small[0] = False
        after[small[components]] = 0
    diff = VoxelDiff.between(array, after)
    diff.apply(array)
    return diff
