"""View orientations in patient space (LPS) and the letters radiologists expect on the view edges.

Display conventions: axial is seen from the feet (patient right on screen left, anterior up), coronal
from the front (patient right on screen left, superior up), sagittal with anterior on screen left and
superior up. Projection images are shown as acquired (column direction to the right, rows down).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from engine.geometry import Geometry

AXIAL, CORONAL, SAGITTAL, PROJECTION = "axial", "coronal", "sagittal", "projection"
MPR_ORIENTATIONS = (AXIAL, CORONAL, SAGITTAL)

_SCREEN_AXES = {  # (screen right, screen down) in LPS
    AXIAL: ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    CORONAL: ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    SAGITTAL: ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
}
_LETTERS = (("R", "L"), ("A", "P"), ("I", "S"))
_LETTER_THRESHOLD = 0.3  # a component this large adds its letter (oblique views show e.g. "LP")


@dataclass(frozen=True)
class ViewAxes:
    """Unit vectors (LPS) of screen right, screen down and the slice normal (right x down)."""

    right: np.ndarray
    down: np.ndarray

    @cached_property
    def normal(self) -> np.ndarray:
        return np.cross(self.right, self.down)


def _fixed_axes(right: tuple[float, ...], down: tuple[float, ...]) -> ViewAxes:
    axes = ViewAxes(np.array(right), np.array(down))
    for vector in (axes.right, axes.down, axes.normal):
        vector.flags.writeable = False  # shared by every caller
    return axes


_MPR_AXES = {name: _fixed_axes(right, down) for name, (right, down) in _SCREEN_AXES.items()}


def view_axes(orientation: str, geometry: Geometry) -> ViewAxes:
    """The screen axes of a view of ``geometry`` in ``orientation``."""
    if orientation == PROJECTION:
        return ViewAxes(geometry.direction[:, 0].copy(), geometry.direction[:, 1].copy())
    if orientation not in _MPR_AXES:
        raise ValueError(f"unknown orientation {orientation!r}")
    return _MPR_AXES[orientation]


def direction_letters(vector: np.ndarray) -> str:
    """Patient letters a direction points to, strongest first: (1, 0, 0) -> 'L', (.7, .7, 0) -> 'LP'."""
    vector = np.asarray(vector, dtype=float)
    order = np.argsort(-np.abs(vector))
    return "".join(
        _LETTERS[axis][int(vector[axis] > 0)] for axis in order if abs(vector[axis]) >= _LETTER_THRESHOLD
    )


def edge_letters(axes: ViewAxes) -> dict[str, str]:
    """The letter on each view edge: the patient direction found towards that edge."""
    return {
        "left": direction_letters(-axes.right),
        "right": direction_letters(axes.right),
        "top": direction_letters(-axes.down),
        "bottom": direction_letters(axes.down),
    }


def slice_axis(axes: ViewAxes, geometry: Geometry) -> int:
    """The array axis (0=z, 1=y, 2=x) that steps through the slices of this view."""
    itk_axis = int(np.argmax(np.abs(geometry.direction.T @ axes.normal)))
    return 2 - itk_axis
