"""Brush, eraser and threshold-limited brush: a circle in the view's plane or a sphere, radius in mm.

Centres are continuous array-order voxel indices (z, y, x) — the viewer converts the mouse position.
``paint_over`` says which voxels a dab may change (ITK-SNAP's "paint over"): None = every voxel,
0 = background only, a label value = only voxels of that label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from engine.editing.diff import VoxelDiff, write_box
from engine.editing.labels import check_paint_value
from engine.geometry import Geometry
from engine.volume import LabelMap, Volume

AXIAL, CORONAL, SAGITTAL = 0, 1, 2  # the slice axis (array order) of each view


def voxel_size(geometry: Geometry) -> np.ndarray:
    """Voxel size in mm in array order: (z, y, x), or (y, x) for a 2D grid."""
    ndim = len(geometry.shape)
    return np.asarray(geometry.spacing[:ndim], dtype=float)[::-1]


@dataclass(frozen=True)
class Brush:
    """A circle on the plane orthogonal to ``axis`` (the view's slice axis), or a sphere; radius in mm.

    The voxel under the centre is always in the footprint, however small the radius.
    """

    radius_mm: float
    shape: Literal["circle", "sphere"] = "circle"
    axis: int = AXIAL

    def __post_init__(self) -> None:
        if not (math.isfinite(self.radius_mm) and self.radius_mm >= 0):
            raise ValueError(f"brush radius must be a non-negative number of mm, got {self.radius_mm}")
        if self.shape not in ("circle", "sphere"):
            raise ValueError(f"brush shape must be 'circle' or 'sphere', got {self.shape!r}")
        if self.axis not in (AXIAL, CORONAL, SAGITTAL):
            raise ValueError(f"brush axis must be 0 (axial), 1 (coronal) or 2 (sagittal), got {self.axis}")

    def footprint(self, geometry: Geometry, center: Sequence[float]) -> tuple[tuple[int, ...], np.ndarray]:
        """Box start and boolean mask of the voxels the brush covers at ``center`` (clipped to the grid)."""
        ndim = len(geometry.shape)
        centre = np.asarray(center, dtype=float)
        if centre.shape != (ndim,):
            raise ValueError(f"a brush centre needs {ndim} array-order coordinates, got {tuple(center)}")
        size = voxel_size(geometry)
        flat = self.shape == "circle" and ndim == 3
        lo, hi = [], []
        for axis in range(ndim):
            if flat and axis == self.axis:
                first = int(round(centre[axis]))
                last = first + 1
            else:
                reach = self.radius_mm / size[axis]
                nearest = int(round(centre[axis]))
                first = min(math.ceil(centre[axis] - reach), nearest)
                last = max(math.floor(centre[axis] + reach) + 1, nearest + 1)
            lo.append(max(first, 0))
            hi.append(min(last, geometry.shape[axis]))
        if any(b <= a for a, b in zip(lo, hi, strict=True)):
            return tuple(lo), np.zeros((0,) * ndim, dtype=bool)
        grids = np.ogrid[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))]
        squared = sum(
            ((grid - centre[axis]) * size[axis]) ** 2
            for axis, grid in enumerate(grids)
            if not (flat and axis == self.axis)
        )
        box_shape = tuple(b - a for a, b in zip(lo, hi, strict=True))
        mask = np.broadcast_to(squared <= self.radius_mm**2, box_shape).copy()
        centre_in_box = [int(round(c)) - a for c, a in zip(centre, lo, strict=True)]
        if all(0 <= n < m for n, m in zip(centre_in_box, mask.shape, strict=True)):
            mask[tuple(centre_in_box)] = True
        return tuple(lo), mask

    def stroke_step_mm(self, geometry: Geometry) -> float:
        """Spacing of dabs along a stroke so that consecutive footprints overlap: half the radius, but at
        least half the smallest voxel (a one-voxel brush then still draws a connected line)."""
        return max(self.radius_mm / 2, float(voxel_size(geometry).min()) / 2)


def paint(
    label_map: LabelMap,
    center: Sequence[float],
    brush: Brush,
    value: int,
    paint_over: int | None = None,
) -> VoxelDiff:
    """Paint ``value`` into the brush footprint at ``center``; returns the diff."""
    start, mask = brush.footprint(label_map.geometry, center)
    return _paint_mask(label_map, start, mask, check_paint_value(label_map, value), paint_over)


def erase(
    label_map: LabelMap, center: Sequence[float], brush: Brush, paint_over: int | None = None
) -> VoxelDiff:
    """Set the footprint to background (only voxels of label ``paint_over`` when given)."""
    return paint(label_map, center, brush, 0, paint_over)


def threshold_paint(
    label_map: LabelMap,
    center: Sequence[float],
    brush: Brush,
    value: int,
    volume: Volume,
    intensity_range: tuple[float, float],
    paint_over: int | None = None,
) -> VoxelDiff:
    """Paint only footprint voxels of ``volume`` whose intensity lies in ``intensity_range`` (inclusive)."""
    check_same_grid(label_map, volume)
    low, high = intensity_range
    start, mask = brush.footprint(label_map.geometry, center)
    box = tuple(slice(s, s + n) for s, n in zip(start, mask.shape, strict=True))
    image = volume.array[box]
    in_range = mask & (image >= low) & (image <= high)
    return _paint_mask(label_map, start, in_range, check_paint_value(label_map, value), paint_over)


def intensity_range_at(volume: Volume, center: Sequence[float], brush: Brush) -> tuple[float, float]:
    """The (min, max) image intensity under the brush at ``center``: the range a threshold brush picks."""
    start, mask = brush.footprint(volume.geometry, center)
    if not mask.any():
        raise ValueError(f"the brush at {tuple(center)} lies outside the image")
    box = tuple(slice(s, s + n) for s, n in zip(start, mask.shape, strict=True))
    values = volume.array[box][mask]
    return float(values.min()), float(values.max())


def _paint_mask(
    label_map: LabelMap, start: tuple[int, ...], mask: np.ndarray, value: int, paint_over: int | None
) -> VoxelDiff:
    if not mask.any():
        return VoxelDiff.empty(label_map.array.ndim, label_map.array.dtype)
    box = tuple(slice(s, s + n) for s, n in zip(start, mask.shape, strict=True))
    current = label_map.array[box]
    editable = mask if paint_over is None else mask & (current == paint_over)
    return write_box(label_map.array, start, np.where(editable, value, current).astype(current.dtype))


def check_same_grid(label_map: LabelMap, volume: Volume) -> None:
    if not label_map.geometry.same_grid(volume.geometry) or volume.is_colour:
        raise ValueError("the image and the label map must be single-channel images on the same grid")
