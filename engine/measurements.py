"""Measurements on a Volume in patient space: distance, angle and Cobb angle, region-of-interest statistics,
probe, and the drawn-measurement record (``Measurement``) that the viewer, the per-series store and the DICOM
exports share. Geometry is kept in patient coordinates (LPS, mm), so a measurement survives re-opening the
series at any zoom or layout.

ROIs are drawn on a view plane, so they are given by a centre, the plane's two in-plane unit vectors
(LPS) and half-sizes along them in mm. Statistics use every voxel whose centre, projected on the
plane, falls inside the shape, taken from the slice the plane passes through.
Colour images (a trailing RGB(A) samples axis): the probe reads every sample; ROI statistics are
grey-value statistics and refuse them with a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count
from typing import Any

import numpy as np

from engine.volume import Volume

ROI_SHAPES = ("ellipse", "rectangle")
# Every kind a reader draws, and how many patient points it holds: ruler (two ends), angle (end, vertex, end),
# cobb (two lines: four ends), ellipse / rectangle (two opposite corners), probe (one point), arrow (its tip,
# then the end where its text sits).
POINT_COUNT = {"ruler": 2, "angle": 3, "cobb": 4, "ellipse": 2, "rectangle": 2, "probe": 1, "arrow": 2}
MEASUREMENT_KINDS = tuple(POINT_COUNT)


@dataclass(frozen=True)
class RoiStats:
    """Statistics of the voxel values inside an ROI; ``unit`` is 'HU' for CT, else ''."""

    mean: float
    sd: float
    minimum: float
    maximum: float
    area_mm2: float
    n_voxels: int
    unit: str = ""


def distance_mm(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance in mm between two patient points."""
    return float(np.linalg.norm(np.asarray(b, dtype=float) - np.asarray(a, dtype=float)))


def angle_deg(end_a: np.ndarray, vertex: np.ndarray, end_b: np.ndarray) -> float:
    """The angle at ``vertex`` between the rays to ``end_a`` and ``end_b``, in degrees (0..180)."""
    u = np.asarray(end_a, float) - np.asarray(vertex, float)
    v = np.asarray(end_b, float) - np.asarray(vertex, float)
    return _angle_between(u, v)


def cobb_angle_deg(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> float:
    """The Cobb angle between line a0-a1 and line b0-b1 (the end-plate lines): the angle between the lines,
    0..90 degrees, whichever way each line was drawn."""
    u = np.asarray(a1, float) - np.asarray(a0, float)
    v = np.asarray(b1, float) - np.asarray(b0, float)
    angle = _angle_between(u, v)
    return min(angle, 180.0 - angle)


def _angle_between(u: np.ndarray, v: np.ndarray) -> float:
    norms = float(np.linalg.norm(u) * np.linalg.norm(v))
    if norms == 0.0:
        return float("nan")
    return float(np.degrees(np.arccos(np.clip(float(u @ v) / norms, -1.0, 1.0))))


def roi_area_mm2(shape: str, half_u: float, half_v: float) -> float:
    """Geometric area of the drawn shape."""
    if shape not in ROI_SHAPES:
        raise ValueError(f"unknown ROI shape {shape!r}; expected one of {ROI_SHAPES}")
    return float(np.pi * half_u * half_v) if shape == "ellipse" else float(4 * half_u * half_v)


def roi_statistics(
    volume: Volume,
    center: np.ndarray,
    axis_u: np.ndarray,
    axis_v: np.ndarray,
    half_u: float,
    half_v: float,
    shape: str = "ellipse",
) -> RoiStats:
    """Mean / SD / min / max of the voxels inside an ellipse or rectangle ROI on a view plane."""
    if volume.is_colour:
        raise ValueError("ROI statistics need a greyscale image; this one is colour (RGB samples)")
    area = roi_area_mm2(shape, half_u, half_v)
    values = _values_inside(volume, np.asarray(center, float), np.asarray(axis_u, float),
                            np.asarray(axis_v, float), abs(half_u), abs(half_v), shape)
    unit = "HU" if volume.modality.upper() == "CT" else ""
    if values.size == 0:
        return RoiStats(float("nan"), float("nan"), float("nan"), float("nan"), area, 0, unit)
    values = values.astype(np.float64)
    return RoiStats(float(values.mean()), float(values.std()), float(values.min()), float(values.max()),
                    area, int(values.size), unit)


def probe(volume: Volume, point: np.ndarray) -> tuple[float | tuple[float, ...], tuple[int, ...]] | None:
    """Value and array-order index of the voxel nearest a patient point, or None outside the volume.

    The value is a float, or for a colour image the tuple of its samples (R, G, B[, A]).
    """
    spatial = volume.geometry.shape
    index = tuple(int(i) for i in np.rint(volume.patient_to_voxel(np.asarray(point, float))))
    if any(i < 0 or i >= n for i, n in zip(index, spatial, strict=True)):
        return None
    if volume.is_colour:
        return tuple(float(v) for v in volume.array[index]), index
    return float(volume.array[index]), index


def _values_inside(volume: Volume, center: np.ndarray, axis_u: np.ndarray, axis_v: np.ndarray,
                   half_u: float, half_v: float, shape: str) -> np.ndarray:
    step = min(volume.spacing[: volume.array.ndim]) / 2  # sample finer than the grid, then de-duplicate
    us = np.arange(-half_u, half_u + step / 2, step)
    vs = np.arange(-half_v, half_v + step / 2, step)
    gu, gv = np.meshgrid(us, vs, indexing="ij")
    inside = np.ones(gu.shape, bool) if shape == "rectangle" else (
        (gu / max(half_u, 1e-9)) ** 2 + (gv / max(half_v, 1e-9)) ** 2 <= 1.0
    )
    points = center + gu[inside, None] * axis_u + gv[inside, None] * axis_v
    index = np.rint(volume.patient_to_voxel(points)).astype(np.int64)
    shape_arr = np.asarray(volume.array.shape)
    index = index[np.all((index >= 0) & (index < shape_arr), axis=1)]
    if index.size == 0:
        return np.empty(0)
    # keep voxels whose own centre lies inside the shape (sampling alone would also catch edge voxels)
    index = np.unique(index, axis=0)
    offsets = volume.voxel_to_patient(index.astype(float)) - center
    du, dv = offsets @ axis_u, offsets @ axis_v
    if shape == "rectangle":
        keep = (np.abs(du) <= half_u + 1e-6) & (np.abs(dv) <= half_v + 1e-6)
    else:
        keep = (du / max(half_u, 1e-9)) ** 2 + (dv / max(half_v, 1e-9)) ** 2 <= 1.0 + 1e-9
    index = index[keep]
    return volume.array[tuple(index.T)]


_ids = count(1)


@dataclass
class Measurement:
    """A drawn measurement: its kind, the view it was drawn on and its patient-space points (LPS, mm).

    ``axes`` are the drawing view's (right, down) unit vectors: an ellipse or rectangle ROI is the box they
    span between its two corners. ``text`` is an arrow's label. ``values`` come from ``measure``.
    """

    kind: str
    view: str
    points: list[np.ndarray]
    axes: tuple[np.ndarray, np.ndarray] | None = None
    values: dict[str, Any] = field(default_factory=dict)  # a colour probe's "value" is its (R, G, B) samples
    unit: str = ""
    spacing_known: bool = True  # False: the image has no pixel spacing, lengths and areas are in pixels
    text: str = ""
    ident: int = field(default_factory=lambda: next(_ids))

    def summary(self) -> str:
        """One line for the measurements dock and the view label."""
        v = self.values
        length, area = ("mm", "mm²") if self.spacing_known else ("px", "px²")
        if self.kind == "ruler":
            return f"{v['length_mm']:.1f} {length}"
        if self.kind == "angle":
            return f"{v['angle_deg']:.1f}°"
        if self.kind == "cobb":
            return f"Cobb {v['angle_deg']:.1f}°"
        if self.kind == "arrow":
            return self.text
        if self.kind == "probe":
            if "value" not in v:
                return "outside the image"
            where = f"({v['x']:.1f}, {v['y']:.1f}, {v['z']:.1f}) {length}"
            if isinstance(v["value"], tuple):
                return "RGB(" + ", ".join(f"{s:.0f}" for s in v["value"]) + ")  " + where
            return f"{v['value']:.0f} {self.unit}".rstrip() + "  " + where
        unit = f" {self.unit}" if self.unit else ""
        return (f"mean {v['mean']:.1f}{unit}  SD {v['sd']:.1f}  min {v['min']:.0f}  max {v['max']:.0f}  "
                f"area {v['area_mm2']:.1f} {area}")

    def roi_axes(self) -> tuple[np.ndarray, np.ndarray]:
        """An ROI's (right, down) axes (ValueError for a measurement drawn without them)."""
        if self.axes is None:
            raise ValueError(f"a {self.kind} has no view axes")
        return self.axes

    def roi_box(self) -> tuple[np.ndarray, float, float]:
        """An ROI's centre and half-sizes (mm) along its ``axes``."""
        a, b = self.points
        right, down = self.roi_axes()
        return (a + b) / 2, abs(float((b - a) @ right)) / 2, abs(float((b - a) @ down)) / 2

    def to_json(self) -> dict[str, Any]:
        """The geometry and label to store (values are recomputed from the image on loading)."""
        record: dict[str, Any] = {"kind": self.kind, "view": self.view,
                                  "points": [[float(c) for c in p] for p in self.points]}
        if self.axes is not None:
            record["axes"] = [[float(c) for c in axis] for axis in self.axes]
        if self.text:
            record["text"] = self.text
        return record

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Measurement:
        """The inverse of ``to_json``; ValueError names what is wrong with a record."""
        kind = record.get("kind")
        if kind not in POINT_COUNT:
            raise ValueError(f"unknown measurement kind {kind!r}")
        points = [np.asarray(p, dtype=float) for p in record.get("points", [])]
        if len(points) != POINT_COUNT[kind] or any(p.shape != (3,) or not np.isfinite(p).all() for p in points):
            raise ValueError(f"a {kind} needs {POINT_COUNT[kind]} finite 3D points")
        axes = record.get("axes")
        if kind in ROI_SHAPES and (axes is None or len(axes) != 2):
            raise ValueError(f"an {kind} ROI needs the two axes of its view")
        axes_pair = None if axes is None else (np.asarray(axes[0], float), np.asarray(axes[1], float))
        return cls(kind, str(record.get("view", "")), points, axes_pair, text=str(record.get("text", "")))


def measure(volume: Volume, measurement: Measurement) -> Measurement:
    """Fill ``measurement.values`` from the volume."""
    unit = "HU" if volume.modality.upper() == "CT" else ""
    measurement.spacing_known = volume.spacing_known  # unknown: the assumed 1 mm makes the mm values pixels
    points = measurement.points
    if len(points) < POINT_COUNT[measurement.kind]:
        measurement.values = {}  # still being drawn: an angle's first arm, a Cobb angle's first line
    elif measurement.kind == "ruler":
        measurement.values = {"length_mm": distance_mm(*points)}
    elif measurement.kind == "angle":
        measurement.values = {"angle_deg": angle_deg(*points)}
    elif measurement.kind == "cobb":
        measurement.values = {"angle_deg": cobb_angle_deg(*points)}
    elif measurement.kind == "arrow":
        measurement.values = {}
    elif measurement.kind == "probe":
        point = points[0]
        found = probe(volume, point)
        measurement.values = {"x": point[0], "y": point[1], "z": point[2]}
        if found is not None:
            measurement.values["value"] = found[0]
        measurement.unit = unit
    else:
        center, half_u, half_v = measurement.roi_box()
        right, down = measurement.roi_axes()
        stats = roi_statistics(volume, center, right, down, half_u, half_v, measurement.kind)
        measurement.values = {"mean": stats.mean, "sd": stats.sd, "min": stats.minimum, "max": stats.maximum,
                              "area_mm2": stats.area_mm2, "n": stats.n_voxels}
        measurement.unit = stats.unit
    return measurement
