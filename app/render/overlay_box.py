"""Where an overlay can show: the index box of its non-zero voxels, and that box's rectangle on a view plane.

Overlays (AI label maps, heatmaps) usually cover a small part of the image; reslicing and blending only
inside this rectangle keeps scrolling as fast with overlays as without.
"""

from __future__ import annotations

import numpy as np

from app.viewer_model.plane import SlicePlane

_CHUNK_VOXELS = 1 << 22  # slices looked at per step, so the boolean scratch stays a few MB
_CORNER_SIDES = np.array([[(i >> axis) & 1 for axis in range(3)] for i in range(8)])  # (8, 3) of 0 / 1


def nonzero_box(array: np.ndarray) -> np.ndarray | None:
    """(3, 2) inclusive index bounds of the non-zero voxels in ITK order (rows x, y, z), None when empty."""
    volume = array.reshape((1, *array.shape)) if array.ndim == 2 else array
    step = max(1, _CHUNK_VOXELS // max(1, volume[0].size))
    planes = np.zeros(volume.shape[0], bool)
    rows = np.zeros(volume.shape[1], bool)
    columns = np.zeros(volume.shape[2], bool)
    for start in range(0, volume.shape[0], step):
        chunk = volume[start:start + step] != 0
        planes[start:start + step] = chunk.any(axis=(1, 2))
        if planes[start:start + step].any():
            rows |= chunk.any(axis=(0, 2))
            columns |= chunk.any(axis=(0, 1))
    if not planes.any():
        return None
    zyx = [np.flatnonzero(found)[[0, -1]] for found in (planes, rows, columns)]
    return np.array(zyx[::-1], float)


def screen_rect(box: np.ndarray, patient_from_index: np.ndarray, plane: SlicePlane,
                pad_voxels: float) -> tuple[int, int, int, int] | None:
    """Inclusive pixel rectangle (x0, x1, y0, y1) of ``plane`` that can show voxels of ``box`` (grown by
    ``pad_voxels`` for interpolation), or None when the plane misses the box or the rectangle is off screen."""
    grown = box + np.array([-pad_voxels, pad_voxels])
    corners = grown[[0, 1, 2], _CORNER_SIDES]  # (8, 3) index corners
    offsets = corners @ patient_from_index[:3, :3].T + (patient_from_index[:3, 3] - plane.origin)
    screen = offsets @ np.stack([plane.axes.right / plane.mm_per_pixel, plane.axes.down / plane.mm_per_pixel,
                                 plane.axes.normal], axis=1)
    low, high = screen.min(axis=0), screen.max(axis=0)
    if low[2] > 0 or high[2] < 0:
        return None
    x0, y0 = max(int(np.floor(low[0])), 0), max(int(np.floor(low[1])), 0)
    x1, y1 = min(int(np.ceil(high[0])), plane.width - 1), min(int(np.ceil(high[1])), plane.height - 1)
    if x0 > x1 or y0 > y1:
        return None
    return x0, x1, y0, y1
