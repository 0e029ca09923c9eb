"""Flood fill: the connected region of the seed's value (2D in the view's plane, or 3D), optionally limited
to an intensity range of the image, set to a new value."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from engine.editing.brush import check_same_grid
from engine.editing.diff import VoxelDiff, write_box
from engine.editing.labels import check_paint_value, pick_label
from engine.volume import LabelMap, Volume


def flood_fill(
    label_map: LabelMap,
    seed: Sequence[float],
    value: int,
    axis: int | None = 0,
    volume: Volume | None = None,
    intensity_range: tuple[float, float] | None = None,
) -> VoxelDiff:
    """Fill the face-connected region of voxels equal to the seed's value with ``value``.

    ``axis`` is the view's slice axis for a 2D fill in that plane; None fills in 3D. With ``volume`` and
    ``intensity_range`` only voxels whose intensity lies in the range (inclusive) belong to the region.
    """
    value = check_paint_value(label_map, value)
    target = pick_label(label_map, seed)
    index = [int(round(v)) for v in seed]
    array = label_map.array
    start = [0] * array.ndim
    box: list[slice] = [slice(None)] * array.ndim
    if axis is not None and array.ndim == 3:
        box[axis] = slice(index[axis], index[axis] + 1)
        start[axis] = index[axis]
    box_t = tuple(box)
    region = array[box_t] == target
    if intensity_range is not None:
        if volume is None:
            raise ValueError("an intensity-limited fill needs the image volume")
        check_same_grid(label_map, volume)
        image = volume.array[box_t]
        region &= (image >= intensity_range[0]) & (image <= intensity_range[1])
    seed_in_box = tuple(i - s for i, s in zip(index, start, strict=True))
    if not region[seed_in_box] or target == value:
        return VoxelDiff.empty(array.ndim, array.dtype)
    components, _ = ndimage.label(region)
    filled = components == components[seed_in_box]
    current = array[box_t]
    return write_box(array, start, np.where(filled, value, current).astype(current.dtype))
