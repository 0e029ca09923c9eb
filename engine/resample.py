"""Resampling of an image from one grid onto another by patient coordinates (numpy + scipy.ndimage).

The semantics are ITK's ResampleImageFilter with an identity transform, so results match SimpleITK's
``sitk.Resample`` (tests/test_resample.py measures it): each target voxel centre is mapped to a continuous
source index (z, y, x); a point is inside the source when every index lies in [-0.5, n - 0.5), and points
outside read ``fill``. Linear interpolation clamps the neighbours at the border (ITK's
LinearInterpolateImageFunction; scipy's ``mode="nearest"``), nearest neighbour rounds half up (ITK's
NearestNeighborInterpolateImageFunction). ``smooth`` is the Gaussian anti-aliasing applied before
downsampling (sigma in millimetres per axis, ITK order x, y, z).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from engine.geometry import Geometry

_BLOCK_VOXELS = 1 << 21  # target voxels whose source coordinates are computed at once (3 float64 each)


def index_transform(source: Geometry, target: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """``(matrix, offset)`` in array order (z, y, x): source index = matrix @ target index + offset."""
    _require_3d(source, target)
    to_source = np.linalg.inv(source.direction * np.asarray(source.spacing)[None, :])
    matrix_xyz = to_source @ (target.direction * np.asarray(target.spacing)[None, :])
    offset_xyz = to_source @ (np.asarray(target.origin) - np.asarray(source.origin))
    return matrix_xyz[::-1, ::-1].copy(), offset_xyz[::-1].copy()


def smooth(array: np.ndarray, geometry: Geometry, sigma_mm: Sequence[float]) -> np.ndarray:
    """``array`` (float32) convolved with a Gaussian of ``sigma_mm`` (x, y, z) millimetres; the border is
    extended with its own values."""
    sigma_voxels = [float(s) / float(d) for s, d in zip(sigma_mm, geometry.spacing, strict=True)][::-1]
    data = np.asarray(array, dtype=np.float32)
    return ndimage.gaussian_filter(data, sigma=sigma_voxels[-data.ndim:], mode="nearest", truncate=4.0)


def resample(array: np.ndarray, source: Geometry, target: Geometry, order: int = 1, fill: float = 0.0,
             dtype: type | np.dtype = np.float32) -> np.ndarray:
    """``array`` on the ``source`` grid resampled onto ``target`` (linear with ``order=1``, nearest with 0).

    Points of ``target`` outside ``source`` read ``fill``. Returns an array of ``target.shape`` and ``dtype``.
    """
    if order not in (0, 1):
        raise ValueError(f"resample supports order 0 (nearest) and 1 (linear), not {order}")
    data = np.asarray(array)
    if data.shape != source.shape:
        raise ValueError(f"the array's shape {data.shape} is not the source grid's {source.shape}")
    matrix, offset = index_transform(source, target)
    if order:
        data = data.astype(np.float64 if data.dtype == np.float64 else np.float32, copy=False)
    limits = np.asarray(source.shape, dtype=float)
    out = np.empty(target.shape, dtype=dtype)
    plane = target.shape[1] * target.shape[2]
    rows, columns = np.meshgrid(np.arange(target.shape[1], dtype=float), np.arange(target.shape[2], dtype=float),
                                indexing="ij")
    block = max(1, _BLOCK_VOXELS // max(plane, 1))
    for start in range(0, target.shape[0], block):
        slices = np.arange(start, min(start + block, target.shape[0]), dtype=float)
        grid = np.stack(np.broadcast_arrays(slices[:, None, None], rows[None], columns[None]))  # (3, k, y, x)
        coordinates = np.tensordot(matrix, grid, axes=1) + offset[:, None, None, None]
        inside = np.all((coordinates >= -0.5) & (coordinates < limits[:, None, None, None] - 0.5), axis=0)
        upper = (limits - 1.0)[:, None, None, None]
        clamped = np.clip(coordinates, 0.0, upper)
        if order:
            values = ndimage.map_coordinates(data, clamped, order=1, mode="nearest")
        else:
            index = np.minimum(np.floor(clamped + 0.5), upper).astype(np.intp)
            values = data[index[0], index[1], index[2]]
        out[start:start + len(slices)] = np.where(inside, values, fill)
    return out


def _require_3d(*geometries: Geometry) -> None:
    for geometry in geometries:
        if geometry.is_projection:
            raise ValueError(f"resampling needs 3D grids, got the 2D grid {geometry.shape}")
