"""Wrap an engine image (Volume, LabelMap, Heatmap) as vtkImageData in LPS patient space, without a copy."""

from __future__ import annotations

import numpy as np
from vtkmodules.util.numpy_support import numpy_to_vtk
from vtkmodules.vtkCommonDataModel import vtkImageData

from engine.geometry import Geometry


class VtkImage:
    """A vtkImageData sharing ``array``'s memory (kept referenced here) with origin/spacing/direction set."""

    def __init__(self, array: np.ndarray, geometry: Geometry) -> None:
        if not array.flags.c_contiguous:
            raise ValueError("the image array must be C-contiguous to be shared with VTK without a copy")
        self.array = array
        self.data = vtkImageData()
        dims = tuple(reversed(array.shape)) + ((1,) if array.ndim == 2 else ())
        self.data.SetDimensions(*dims)
        self.data.SetSpacing(*geometry.spacing)
        self.data.SetOrigin(*geometry.origin)
        self.data.SetDirectionMatrix(*np.asarray(geometry.direction, float).ravel())
        self._scalars = numpy_to_vtk(array.reshape(-1), deep=0)
        self.data.GetPointData().SetScalars(self._scalars)
        # The same scalars on the bare index grid: reslicing goes index <- patient through our own affine,
        # because vtkImageReslice (9.7) drops every sample of inputs whose direction flips an axis.
        self.index_data = vtkImageData()
        self.index_data.SetDimensions(*dims)
        self.index_data.GetPointData().SetScalars(self._scalars)
        self.patient_from_index = geometry.affine

    def shares_memory(self) -> bool:
        """True when VTK reads the very numpy buffer (no copy was made)."""
        return self._scalars.GetPointer(0) == self.array.ctypes.data

    def modified(self) -> None:
        """Tell VTK the array's values changed in place (progressive loading, label editing)."""
        self._scalars.Modified()
        self.data.Modified()
        self.index_data.Modified()
