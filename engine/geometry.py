"""Image geometry: the mapping between voxel indices and DICOM patient coordinates (LPS, mm).

Conventions (the same as ITK / SimpleITK, so that images pass between them unchanged):
- arrays are indexed (z, y, x) — slice, row, column — or (y, x) for projection images;
- ``spacing`` and ``origin`` are given in (x, y, z) order: column spacing, row spacing, slice spacing;
- ``direction`` is a 3x3 matrix whose *columns* are the unit vectors, in LPS, of the column (x), row (y)
  and slice (z) index axes;
- patient = origin + direction @ (spacing * (x, y, z)).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import SupportsFloat, SupportsInt

import numpy as np

_LPS_LETTERS = (("R", "L"), ("A", "P"), ("I", "S"))


@dataclass(frozen=True)
class Geometry:
    """Shape (array order) plus spacing, origin and direction (ITK order) of an image grid."""

    shape: tuple[int, ...]
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))

    def __post_init__(self) -> None:
        if len(self.shape) not in (2, 3):
            raise ValueError(f"geometry needs a 2D or 3D shape, got {self.shape}")
        spacing = tuple(float(s) for s in self.spacing)
        if len(spacing) == 2:
            spacing = (*spacing, 1.0)
        if len(spacing) != 3 or min(spacing) <= 0 or not np.all(np.isfinite(spacing)):
            raise ValueError(f"spacing must be three positive finite numbers, got {self.spacing}")
        origin = tuple(float(o) for o in self.origin)
        if len(origin) != 3:
            raise ValueError(f"origin must have three coordinates, got {self.origin}")
        direction = np.asarray(self.direction, dtype=float).reshape(3, 3)
        if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-4):
            raise ValueError("direction must be orthonormal (columns are unit axis vectors)")
        object.__setattr__(self, "spacing", spacing)
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "direction", direction)
        object.__setattr__(self, "shape", tuple(int(n) for n in self.shape))

    @property
    def is_projection(self) -> bool:
        """True for a 2D (projection radiograph) grid."""
        return len(self.shape) == 2

    @property
    def affine(self) -> np.ndarray:
        """4x4 matrix mapping homogeneous ITK-order indices (x, y, z, 1) to LPS millimetres."""
        matrix = np.eye(4)
        matrix[:3, :3] = self.direction * np.asarray(self.spacing)[None, :]
        matrix[:3, 3] = self.origin
        return matrix

    def voxel_to_patient(self, zyx: np.ndarray) -> np.ndarray:
        """Patient (LPS, mm) coordinates of array-order indices ``(..., 3)`` or ``(..., 2)`` (continuous)."""
        zyx = np.asarray(zyx, dtype=float)
        xyz = _array_order_to_itk(zyx)
        return xyz @ (self.direction * np.asarray(self.spacing)[None, :]).T + np.asarray(self.origin)

    def patient_to_voxel(self, lps: np.ndarray) -> np.ndarray:
        """Continuous array-order indices (z, y, x) — or (y, x) for 2D — of LPS points ``(..., 3)``."""
        lps = np.asarray(lps, dtype=float)
        xyz = ((lps - np.asarray(self.origin)) @ self.direction) / np.asarray(self.spacing)
        zyx = xyz[..., ::-1]
        return zyx[..., 1:] if self.is_projection else zyx

    def orientation_letters(self) -> tuple[str, str, str]:
        """For each of the x, y, z index axes the patient letter it points towards, e.g. ('L', 'P', 'S')."""
        letters = []
        for axis in self.direction.T:
            dominant = int(np.argmax(np.abs(axis)))
            letters.append(_LPS_LETTERS[dominant][int(axis[dominant] > 0)])
        x, y, z = letters
        return x, y, z

    def same_grid(self, other: Geometry, tolerance_mm: float = 1e-3) -> bool:
        """True when both grids have the same shape and voxel centres (within ``tolerance_mm``)."""
        if self.shape != other.shape:
            return False
        return bool(np.allclose(self.affine, other.affine, atol=tolerance_mm))


def float3(values: Iterable[SupportsFloat]) -> tuple[float, float, float]:
    """The three values of a point, spacing or colour as floats; ValueError unless there are exactly three."""
    a, b, c = (float(v) for v in values)
    return a, b, c


def int3(values: Iterable[SupportsInt]) -> tuple[int, int, int]:
    """The three values of an index or colour as ints; ValueError unless there are exactly three."""
    a, b, c = (int(v) for v in values)
    return a, b, c


def _array_order_to_itk(zyx: np.ndarray) -> np.ndarray:
    if zyx.shape[-1] == 2:
        zyx = np.concatenate([np.zeros(zyx.shape[:-1] + (1,)), zyx], axis=-1)
    if zyx.shape[-1] != 3:
        raise ValueError(f"indices must have 2 or 3 components, got shape {zyx.shape}")
    return zyx[..., ::-1]


def direction_from_image_orientation(orientation: tuple[float, ...] | list[float]) -> np.ndarray:
    """Direction matrix from DICOM ImageOrientationPatient (row cosine, column cosine); slice = row x column."""
    values = np.asarray(orientation, dtype=float).reshape(2, 3)
    row, column = values[0], values[1]
    row = row / np.linalg.norm(row)
    column = column - row * float(row @ column)  # headers print cosines to a few decimals: re-orthogonalise
    column = column / np.linalg.norm(column)
    return np.column_stack([row, column, np.cross(row, column)])
