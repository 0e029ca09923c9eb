"""Where a measurement lies on its series' acquired images: patient points (LPS) to one image's DICOM pixel
coordinates (column, row; the top-left corner of the top-left pixel is (0, 0), its centre (0.5, 0.5)) and back."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydicom.dataset import Dataset

from engine.geometry import Geometry

ON_SLICE_TOLERANCE = 0.1  # voxels along the slice axis: a point this close to a slice centre lies on it


def image_pixels(points: Sequence[np.ndarray] | np.ndarray, geometry: Geometry) -> tuple[int, np.ndarray] | None:
    """(slice index, (n, 2) column/row pixel coordinates) when every point lies on one acquired image, else
    None (a measurement drawn across slices, on a reformatted plane)."""
    index = geometry.patient_to_voxel(np.asarray(points, dtype=float).reshape(-1, 3))
    if geometry.is_projection:
        z = 0
        rows_cols = index
    else:
        z = int(round(float(index[0, 0])))
        if np.max(np.abs(index[:, 0] - z)) > ON_SLICE_TOLERANCE or not 0 <= z < geometry.shape[0]:
            return None
        rows_cols = index[:, 1:]
    return z, np.stack([rows_cols[:, 1] + 0.5, rows_cols[:, 0] + 0.5], axis=1)


def image_to_patient(pixels: np.ndarray, z: int, geometry: Geometry) -> np.ndarray:
    """The inverse of ``image_pixels``: (n, 2) column/row coordinates on slice ``z`` to LPS points."""
    pixels = np.asarray(pixels, dtype=float).reshape(-1, 2)
    rows_cols = np.stack([pixels[:, 1] - 0.5, pixels[:, 0] - 0.5], axis=1)
    if geometry.is_projection:
        return geometry.voxel_to_patient(rows_cols)
    zyx = np.concatenate([np.full((len(rows_cols), 1), float(z)), rows_cols], axis=1)
    return geometry.voxel_to_patient(zyx)


def slice_of(sop_instance_uid: str, ordered: Sequence[Dataset]) -> int:
    """The slice index of an image of the series (ValueError when the series has no such image)."""
    for z, dataset in enumerate(ordered):
        if dataset.SOPInstanceUID == sop_instance_uid:
            return z
    raise ValueError(f"image {sop_instance_uid} is not in this series")
