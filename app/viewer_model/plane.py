"""A view's slice plane on screen: which patient point each screen pixel shows, and back."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.viewer_model.orientation import ViewAxes


@dataclass(frozen=True)
class SlicePlane:
    """``width`` x ``height`` screen pixels, ``mm_per_pixel`` apart, pixel (0, 0) centred on ``origin``."""

    origin: np.ndarray
    axes: ViewAxes
    mm_per_pixel: float
    width: int
    height: int

    def pixel_to_patient(self, x: float, y: float) -> np.ndarray:
        """LPS point shown at (continuous) screen pixel (x, y); pixel centres are at integers."""
        return self.origin + (x * self.axes.right + y * self.axes.down) * self.mm_per_pixel

    def patient_to_pixel(self, point: np.ndarray) -> tuple[float, float]:
        """Screen pixel of the projection of an LPS point onto the plane."""
        offset = np.asarray(point, dtype=float) - self.origin
        return (float(offset @ self.axes.right) / self.mm_per_pixel,
                float(offset @ self.axes.down) / self.mm_per_pixel)

    def distance_to_plane(self, point: np.ndarray) -> float:
        """Signed distance (mm) of an LPS point from the plane along its normal."""
        return float((np.asarray(point, dtype=float) - self.origin) @ self.axes.normal)

    def reslice_axes(self) -> np.ndarray:
        """4x4 matrix whose columns are right, down, normal and origin: the vtkImageReslice axes."""
        matrix = np.eye(4)
        matrix[:3, 0], matrix[:3, 1], matrix[:3, 2] = self.axes.right, self.axes.down, self.axes.normal
        matrix[:3, 3] = self.origin
        return matrix
