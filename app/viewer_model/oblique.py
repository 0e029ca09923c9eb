"""Oblique MPR (Qt-free): the three MPR views keep mutually perpendicular planes through the crosshair, and
rotating the crosshair lines in one view turns the other two planes about that view's normal.

Each MPR view has its own screen axes (right, down; normal = right x down). ``rotate`` turns the other views'
axes about the rotating view's normal, so the rotating view's image does not move while its crosshair lines
(the traces of the other planes) turn with the mouse. The three normals stay orthonormal and every plane still
passes through the crosshair, so the patient point under it never moves.

The native acquisition plane: ``native_view`` names the MPR view whose normal is closest to the stack's slice
direction (a sagittal spine MR opens in the sagittal view), and ``native_axes`` tilts the three views with a
tilted acquisition (gantry tilt, an oblique MR stack), so that the native view shows the acquired slices
themselves rather than an interpolation across them.
"""

from __future__ import annotations

import numpy as np

from app.viewer_model.events import Event
from app.viewer_model.orientation import AXIAL, CORONAL, MPR_ORIENTATIONS, SAGITTAL, ViewAxes, view_axes
from engine.geometry import Geometry

_TOLERANCE = 1e-6


def rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """3x3 matrix turning vectors by ``angle`` radians about the unit vector ``axis`` (right-hand rule)."""
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    cross = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross


def native_view(geometry: Geometry) -> str:
    """The MPR view whose plane the stack was acquired in (axial, coronal or sagittal)."""
    slice_direction = geometry.direction[:, 2]
    return {0: SAGITTAL, 1: CORONAL, 2: AXIAL}[int(np.argmax(np.abs(slice_direction)))]


def native_rotation(geometry: Geometry) -> np.ndarray:
    """The rotation taking the patient axes to the acquisition's axes nearest to them (identity for a stack
    acquired along the patient axes): each LPS axis goes to the image axis closest to it, with its sign."""
    direction = geometry.direction
    columns = np.argmax(np.abs(direction), axis=1)  # for each LPS axis, the image axis nearest to it
    if len(set(columns.tolist())) != 3:  # 45 degrees between axes: no unambiguous nearest frame
        return np.eye(3)
    frame = np.stack([direction[:, c] * np.sign(direction[i, c]) for i, c in enumerate(columns)], axis=1)
    return frame if np.linalg.det(frame) > 0 else np.eye(3)


def native_axes(geometry: Geometry) -> dict[str, ViewAxes]:
    """Screen axes of the MPR views in the acquisition's frame (empty for a stack along the patient axes)."""
    turn = native_rotation(geometry)
    if np.allclose(turn, np.eye(3), atol=_TOLERANCE):
        return {}
    return {name: _turned(view_axes(name, geometry), turn) for name in MPR_ORIENTATIONS}


def _turned(axes: ViewAxes, turn: np.ndarray) -> ViewAxes:
    return ViewAxes(turn @ axes.right, turn @ axes.down)


class ObliqueFrame:
    """The MPR views' screen axes: the standard ones until the reader rotates (or the acquisition is tilted);
    ``changed`` emits after every rotation or reset."""

    def __init__(self) -> None:
        self._axes: dict[str, ViewAxes] = {}
        self.changed = Event()

    def axes(self, view: str, geometry: Geometry) -> ViewAxes:
        """The screen axes of ``view`` (any orientation; only MPR views turn)."""
        return self._axes.get(view) or view_axes(view, geometry)

    def rotate(self, view: str, angle: float, geometry: Geometry) -> None:
        """Turn the crosshair lines of ``view`` by ``angle`` radians (clockwise on screen): the other MPR
        views' planes turn about this view's normal; this view's own plane and image stay."""
        if view not in MPR_ORIENTATIONS or abs(angle) < 1e-12:
            return
        turn = rotation(self.axes(view, geometry).normal, angle)
        axes = {name: self.axes(name, geometry) for name in MPR_ORIENTATIONS}
        for name in MPR_ORIENTATIONS:
            if name != view:
                axes[name] = _orthonormal(_turned(axes[name], turn))
        self._axes = axes
        self.changed.emit()

    def reset(self, geometry: Geometry | None = None) -> None:
        """Back to the native frame of ``geometry`` (the standard planes for a stack along the patient axes)."""
        self._axes = native_axes(geometry) if geometry is not None and not geometry.is_projection else {}
        self.changed.emit()

    def is_oblique(self, view: str, geometry: Geometry) -> bool:
        """True when ``view`` is turned away from its standard plane."""
        if view not in self._axes:
            return False
        standard = view_axes(view, geometry)
        return not abs(float(self._axes[view].normal @ standard.normal)) > 1 - _TOLERANCE

    def crosshair_lines(self, view: str, geometry: Geometry) -> list[tuple[str, np.ndarray]]:
        """The traces of the other MPR planes in ``view``: (their view, unit screen direction (dx, dy))."""
        axes = self.axes(view, geometry)
        lines = []
        for name in MPR_ORIENTATIONS:
            if name == view:
                continue
            direction = np.cross(axes.normal, self.axes(name, geometry).normal)
            screen = np.array([direction @ axes.right, direction @ axes.down])
            length = float(np.linalg.norm(screen))
            if length > _TOLERANCE:
                lines.append((name, screen / length))
        return lines


def _orthonormal(axes: ViewAxes) -> ViewAxes:
    """Re-orthonormalise after many small turns (rounding would otherwise creep in)."""
    right = axes.right / np.linalg.norm(axes.right)
    down = axes.down - (axes.down @ right) * right
    return ViewAxes(right, down / np.linalg.norm(down))
