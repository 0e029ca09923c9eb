"""Model inputs for one candidate lesion — the same function at training and at inference (ARCHITECTURE §1).

- ``local``: 3 axial planes (the peak's slice and one slice-spacing above / below) of 32 x 32 samples at
  0.6 mm (19 mm field), HU clipped to -200..1200 and scaled by 1/500;
- ``context``: 3 axial planes (peak slice and +-12 mm) of 64 x 64 samples at 3 mm (192 mm field: heart,
  aorta, sternum and spine around the lesion), HU clipped to -1000..1000 and scaled by 1/500;
- ``scalars`` (8): log1p(volume mm^3)/5, peak HU/1000, mean HU/1000, log1p(max area mm^2)/3, z extent
  (mm)/10, and the peak's offset from the body centre in patient x, y and z (mm)/100.

Planes are sampled on patient axes (LPS: +x to the patient's left, +y posterior), not on array axes, so a
series stored with flipped or rotated axes gives the same inputs. Linear interpolation, -1000 HU outside.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from engine.geometry import Geometry

from .candidates import Candidate, Candidates

LOCAL_SIZE, LOCAL_MM = 32, 0.6
CONTEXT_SIZE, CONTEXT_MM = 64, 3.0
CONTEXT_DZ_MM = 12.0
N_SCALARS = 8


def _plane_offsets(size: int, step_mm: float) -> np.ndarray:
    """(size, size, 3) LPS offsets of a plane centred on 0: rows run +y (posterior), columns +x (left)."""
    axis = (np.arange(size) - (size - 1) / 2) * step_mm
    rows, cols = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([cols, rows, np.zeros_like(rows)], axis=-1)


_LOCAL = _plane_offsets(LOCAL_SIZE, LOCAL_MM)
_CONTEXT = _plane_offsets(CONTEXT_SIZE, CONTEXT_MM)


def _sample(hu: np.ndarray, geometry: Geometry, centre: np.ndarray, plane: np.ndarray, dz: tuple[float, ...]
            ) -> np.ndarray:
    points = np.stack([centre + plane + np.array([0.0, 0.0, d]) for d in dz])
    index = geometry.patient_to_voxel(points.reshape(-1, 3)).T
    values = ndimage.map_coordinates(hu, index, order=1, mode="constant", cval=-1000.0, prefilter=False)
    return values.reshape(len(dz), *plane.shape[:2]).astype(np.float32)


def candidate_inputs(hu: np.ndarray, geometry: Geometry, candidates: Candidates
                     ) -> dict[str, np.ndarray]:
    """``local`` (n, 3, 32, 32), ``context`` (n, 3, 64, 64) and ``scalars`` (n, 8), float32."""
    n = len(candidates.items)
    local = np.zeros((n, 3, LOCAL_SIZE, LOCAL_SIZE), dtype=np.float32)
    context = np.zeros((n, 3, CONTEXT_SIZE, CONTEXT_SIZE), dtype=np.float32)
    scalars = np.zeros((n, N_SCALARS), dtype=np.float32)
    body = geometry.voxel_to_patient(np.asarray(candidates.body_centre_voxel, dtype=float))
    slice_mm = geometry.spacing[2]
    for i, item in enumerate(candidates.items):
        centre = geometry.voxel_to_patient(np.asarray(item.peak_voxel, dtype=float))
        local[i] = np.clip(_sample(hu, geometry, centre, _LOCAL, (-slice_mm, 0.0, slice_mm)), -200, 1200) / 500
        context[i] = np.clip(_sample(hu, geometry, centre, _CONTEXT, (-CONTEXT_DZ_MM, 0.0, CONTEXT_DZ_MM)),
                             -1000, 1000) / 500
        scalars[i] = _scalars(item, geometry, centre - body)
    return {"local": local, "context": context, "scalars": scalars}


def _scalars(item: Candidate, geometry: Geometry, offset_mm: np.ndarray) -> np.ndarray:
    score = item.score
    return np.array([
        np.log1p(score.volume_mm3) / 5, score.peak_hu / 1000, score.mean_hu / 1000,
        np.log1p(score.max_area_mm2) / 3, item.z_extent * geometry.spacing[2] / 10, *(offset_mm / 100),
    ], dtype=np.float32)
