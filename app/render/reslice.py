"""One vtkImageReslice that samples an image on a view's screen plane at screen resolution.

The reslice axes map screen millimetres straight to voxel indices (patient -> index through the image
affine), so any storage order and slice direction is displayed in patient space. A sample is cached: the
same plane, pixel rectangle and image contents give back the previous array without reslicing.

A thick slab (``SlabSampling``) combines ``slices`` planes ``step_mm`` apart along the normal with VTK's slab
mode (max, min or mean): the renderer uses it for oblique planes, where no array axis can be reduced in numpy.
"""

from __future__ import annotations

import os

import numpy as np
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkImagingCore import vtkImageReslice

from app.render.vtk_image import VtkImage
from app.viewer_model.plane import SlicePlane

PIXELS_PER_THREAD = 512 * 512  # below this, starting threads costs more than it saves
_CPUS = os.cpu_count() or 1

Rect = tuple[int, int, int, int]  # inclusive x0, x1, y0, y1
SlabSampling = tuple[str, int, float]  # mode ('mip', 'minip', 'mean'), number of slices, step along the normal
_SLAB_MODES = {"mip": "SetSlabModeToMax", "minip": "SetSlabModeToMin", "mean": "SetSlabModeToMean"}


class PlaneReslice:
    """Reslice ``image`` on a SlicePlane; returns a (height, width) array in the image's dtype, with the
    colour samples axis of a colour image after those two."""

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
        self._key: tuple | None = None
        self._last: np.ndarray | None = None

    def sample(self, plane: SlicePlane, rect: Rect | None = None, slab: SlabSampling | None = None) -> np.ndarray:
        """The image values at every screen pixel of ``plane`` (or of the inclusive pixel ``rect`` only),
        projected over a slab centred on the plane when ``slab`` is given."""
        x0, x1, y0, y1 = rect or (0, plane.width - 1, 0, plane.height - 1)
        key = (plane.origin.tobytes(), plane.axes.right.tobytes(), plane.axes.down.tobytes(),
               plane.mm_per_pixel, x0, x1, y0, y1, self.image.index_data.GetMTime(), slab)
        if key == self._key:
            return self._last
        matrix = self._index_from_patient @ plane.reslice_axes()
        for row in range(4):
            for col in range(4):
                self._axes.SetElement(row, col, matrix[row, col])
        self._axes.Modified()
        slices, step = 1, 1.0
        if slab is not None and slab[1] > 1:
            mode, slices, step = slab
            getattr(self._reslice, _SLAB_MODES[mode])()
        self._reslice.SetSlabNumberOfSlices(slices)
        pixels = (x1 - x0 + 1) * (y1 - y0 + 1) * slices
        self._reslice.SetNumberOfThreads(max(1, min(_CPUS, pixels // PIXELS_PER_THREAD)))
        self._reslice.SetOutputSpacing(plane.mm_per_pixel, plane.mm_per_pixel, step)
        self._reslice.SetOutputExtent(x0, x1, y0, y1, 0, 0)
        self._reslice.Update()
        scalars = self._reslice.GetOutput().GetPointData().GetScalars()
        self._key, self._last = key, vtk_to_numpy(scalars).reshape(y1 - y0 + 1, x1 - x0 + 1, *self.image.samples)
        return self._last
