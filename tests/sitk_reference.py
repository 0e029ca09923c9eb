"""SimpleITK, the reference the engine's own NIfTI / MetaImage / NRRD I/O and resampling are tested against.

SimpleITK stays a dev/train dependency; the engine, app and plugins never import it (pyproject's layer
contract), so these conversions live with the tests.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from engine.geometry import Geometry
from engine.volume import Heatmap, LabelMap, Volume


def to_sitk(image: Volume | LabelMap | Heatmap) -> sitk.Image:
    """A SimpleITK image with the same voxels, spacing, origin and direction (LPS); 2D gets one slice."""
    array = image.array
    if image.geometry.is_projection:
        array = array[None, ...]
    itk = sitk.GetImageFromArray(np.ascontiguousarray(array))
    itk.SetSpacing(image.geometry.spacing)
    itk.SetOrigin(image.geometry.origin)
    itk.SetDirection(tuple(float(v) for v in image.geometry.direction.ravel()))
    return itk


def sitk_2d(array: np.ndarray, geometry: Geometry) -> sitk.Image:
    """A 2D SimpleITK image of a projection ``geometry`` (its 2x2 direction block)."""
    itk = sitk.GetImageFromArray(np.ascontiguousarray(array))
    itk.SetSpacing(geometry.spacing[:2])
    itk.SetOrigin(geometry.origin[:2])
    itk.SetDirection(tuple(float(v) for v in geometry.direction[:2, :2].ravel()))
    return itk


def geometry_from_sitk(itk: sitk.Image) -> Geometry:
    """Our Geometry of a 2D or 3D SimpleITK image."""
    if itk.GetDimension() == 2:
        direction = np.eye(3)
        direction[:2, :2] = np.asarray(itk.GetDirection()).reshape(2, 2)
        return Geometry(shape=itk.GetSize()[::-1], spacing=(*itk.GetSpacing(), 1.0),
                        origin=(*itk.GetOrigin(), 0.0), direction=direction)
    return Geometry(shape=itk.GetSize()[::-1], spacing=itk.GetSpacing(), origin=itk.GetOrigin(),
                    direction=np.asarray(itk.GetDirection()).reshape(3, 3))
