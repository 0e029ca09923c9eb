"""Thick-slab reformats (Qt-free): MIP, MinIP and average over a slab of given thickness in mm, per view.

A slab is centred on the view's slice (the crosshair's plane) and covers ``round(thickness / step)`` slices,
``step`` being the voxel spacing along the view's normal (the acquired slice spacing in the acquisition plane,
the pixel spacing in the reformatted planes). When the normal lies along an array axis the projection is a
numpy reduction over those slices (``project_slab``), which the renderer then resamples on the screen like any
slice; oblique planes are projected by the reslicer itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from app.viewer_model.events import Event
from engine.geometry import Geometry

OFF, MIP, MINIP, MEAN = "off", "mip", "minip", "mean"
SLAB_MODES = (OFF, MIP, MINIP, MEAN)
MODE_LABELS = {OFF: "Slice", MIP: "MIP", MINIP: "MinIP", MEAN: "Avg"}
DEFAULT_THICKNESS_MM = 10.0
THICKNESS_STEPS_MM = (2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 40.0, 60.0, 80.0)
MAX_THICKNESS_MM = 200.0
_ALIGNED = 1 - 1e-6  # |cos| above this: the normal lies along an array axis


@dataclass(frozen=True)
class Slab:
    """A view's slab: ``mode`` (off, mip, minip, mean) and ``thickness_mm``."""

    mode: str = OFF
    thickness_mm: float = DEFAULT_THICKNESS_MM

    def __post_init__(self) -> None:
        if self.mode not in SLAB_MODES:
            raise ValueError(f"unknown slab mode {self.mode!r}; expected one of {', '.join(SLAB_MODES)}")
        if not 0 < self.thickness_mm <= MAX_THICKNESS_MM:
            raise ValueError(f"slab thickness must be in (0, {MAX_THICKNESS_MM:g}] mm, got {self.thickness_mm}")

    @property
    def active(self) -> bool:
        return self.mode != OFF

    def label(self) -> str:
        """The view's corner line, e.g. 'MIP 20.0 mm' ('' for a plain slice)."""
        return f"{MODE_LABELS[self.mode]} {self.thickness_mm:.1f} mm" if self.active else ""


class SlabSettings:
    """The slab of every view (plain slices until the reader asks for a slab); ``changed`` emits the view."""

    def __init__(self) -> None:
        self._slabs: dict[str, Slab] = {}
        self.changed = Event()

    def get(self, view: str) -> Slab:
        return self._slabs.get(view, Slab())

    def set(self, view: str, slab: Slab) -> None:
        if slab != self.get(view):
            self._slabs[view] = slab
            self.changed.emit(view)

    def set_mode(self, view: str, mode: str) -> None:
        """Turn ``mode`` on (pressing the same mode again returns to the plain slice)."""
        current = self.get(view)
        self.set(view, replace(current, mode=OFF if mode == current.mode else mode))

    def cycle_mode(self, view: str) -> None:
        """Slice -> MIP -> MinIP -> Avg -> slice."""
        current = self.get(view)
        self.set(view, replace(current, mode=SLAB_MODES[(SLAB_MODES.index(current.mode) + 1) % len(SLAB_MODES)]))

    def set_thickness(self, view: str, thickness_mm: float) -> None:
        self.set(view, replace(self.get(view), thickness_mm=float(np.clip(thickness_mm, 0.1, MAX_THICKNESS_MM))))

    def step_thickness(self, view: str, steps: int) -> None:
        """The next thicker (steps > 0) or thinner preset thickness."""
        current = self.get(view).thickness_mm
        if steps > 0:
            larger = [t for t in THICKNESS_STEPS_MM if t > current + 1e-6]
            target = larger[min(steps, len(larger)) - 1] if larger else current
        else:
            smaller = [t for t in THICKNESS_STEPS_MM if t < current - 1e-6]
            target = smaller[max(len(smaller) + steps, 0)] if smaller else current
        self.set_thickness(view, target)

    def reset(self) -> None:
        for view in list(self._slabs):
            del self._slabs[view]
            self.changed.emit(view)


def normal_step_mm(geometry: Geometry, normal: np.ndarray) -> float:
    """The voxel step (mm) along a view's normal: the slice spacing of the array axis the normal follows
    most closely."""
    components = np.abs(geometry.direction.T @ np.asarray(normal, float)) * np.asarray(geometry.spacing)
    return float(max(components.max(), 1e-3))


def slab_slice_count(thickness_mm: float, step_mm: float) -> int:
    """How many slices ``step_mm`` apart make a slab of ``thickness_mm`` (at least one)."""
    if step_mm <= 0:
        raise ValueError(f"slice step must be positive, got {step_mm}")
    return max(1, int(np.floor(thickness_mm / step_mm + 0.5)))


def aligned_axis(geometry: Geometry, normal: np.ndarray) -> int | None:
    """The array axis (0=z, 1=y, 2=x) that ``normal`` lies along, or None for an oblique normal."""
    cosines = np.abs(geometry.direction.T @ np.asarray(normal, float))
    itk_axis = int(np.argmax(cosines))
    return 2 - itk_axis if cosines[itk_axis] >= _ALIGNED else None


def slab_range(center: int, count: int, slices: int) -> tuple[int, int]:
    """Array indices [start, stop) of a slab of ``slices`` slices centred on slice ``center`` (an even count
    takes the extra slice after the centre), clipped to the ``count`` slices of the stack."""
    start = center - (slices - 1) // 2
    return max(start, 0), min(start + slices, count)


def project_slab(array: np.ndarray, axis: int, start: int, stop: int, mode: str) -> np.ndarray:
    """The slab array[start:stop] along ``axis`` reduced by ``mode``, keeping ``axis`` with length 1. Integer
    images stay in their dtype (an average is rounded), so they window through the same lookup table."""
    if mode not in (MIP, MINIP, MEAN):
        raise ValueError(f"no projection for slab mode {mode!r}")
    if not 0 <= start < stop <= array.shape[axis]:
        raise ValueError(f"slab [{start}, {stop}) is outside the {array.shape[axis]} slices of axis {axis}")
    slab = array[(slice(None),) * axis + (slice(start, stop),)]  # a view: no copy of the slab
    if mode == MIP:
        return np.max(slab, axis=axis, keepdims=True)
    if mode == MINIP:
        return np.min(slab, axis=axis, keepdims=True)
    total = np.add.reduce(slab, axis=axis, keepdims=True, dtype=np.float32 if slab.dtype.itemsize <= 2 else np.float64)
    mean = total / (stop - start)
    return np.rint(mean).astype(array.dtype) if np.issubdtype(array.dtype, np.integer) else mean.astype(array.dtype)
