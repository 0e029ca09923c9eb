"""Measurements on a Volume in patient space: distance, region-of-interest statistics, probe.

ROIs are drawn on a view plane, so they are given by a centre, the plane's two in-plane unit vectors
(LPS) and half-sizes along them in mm. Statistics use every voxel whose centre, projected on the
plane, falls inside the shape, taken from the slice the plane passes through.
Colour images (a trailing RGB(A) samples axis): the probe reads every sample; ROI statistics are
grey-value statistics and refuse them with a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.volume import Volume

ROI_SHAPES = ("ellipse", "rectangle")


@dataclass(frozen=True)
class RoiStats:
    """Statistics of the voxel values inside an ROI; ``unit`` is 'HU' for CT, else ''."""

    mean: float
    sd: float
    minimum: float
    maximum: float
    area_mm2: float
    n_voxels: int
    unit: str = ""


def distance_mm(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance in mm between two patient points."""
    return float(np.linalg.norm(np.asarray(b, dtype=float) - np.asarray(a, dtype=float)))


def roi_area_mm2(shape: str, half_u: float, half_v: float) -> float:
    """Geometric area of the drawn shape."""
    if shape not in ROI_SHAPES:
        raise ValueError(f"unknown ROI shape {shape!r}; expected one of {ROI_SHAPES}")
    return float(np.pi * half_u * half_v) if shape == "ellipse" else float(4 * half_u * half_v)


def roi_statistics(
    volume: Volume,
    center: np.ndarray,
    axis_u: np.ndarray,
    axis_v: np.ndarray,
    half_u: float,
    half_v: float,
    shape: str = "ellipse",
) -> RoiStats:
    """Mean / SD / min / max of the voxels inside an ellipse or rectangle ROI on a view plane."""
    if volume.is_colour:
        raise ValueError("ROI statistics need a greyscale image; this one is colour (RGB samples)")
    area = roi_area_mm2(shape, half_u, half_v)
    values = _values_inside(volume, np.asarray(center, float), np.asarray(axis_u, float),
                            np.asarray(axis_v, float), abs(half_u), abs(half_v), shape)
    unit = "HU" if volume.modality.upper() == "CT" else ""
    if values.size == 0:
        return RoiStats(float("nan"), float("nan"), float("nan"), float("nan"), area, 0, unit)
    values = values.astype(np.float64)
    return RoiStats(float(values.mean()), float(values.std()), float(values.min()), float(values.max()),
                    area, int(values.size), unit)


def probe(volume: Volume, point: np.ndarray) -> tuple[float | tuple[float, ...], tuple[int, ...]] | None:
    """Value and array-order index of the voxel nearest a patient point, or None outside the volume.

    The value is a float, or for a colour image the tuple of its samples (R, G, B[, A]).
    """
    spatial = volume.geometry.shape
    index = tuple(int(i) for i in np.rint(volume.patient_to_voxel(np.asarray(point, float))))
    if any(i < 0 or i >= n for i, n in zip(index, spatial, strict=True)):
        return None
    if volume.is_colour:
        return tuple(float(v) for v in volume.array[index]), index
    return float(volume.array[index]), index


def _values_inside(volume: Volume, center: np.ndarray, axis_u: np.ndarray, axis_v: np.ndarray,
                   half_u: float, half_v: float, shape: str) -> np.ndarray:
    step = min(volume.spacing[: volume.array.ndim]) / 2  # sample finer than the grid, then de-duplicate
    us = np.arange(-half_u, half_u + step / 2, step)
    vs = np.arange(-half_v, half_v + step / 2, step)
    gu, gv = np.meshgrid(us, vs, indexing="ij")
    inside = np.ones(gu.shape, bool) if shape == "rectangle" else (
        (gu / max(half_u, 1e-9)) ** 2 + (gv / max(half_v, 1e-9)) ** 2 <= 1.0
    )
    points = center + gu[inside, None] * axis_u + gv[inside, None] * axis_v
    index = np.rint(volume.patient_to_voxel(points)).astype(np.int64)
    shape_arr = np.asarray(volume.array.shape)
    index = index[np.all((index >= 0) & (index < shape_arr), axis=1)]
    if index.size == 0:
        return np.empty(0)
    # keep voxels whose own centre lies inside the shape (sampling alone would also catch edge voxels)
    index = np.unique(index, axis=0)
    offsets = volume.voxel_to_patient(index.astype(float)) - center
    du, dv = offsets @ axis_u, offsets @ axis_v
    if shape == "rectangle":
        keep = (np.abs(du) <= half_u + 1e-6) & (np.abs(dv) <= half_v + 1e-6)
    else:
        keep = (du / max(half_u, 1e-9)) ** 2 + (dv / max(half_v, 1e-9)) ** 2 <= 1.0 + 1e-9
    index = index[keep]
    return volume.array[tuple(index.T)]
