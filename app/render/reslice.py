"""One vtkImageReslice that samples an image on a view's screen plane at screen resolution.

The reslice axes map screen millimetres straight to voxel indices (patient -> index through the image
affine), so any storage order and slice direction is displayed in patient space. A sample is cached: the
same plane, pixel rectangle and image contents give back the previous array without reslicing.

A thick slab (``SlabSampling``) combines ``slices`` planes ``step_mm`` apart along the normal with VTK's slab
mode (max, min or mean): the renderer uses it for oblique planes, where no array axis can be reduced in numpy.
"""

from __future__ import annotations

import os
from dataclasses import replace

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


class ObliqueSlab:
    """A thick slab on an oblique plane as a stack of single resliced planes, reduced in numpy. The planes are
    where VTK's slab mode samples (``slices`` planes ``step_mm`` apart, centred on the view's plane), kept on a
    lattice along the normal: scrolling moves the plane along its normal by the slice step while its in-plane
    placement stays, so each step reslices only the planes that entered the slab and reuses the others (VTK's
    slab mode resamples every plane of the slab at every step). A move off the lattice starts a new one."""

    def __init__(self, image: VtkImage, interpolation: str = "linear", background: float = 0.0) -> None:
        self._reslice = PlaneReslice(image, interpolation, background)
        self._key: tuple | None = None
        self._anchor = 0.0  # depth (mm along the normal) of lattice plane 0
        self._planes: dict[int, np.ndarray] = {}

    def sample(self, plane: SlicePlane, slab: SlabSampling, rect: Rect | None = None) -> np.ndarray:
        mode, slices, step = slab
        if mode not in _SLAB_MODES:
            raise ValueError(f"no projection for slab mode {mode!r}")
        if step <= 0 or slices < 1:
            raise ValueError(f"a slab needs a positive step and at least one slice, got {slices} x {step} mm")
        normal = plane.axes.normal
        depth = float(plane.origin @ normal)
        in_plane = plane.origin - depth * normal  # what scrolling keeps
        x0, x1, y0, y1 = rect or (0, plane.width - 1, 0, plane.height - 1)
        key = (np.round(in_plane, 6).tobytes(), plane.axes.right.tobytes(), plane.axes.down.tobytes(),
               plane.mm_per_pixel, x0, x1, y0, y1, step, self._reslice.image.index_data.GetMTime())
        first_depth = depth - (slices - 1) / 2.0 * step  # the slab's first plane
        lattice = (first_depth - self._anchor) / step
        if key != self._key or abs(lattice - round(lattice)) > 1e-4:
            self._key, self._anchor, self._planes, lattice = key, first_depth, {}, 0.0
        first = int(round(lattice))
        wanted = range(first, first + slices)
        for k in [k for k in self._planes if k not in wanted]:
            del self._planes[k]
        for k in wanted:
            if k not in self._planes:
                at = replace(plane, origin=in_plane + (self._anchor + k * step) * normal)
                self._planes[k] = self._reslice.sample(at, (x0, x1, y0, y1)).copy()
        stack = [self._planes[k] for k in wanted]
        if mode == "mip":
            return np.maximum.reduce(stack)
        if mode == "minip":
            return np.minimum.reduce(stack)
        mean = np.add.reduce(stack, dtype=np.float32 if stack[0].dtype.itemsize <= 2 else np.float64) / slices
        dtype = stack[0].dtype
        return np.rint(mean).astype(dtype) if np.issubdtype(dtype, np.integer) else mean.astype(dtype)
