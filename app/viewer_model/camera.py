"""Per-view camera: zoom (mm per screen pixel) and the patient point at the view centre."""

from __future__ import annotations

import numpy as np

from app.viewer_model.orientation import ViewAxes
from app.viewer_model.plane import SlicePlane

MIN_MM_PER_PIXEL, MAX_MM_PER_PIXEL = 0.005, 50.0


class Camera:
    """Where a 2D view looks; ``fit`` frames the volume, ``zoom``/``pan`` follow the mouse."""

    def __init__(self) -> None:
        self.center = np.zeros(3)
        self.mm_per_pixel = 1.0
        self.fitted = True  # follows the view size until the user zooms or pans

    def fit(self, corners: np.ndarray, axes: ViewAxes, width: int, height: int) -> None:
        """Frame the patient-space box whose corners are given, with a small margin."""
        u, v = corners @ axes.right, corners @ axes.down
        extent_u, extent_v = max(np.ptp(u), 1e-3), max(np.ptp(v), 1e-3)
        self.mm_per_pixel = float(np.clip(max(extent_u / max(width, 1), extent_v / max(height, 1)) * 1.02,
                                          MIN_MM_PER_PIXEL, MAX_MM_PER_PIXEL))
        self.center = corners.mean(axis=0)
        self.fitted = True

    def zoom(self, factor: float) -> None:
        """Magnify by ``factor`` (> 1 zooms in)."""
        self.mm_per_pixel = float(np.clip(self.mm_per_pixel / factor, MIN_MM_PER_PIXEL, MAX_MM_PER_PIXEL))
        self.fitted = False

    def pan(self, dx_pixels: float, dy_pixels: float, axes: ViewAxes) -> None:
        """Move the image with the mouse by (dx, dy) screen pixels."""
        self.center = self.center - (dx_pixels * axes.right + dy_pixels * axes.down) * self.mm_per_pixel
        self.fitted = False

    def plane(self, axes: ViewAxes, through: np.ndarray, width: int, height: int) -> SlicePlane:
        """The screen plane through the patient point ``through`` (the crosshair)."""
        center = self.center + float((np.asarray(through) - self.center) @ axes.normal) * axes.normal
        origin = center - ((width - 1) / 2 * axes.right + (height - 1) / 2 * axes.down) * self.mm_per_pixel
        return SlicePlane(origin, axes, self.mm_per_pixel, int(width), int(height))
