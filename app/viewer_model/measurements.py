"""Measurements the user draws (ruler, ellipse / rectangle ROI, probe), kept per study for the session."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count

import numpy as np

from app.viewer_model.events import Event
from engine.measurements import RoiStats, distance_mm, probe, roi_statistics
from engine.volume import Volume

_ids = count(1)


@dataclass
class Measurement:
    """A drawn measurement: its kind, the view it was drawn on and its patient-space points."""

    kind: str  # "ruler" | "ellipse" | "rectangle" | "probe"
    view: str
    points: list[np.ndarray]  # ruler: two ends; ROI: two opposite corners; probe: one point
    axes: tuple[np.ndarray, np.ndarray] | None = None  # the view's (right, down) for ROIs
    values: dict[str, float] = field(default_factory=dict)  # a colour probe's "value" is its (R, G, B) samples
    unit: str = ""
    spacing_known: bool = True  # False: the image has no pixel spacing, lengths and areas are in pixels
    ident: int = field(default_factory=lambda: next(_ids))

    def summary(self) -> str:
        """One line for the measurements dock and the view label."""
        v = self.values
        length, area = ("mm", "mm²") if self.spacing_known else ("px", "px²")
        if self.kind == "ruler":
            return f"{v['length_mm']:.1f} {length}"
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


def measure(volume: Volume, measurement: Measurement) -> Measurement:
    """Fill ``measurement.values`` from the volume (engine functions do the arithmetic)."""
    unit = "HU" if volume.modality.upper() == "CT" else ""
    measurement.spacing_known = volume.spacing_known  # unknown: the assumed 1 mm makes the mm values pixels
    if measurement.kind == "ruler":
        measurement.values = {"length_mm": distance_mm(*measurement.points)}
    elif measurement.kind == "probe":
        point = measurement.points[0]
        found = probe(volume, point)
        measurement.values = {"x": point[0], "y": point[1], "z": point[2]}
        if found is not None:
            measurement.values["value"] = found[0]
        measurement.unit = unit
    else:
        a, b = measurement.points
        right, down = measurement.axes
        center = (a + b) / 2
        half_u, half_v = abs((b - a) @ right) / 2, abs((b - a) @ down) / 2
        stats: RoiStats = roi_statistics(volume, center, right, down, half_u, half_v, measurement.kind)
        measurement.values = {"mean": stats.mean, "sd": stats.sd, "min": stats.minimum, "max": stats.maximum,
                              "area_mm2": stats.area_mm2, "n": stats.n_voxels}
        measurement.unit = stats.unit
    return measurement


class MeasurementStore:
    """Measurements per study UID for this session; ``changed`` fires on every edit."""

    def __init__(self) -> None:
        self._by_study: dict[str, list[Measurement]] = {}
        self.study_uid = ""
        self.selected: int | None = None
        self.changed = Event()

    @property
    def current(self) -> list[Measurement]:
        return self._by_study.setdefault(self.study_uid, [])

    def switch_study(self, study_uid: str) -> None:
        self.study_uid = study_uid
        self.selected = None
        self.changed.emit()

    def add(self, measurement: Measurement) -> Measurement:
        self.current.append(measurement)
        self.selected = measurement.ident
        self.changed.emit()
        return measurement

    def remove(self, ident: int) -> None:
        self._by_study[self.study_uid] = [m for m in self.current if m.ident != ident]
        if self.selected == ident:
            self.selected = None
        self.changed.emit()

    def select(self, ident: int | None) -> None:
        self.selected = ident
        self.changed.emit()
