"""Wrap an engine image (Volume, LabelMap, Heatmap) as vtkImageData in LPS patient space, without a copy.

A colour Volume's trailing samples axis becomes the scalars' components (RGB or RGBA per voxel)."""

from __future__ import annotations

import numpy as np
from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy
from vtkmodules.vtkCommonDataModel import vtkImageData

from engine.geometry import Geometry


class VtkImage:
    """A vtkImageData sharing ``array``'s memory (kept referenced here) with origin/spacing/direction set.
    ``samples`` is the shape of one voxel's value: () for grey, (3,) for RGB."""

    def __init__(self, array: np.ndarray, geometry: Geometry) -> None:
        if not array.flags.c_contiguous:
            raise ValueError("the image array must be C-contiguous to be shared with VTK without a copy")
        self.array = array
        self.samples = array.shape[len(geometry.shape):]
        self.data = vtkImageData()
        dims = tuple(reversed(geometry.shape)) + ((1,) if geometry.is_projection else ())
        self.data.SetDimensions(*dims)
        self.data.SetSpacing(*geometry.spacing)
        self.data.SetOrigin(*geometry.origin)
        self.data.SetDirectionMatrix(*np.asarray(geometry.direction, float).ravel())
        self._scalars = numpy_to_vtk(array.reshape(-1, *self.samples), deep=0)
        self.data.GetPointData().SetScalars(self._scalars)
        # The same scalars on the bare index grid: reslicing goes index <- patient through our own affine,
        # because vtkImageReslice (9.7) drops every sample of inputs whose direction flips an axis.
        self.index_data = vtkImageData()
        self.index_data.SetDimensions(*dims)
        self.index_data.GetPointData().SetScalars(self._scalars)
        self.patient_from_index = geometry.affine

    def shares_memory(self) -> bool:
        """True when VTK reads the very numpy buffer (no copy was made)."""
        return vtk_to_numpy(self._scalars).ctypes.data == self.array.ctypes.data  # any scalar type

    def modified(self) -> None:
        """Tell VTK the array's values changed in place (progressive loading, label editing)."""
        self._scalars.Modified()
        self.data.Modified()
        self.index_data.Modified()
