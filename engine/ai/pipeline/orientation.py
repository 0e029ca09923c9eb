"""Reorientation of a (channels, z, y, x) array to the axis directions a model expects, and back.

``code`` names where the x, y and z index axes point (ITK/DICOM letters): "LPS" is ITK's identity
orientation, "RAS" is nibabel's canonical one (what a model trained on ``as_closest_canonical`` images
sees). Axes are matched to letters by their largest direction cosine (nibabel's ``io_orientation``
rule), so an oblique acquisition goes to its closest orthogonal orientation without interpolation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.geometry import Geometry, float3

_AXIS = {"L": (0, 1.0), "R": (0, -1.0), "P": (1, 1.0), "A": (1, -1.0), "S": (2, 1.0), "I": (2, -1.0)}


@dataclass(frozen=True)
class Reorientation:
    """For each output array axis (z, y, x) the source array axis it takes and whether it is reversed."""

    axes: tuple[int, int, int] = (0, 1, 2)
    flips: tuple[bool, bool, bool] = (False, False, False)

    @property
    def identity(self) -> bool:
        return self.axes == (0, 1, 2) and not any(self.flips)

    def forward(self, array: np.ndarray) -> np.ndarray:
        """Apply to an array whose last three axes are (z, y, x)."""
        lead = array.ndim - 3
        out = array.transpose(*range(lead), *(lead + a for a in self.axes))
        flipped = tuple(lead + i for i, f in enumerate(self.flips) if f)
        return np.flip(out, flipped) if flipped else out

    def backward(self, array: np.ndarray) -> np.ndarray:
        """Undo :meth:`forward` (last three axes)."""
        lead = array.ndim - 3
        flipped = tuple(lead + i for i, f in enumerate(self.flips) if f)
        out = np.flip(array, flipped) if flipped else array
        inverse = np.argsort(self.axes)
        return out.transpose(*range(lead), *(lead + int(a) for a in inverse))

    def geometry(self, geometry: Geometry) -> Geometry:
        """The grid of the reoriented array: the same voxel centres in patient space."""
        src_itk = [2 - self.axes[2 - j] for j in range(3)]  # output ITK axis j <- source ITK axis
        flip_itk = [self.flips[2 - j] for j in range(3)]
        size_itk = geometry.shape[::-1]
        corner = np.zeros(3)
        direction = np.empty((3, 3))
        spacing = []
        for j in range(3):
            src = src_itk[j]
            sign = -1.0 if flip_itk[j] else 1.0
            direction[:, j] = geometry.direction[:, src] * sign
            spacing.append(geometry.spacing[src])
            if flip_itk[j]:
                corner[src] = size_itk[src] - 1
        origin = np.asarray(geometry.origin) + geometry.direction @ (np.asarray(geometry.spacing) * corner)
        shape = tuple(geometry.shape[a] for a in self.axes)
        return Geometry(shape=shape, spacing=float3(spacing), origin=float3(origin), direction=direction)


def reorientation(geometry: Geometry, code: str) -> Reorientation:
    """The axis permutation and flips that make ``geometry``'s x, y, z axes point towards ``code``'s letters
    ("as_stored" = identity)."""
    if code == "as_stored":
        return Reorientation()
    cosines = np.abs(np.asarray(geometry.direction))  # rows: L, P, S; columns: source ITK axes x, y, z
    targets = [_AXIS[letter] for letter in code.upper()]
    chosen: dict[int, int] = {}  # output ITK axis -> source ITK axis
    free_out, free_src = {0, 1, 2}, {0, 1, 2}
    while free_out:
        best = max((cosines[targets[o][0], s], o, s) for o in free_out for s in free_src)
        _, o, s = best
        chosen[o] = s
        free_out.discard(o)
        free_src.discard(s)
    flips_itk = [bool(np.sign(geometry.direction[targets[o][0], chosen[o]]) != targets[o][1]) for o in range(3)]
    axes = tuple(2 - chosen[2 - a] for a in range(3))
    flips = tuple(flips_itk[2 - a] for a in range(3))
    return Reorientation(axes=(axes[0], axes[1], axes[2]), flips=(flips[0], flips[1], flips[2]))
