"""One vtkImageReslice that samples an image on a view's screen plane at screen resolution.

The reslice axes map screen millimetres straight to voxel indices (patient -> index through the image
affine), so any storage order and slice direction is displayed in patient space.
"""

from __future__ import annotations

import numpy as np
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkImagingCore import vtkImageReslice

from app.render.vtk_image import VtkImage
from app.viewer_model.plane import SlicePlane


class PlaneReslice:
    """Reslice ``image`` on a SlicePlane; returns a (height, width) array in the image's dtype."""

    def __init__(self, image: VtkImage, interpolation: str = "linear", background: float = 0.0) -> None:
        self.image = image
        self._axes = vtkMatrix4x4()
        self._reslice = vtkImageReslice()
        self._reslice.SetInputData(image.index_data)
        self._index_from_patient = np.linalg.inv(image.patient_from_index)
        self._reslice.SetResliceAxes(self._axes)
        self._reslice.SetOutputDimensionality(2)
        self._reslice.SetBackgroundLevel(background)
        self._reslice.SetOutputOrigin(0.0, 0.0, 0.0)
        if interpolation == "nearest":
            self._reslice.SetInterpolationModeToNearestNeighbor()
        else:
            self._reslice.SetInterpolationModeToLinear()

    def sample(self, plane: SlicePlane) -> np.ndarray:
        """The image values at every screen pixel of ``plane``."""
        matrix = self._index_from_patient @ plane.reslice_axes()
        for row in range(4):
            for col in range(4):
                self._axes.SetElement(row, col, matrix[row, col])
        self._axes.Modified()
        self._reslice.SetOutputSpacing(plane.mm_per_pixel, plane.mm_per_pixel, 1.0)
        self._reslice.SetOutputExtent(0, plane.width - 1, 0, plane.height - 1, 0, 0)
        self._reslice.Update()
        output = self._reslice.GetOutput()
        return vtk_to_numpy(output.GetPointData().GetScalars()).reshape(plane.height, plane.width)
