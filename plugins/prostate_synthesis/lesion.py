"""Where is the darkest peripheral-zone lesion? A simple, model-free check of prompt adherence.

The prostate sits at the centre of the synthesis grid. The T2 image, lightly smoothed, minus its own
left-right mirror image cancels the symmetric anatomy (rectum, bladder, zones); a hypointense PZ lesion
leaves a deep negative dip on its side. The search is limited to a posterior-lateral box around the grid
centre (where the peripheral zone lies). The dip's cranio-caudal offset from the grid centre gives the level
(base above +LEVEL_MM, apex below -LEVEL_MM, mid gland between). Validated on real phantoms in
training/ccella/evaluate.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from engine.geometry import int3
from engine.volume import Volume

from .types import LEVEL_NAMES

# Peripheral-zone search box relative to the grid centre, mm: |x| (lateral), y (posterior +), |z|.
LATERAL_MM = (4.0, 28.0)
POSTERIOR_MM = (0.0, 20.0)
CRANIOCAUDAL_MM = 15.0
LEVEL_MM = 6.0  # about a third of the gland's half-length, as the phantom names levels
LEVELS = LEVEL_NAMES[1:]  # apex, mid, base: inferior to superior


@dataclass(frozen=True)
class LesionCall:
    """The darkest asymmetric PZ dip: patient side ('left'/'right'), depth (a fraction of the median
    signal; deeper = more lesion-like), its voxel (z, y, x) and level (one of LEVELS)."""

    side: str
    depth: float
    voxel: tuple[int, int, int]
    level: str


def darkest_pz_lesion(volume: Volume) -> LesionCall:
    """Side, depth and voxel of the deepest left-right asymmetric dip in the posterior-lateral box."""
    if not np.allclose(np.abs(volume.direction), np.eye(3), atol=1e-3):
        raise ValueError("the lesion check needs an axial, axis-aligned grid")
    image = np.asarray(volume.array, dtype=np.float32)
    image = ndimage.gaussian_filter(image / max(float(np.median(image)), 1e-6), 1.0)
    asymmetry = image - image[:, :, ::-1]
    offsets = [(np.arange(n) - (n - 1) / 2) * s for n, s in zip(image.shape[::-1], volume.spacing, strict=True)]
    x_mm, y_mm, z_mm = (offsets[0] * volume.direction[0, 0], offsets[1] * volume.direction[1, 1],
                        offsets[2] * volume.direction[2, 2])  # LPS offsets from the grid centre
    box = ((np.abs(z_mm) <= CRANIOCAUDAL_MM)[:, None, None]
           & ((y_mm >= POSTERIOR_MM[0]) & (y_mm <= POSTERIOR_MM[1]))[None, :, None]
           & ((np.abs(x_mm) >= LATERAL_MM[0]) & (np.abs(x_mm) <= LATERAL_MM[1]))[None, None, :])
    masked = np.where(box, asymmetry, np.inf)
    voxel = int3(np.unravel_index(int(np.argmin(masked)), masked.shape))
    side = "left" if x_mm[voxel[2]] > 0 else "right"  # LPS +x is the patient's left
    height = z_mm[voxel[0]]  # LPS +z is superior: the base lies above the apex
    level = LEVELS[int(height > -LEVEL_MM) + int(height > LEVEL_MM)]
    return LesionCall(side=side, depth=float(-masked[voxel]), voxel=voxel, level=level)
