"""Comparison reading: a grid of viewports (1x2, 2x1, 2x2, 1x3), one series in each, with linked scrolling,
linked zoom/pan and linked window/level, reference lines and the one safety rule of the product: nothing of
one patient is ever shown beside another patient's images. Qt-free.

Each viewport is a :class:`~app.viewer_model.model.ViewerModel` of its own (one volume, one 2D view in its
native acquisition plane), so the 2D views, renderers and measurements of the single-volume viewer work in a
viewport unchanged. The grid links them:

- Series that share a FrameOfReferenceUID are linked by patient position (LPS): scrolling one to a point
  moves the others to the same point.
- Series of different frames of reference are linked through an offset per frame of reference: the LPS
  point ``p`` of the first viewport's frame is ``p + offset[frame]`` in ``frame``. It starts at the offset
  that aligns the volume centres; the reader sets it by showing the same anatomy in two viewports and
  linking them there (:meth:`ComparisonGrid.link_here`) or by typing it (:meth:`ComparisonGrid.set_offset`).
  The offset is shown in the view (:meth:`ComparisonGrid.link_text`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.viewer_model.events import Event
from app.viewer_model.model import ViewerModel
from app.viewer_model.orientation import AXIAL, CORONAL, PROJECTION, SAGITTAL, view_axes
from app.viewer_model.plane import SlicePlane
from engine.geometry import Geometry
from engine.volume import Volume

GRID_LAYOUTS: dict[str, tuple[int, int]] = {"1x1": (1, 1), "1x2": (1, 2), "2x1": (2, 1), "2x2": (2, 2),
                                            "1x3": (1, 3)}
MAX_VIEWPORTS = 4
_PLANE_NORMALS = {AXIAL: np.array([0.0, 0.0, 1.0]), CORONAL: np.array([0.0, 1.0, 0.0]),
                  SAGITTAL: np.array([1.0, 0.0, 0.0])}


class OtherPatientError(ValueError):
    """A series of another patient was offered to a grid that shows a patient already."""


@dataclass(frozen=True)
class PatientIdentity:
    """Who an image belongs to, as the headers say (ID, name, birth date), and its study."""

    patient_id: str
    patient_name: str
    birth_date: str
    study_uid: str

    @classmethod
    def of(cls, volume: Volume) -> PatientIdentity:
        patient = volume.meta.get("patient") or {}
        return cls(str(patient.get("PatientID", "") or "").strip(),
                   _normalised_name(str(patient.get("PatientName", "") or "")),
                   str(patient.get("PatientBirthDate", "") or "").strip(), volume.ids.study_uid)

    @property
    def identified(self) -> bool:
        return bool(self.patient_id or self.patient_name)

    def describe(self) -> str:
        name = self.patient_name.replace("^", " ") or "no name"
        return f"{name} ({self.patient_id or 'no ID'})"

    def mismatch(self, other: PatientIdentity) -> str:
        """Why ``other`` is not this patient ('' when it is). Images without any patient identity may only
        sit beside images of their own study."""
        if not (self.identified and other.identified):
            return "" if self.study_uid and self.study_uid == other.study_uid else \
                "a series without patient ID and name can only be compared within its own study"
        for label, mine, theirs in (("patient ID", self.patient_id, other.patient_id),
                                    ("patient name", self.patient_name, other.patient_name),
                                    ("birth date", self.birth_date, other.birth_date)):
            if mine and theirs and mine != theirs:
                return f"{label} {theirs!r} differs from {mine!r}"
            if bool(mine) != bool(theirs) and label != "birth date":
                return f"{label} is missing on one of the two"
        return ""


@dataclass(frozen=True)
class Links:
    """Which linking is on: slice position (scroll), zoom and pan, window/level."""

    scroll: bool = True
    zoom_pan: bool = True
    window: bool = False


@dataclass
class Viewport:
    """One cell of the grid: its own ViewerModel (one volume), the plane it shows and a label."""

    index: int
    model: ViewerModel
    orientation: str = AXIAL
    label: str = ""
    series_key: tuple[str, int] | None = None

    @property
    def volume(self) -> Volume | None:
        return self.model.volume

    @property
    def frame(self) -> str:
        """The key of the frame of reference (the series UID when the header has none)."""
        volume = self.model.volume
        if volume is None:
            return ""
        return volume.ids.frame_of_reference_uid or f"series:{volume.ids.series_uid}"


@dataclass
class ReferenceLine:
    """Where another viewport's slice plane cuts this viewport's plane, in this viewport's screen pixels."""

    source: int
    start: tuple[float, float]
    end: tuple[float, float]


def native_orientation(geometry: Geometry) -> str:
    """The MPR plane closest to the acquisition plane (projection images: their own plane)."""
    if geometry.is_projection:
        return PROJECTION
    normal = geometry.direction[:, 2]
    return max(_PLANE_NORMALS, key=lambda name: abs(float(normal @ _PLANE_NORMALS[name])))


@dataclass
class ComparisonGrid:
    """The viewports of the comparison layout and the links between them."""

    window_presets: dict = field(default_factory=dict)
    layout: str = "1x2"
    links: Links = field(default_factory=Links)
    show_reference_lines: bool = True
    viewports: list[Viewport] = field(default_factory=list)
    offsets: dict[str, np.ndarray] = field(default_factory=dict)  # frame -> offset from the reference frame
    user_offsets: set[str] = field(default_factory=set)  # frames whose offset the reader set
    active: int = 0

    def __post_init__(self) -> None:
        if self.layout not in GRID_LAYOUTS:
            raise ValueError(f"unknown comparison layout {self.layout!r}; expected one of {', '.join(GRID_LAYOUTS)}")
        self.changed = Event()  # layout, series or links changed
        self.links_changed = Event()  # an offset or a link toggle changed (the views repaint their labels)
        self.active_changed = Event()  # another viewport leads (keys, links, the framed one)
        self._syncing = False
        for index in range(MAX_VIEWPORTS):
            self.viewports.append(self._new_viewport(index))

    # --- layout and series -------------------------------------------------------------------------------
    def cells(self) -> int:
        rows, columns = GRID_LAYOUTS[self.layout]
        return rows * columns

    def shown(self) -> list[Viewport]:
        """The viewports the layout shows, in reading order (row by row)."""
        return self.viewports[: self.cells()]

    def set_active(self, index: int) -> None:
        if index != self.active:
            self.active = index
            self.active_changed.emit()

    def set_layout(self, layout: str) -> None:
        if layout not in GRID_LAYOUTS:
            raise ValueError(f"unknown comparison layout {layout!r}; expected one of {', '.join(GRID_LAYOUTS)}")
        self.layout = layout
        self.active = min(self.active, self.cells() - 1)
        self.changed.emit()

    def patient(self) -> PatientIdentity | None:
        """The patient the grid shows (that of its first filled viewport), None when empty."""
        for viewport in self.viewports:
            if viewport.volume is not None:
                return PatientIdentity.of(viewport.volume)
        return None

    def check_patient(self, volume: Volume, index: int | None = None) -> None:
        """Raise OtherPatientError when ``volume`` is not the patient of the other filled viewports."""
        identity = PatientIdentity.of(volume)
        for viewport in self.viewports:
            if viewport.volume is None or viewport.index == index:
                continue
            shown = PatientIdentity.of(viewport.volume)
            reason = shown.mismatch(identity)
            if reason:
                raise OtherPatientError(
                    f"refused: {identity.describe()} is not the patient shown ({shown.describe()}): {reason}. "
                    "Images of different patients are never shown side by side.")

    def set_series(self, index: int, volume: Volume, label: str = "", orientation: str | None = None,
                   series_key: tuple[str, int] | None = None) -> Viewport:
        """Show ``volume`` in viewport ``index`` (refused, unchanged, for another patient)."""
        if not 0 <= index < MAX_VIEWPORTS:
            raise IndexError(f"viewport {index} does not exist (0-{MAX_VIEWPORTS - 1})")
        self.check_patient(volume, index)
        old_reference = self._reference_frame()
        viewport = self.viewports[index]
        viewport.orientation = orientation or native_orientation(volume.geometry)
        viewport.label = label
        viewport.series_key = series_key
        viewport.model.active_view = viewport.orientation if viewport.orientation != PROJECTION else AXIAL
        viewport.model.set_layout("1x1")
        viewport.model.set_volume(volume)
        self._place_frame(viewport, old_reference)
        others = [v for v in self.viewports if v.volume is not None and v.index != index]
        if others:  # the new series joins the others where they are
            self._sync_from(others[0].index, scroll=True, camera=False, window=True)
        self.changed.emit()
        return viewport

    def set_orientation(self, index: int, orientation: str) -> None:
        """Show viewport ``index`` in another MPR plane (its slices then cut the others: reference lines)."""
        if orientation not in _PLANE_NORMALS:
            raise ValueError(f"unknown orientation {orientation!r}; expected one of {', '.join(_PLANE_NORMALS)}")
        viewport = self.viewports[index]
        if viewport.volume is None or viewport.volume.geometry.is_projection:
            return
        viewport.orientation = orientation
        viewport.model.active_view = orientation
        self.changed.emit()

    def next_orientation(self, index: int) -> str:
        """Cycle viewport ``index`` through axial, coronal and sagittal; returns the new plane."""
        planes = list(_PLANE_NORMALS)
        current = self.viewports[index].orientation
        following = planes[(planes.index(current) + 1) % len(planes)] if current in planes else planes[0]
        self.set_orientation(index, following)
        return following

    def clear(self, index: int | None = None) -> None:
        """Empty one viewport (or all of them: the next series may be of any patient)."""
        targets = range(MAX_VIEWPORTS) if index is None else [index]
        for i in targets:  # the viewport keeps its model (views stay bound to it); the model lets go of its data
            viewport = self.viewports[i]
            viewport.model.volume = None
            viewport.model.layers.clear()
            viewport.label, viewport.series_key = "", None
        frames = {viewport.frame for viewport in self.viewports if viewport.volume is not None}
        self.offsets = {frame: offset for frame, offset in self.offsets.items() if frame in frames}
        self.user_offsets &= frames
        self.changed.emit()

    def filled(self) -> list[Viewport]:
        return [viewport for viewport in self.shown() if viewport.volume is not None]

    # --- links -------------------------------------------------------------------------------------------
    def set_links(self, **changes: bool) -> None:
        """Toggle linked scrolling / zoom and pan / window (``scroll=False`` etc.)."""
        values = {"scroll": self.links.scroll, "zoom_pan": self.links.zoom_pan, "window": self.links.window}
        unknown = set(changes) - set(values)
        if unknown:
            raise ValueError(f"unknown link(s): {', '.join(sorted(unknown))}")
        switched_on = {name for name, state in changes.items() if state and not getattr(self.links, name)}
        values.update(changes)
        self.links = Links(**values)
        if switched_on and self.viewports[self.active].volume is not None:  # the others join the active one
            self._sync_from(self.active, scroll="scroll" in switched_on, camera="zoom_pan" in switched_on,
                            window="window" in switched_on)
        self.links_changed.emit()

    def toggle_link(self, name: str) -> bool:
        """Flip one link; returns its new state."""
        state = not getattr(self.links, name)
        self.set_links(**{name: state})
        return state

    def offset(self, index: int) -> np.ndarray:
        """The offset (mm, LPS) of viewport ``index``'s frame from the reference frame."""
        return self.offsets.get(self.viewports[index].frame, np.zeros(3)).copy()

    def set_offset(self, index: int, offset: np.ndarray) -> None:
        """The reader's offset of viewport ``index``'s frame (every viewport of that frame follows it)."""
        viewport = self.viewports[index]
        if viewport.volume is None:
            raise ValueError(f"viewport {index + 1} is empty")
        if viewport.frame == self._reference_frame():
            raise ValueError("the reference viewport's frame of reference has no offset; set the other one's")
        self.offsets[viewport.frame] = np.asarray(offset, dtype=float).reshape(3).copy()
        self.user_offsets.add(viewport.frame)
        self._sync_from(self._first_of(self._reference_frame()), scroll=True, camera=False, window=False)
        self.links_changed.emit()

    def link_here(self, index: int, other: int | None = None) -> np.ndarray:
        """The reader shows the same anatomy in viewports ``index`` and ``other`` (default: the reference),
        scrolled there with linked scrolling off: link their frames of reference at the two crosshairs and
        switch linked scrolling on. Returns the new offset of the non-reference frame."""
        other = self._first_of(self._reference_frame()) if other is None else other
        a, b = self.viewports[index], self.viewports[other]
        if a.volume is None or b.volume is None:
            raise ValueError("both viewports need a series to be linked")
        if a.frame == b.frame:
            raise ValueError("these series share a frame of reference: they are already linked by position")
        target = b.model.crosshair - self.offset(other) + 0.0  # the point in the reference frame
        offset = a.model.crosshair - target
        if a.frame == self._reference_frame():  # move the other frame instead: the reference has none
            self.set_offset(other, b.model.crosshair - (a.model.crosshair - self.offset(index)))
            offset = self.offset(other)
        else:
            self.set_offset(index, offset)
        self.set_links(scroll=True)  # linked at this anatomy: scrolling follows from here
        return offset

    def map_point(self, point: np.ndarray, source: int, target: int) -> np.ndarray:
        """The LPS point of ``target``'s frame showing the anatomy at ``point`` of ``source``'s frame."""
        return np.asarray(point, dtype=float) - self.offset(source) + self.offset(target)

    def link_text(self, index: int) -> str:
        """How viewport ``index`` is linked, as its corner says it."""
        viewport = self.viewports[index]
        if viewport.volume is None or len(self.filled()) < 2:
            return ""
        if not self.links.scroll:
            return "Not linked"
        if viewport.frame == self._reference_frame():
            return "Linked by position (reference)"
        x, y, z = self.offset(index) + 0.0  # no "-0.0"
        how = "set by reader" if viewport.frame in self.user_offsets else "by volume centres, not yet set"
        return f"Linked by offset {x:+.1f}, {y:+.1f}, {z:+.1f} mm ({how})"

    # --- reference lines ---------------------------------------------------------------------------------
    def reference_lines(self, index: int, plane: SlicePlane) -> list[ReferenceLine]:
        """Where the slices of the other shown viewports cut viewport ``index``'s plane (parallel planes,
        empty viewports and projection images give none)."""
        if not self.show_reference_lines:
            return []
        lines = []
        for other in self.filled():
            if other.index == index or other.orientation == PROJECTION or other.volume is None:
                continue
            normal = view_axes(other.orientation, other.volume.geometry).normal
            point = self.map_point(other.model.crosshair, other.index, index)
            segment = _plane_cut(plane, normal, point)
            if segment is not None:
                lines.append(ReferenceLine(other.index, *segment))
        return lines

    # --- syncing -----------------------------------------------------------------------------------------
    def _new_viewport(self, index: int) -> Viewport:
        model = ViewerModel(self.window_presets)
        model.layout = "1x1"
        viewport = Viewport(index, model)
        model.crosshair_changed.connect(lambda: self._sync_from(index, scroll=True, camera=False, window=False))
        model.camera_changed.connect(lambda _view: self._sync_from(index, scroll=False, camera=True, window=False))
        model.window_changed.connect(lambda: self._sync_from(index, scroll=False, camera=False, window=True))
        return viewport

    def _reference_frame(self) -> str:
        for viewport in self.viewports:
            if viewport.volume is not None:
                return viewport.frame
        return ""

    def _first_of(self, frame: str) -> int:
        return next((v.index for v in self.viewports if v.volume is not None and v.frame == frame), 0)

    def _place_frame(self, viewport: Viewport, old_reference: str) -> None:
        """A new frame of reference starts at the offset that aligns its volume centre with the reference's;
        when the new series becomes the reference, every offset is rebased on its frame."""
        frame, reference_frame = viewport.frame, self._reference_frame()
        others = [v for v in self.viewports if v.volume is not None and v.index != viewport.index]
        if frame not in self.offsets and others and frame != old_reference:
            anchor = next((v for v in others if v.frame == old_reference), others[0])
            self.offsets[frame] = _centre(viewport.volume) - _centre(anchor.volume) + \
                self.offsets.get(anchor.frame, np.zeros(3))
        if reference_frame != old_reference:
            base = self.offsets.get(reference_frame, np.zeros(3)).copy()
            self.offsets = {f: o - base for f, o in self.offsets.items()}
            if old_reference:
                self.offsets[old_reference] = -base
            self.offsets.pop(reference_frame, None)
        self.offsets.pop(reference_frame, None)

    def _sync_from(self, index: int, scroll: bool, camera: bool, window: bool) -> None:
        if self._syncing:
            return
        source = self.viewports[index]
        if source.volume is None:
            return
        if scroll:
            self.set_active(index)  # the viewport the reader scrolls last leads
        self._syncing = True
        try:
            for target in self.viewports:
                if target.index == index or target.volume is None:
                    continue
                if scroll and self.links.scroll:
                    target.model.set_crosshair(self.map_point(source.model.crosshair, index, target.index))
                if camera and self.links.zoom_pan:
                    _copy_camera(self, source, target)
                if window and self.links.window and target.volume.modality == source.volume.modality:
                    target.model.invert = source.model.invert
                    target.model.set_window(source.model.window)
        finally:
            self._syncing = False


def _copy_camera(grid: ComparisonGrid, source: Viewport, target: Viewport) -> None:
    view, other = source.model.active_view, target.model.active_view
    camera, copy = source.model.cameras[view], target.model.cameras[other]
    if source.orientation != target.orientation:
        return
    copy.mm_per_pixel = camera.mm_per_pixel
    copy.fitted = camera.fitted
    copy.center = grid.map_point(camera.center, source.index, target.index)
    target.model.camera_changed.emit(other)


def _centre(volume: Volume) -> np.ndarray:
    geometry = volume.geometry
    return geometry.voxel_to_patient((np.asarray(geometry.shape, dtype=float) - 1) / 2)


def _normalised_name(name: str) -> str:
    return "^".join(part.strip().upper() for part in name.split("^")).rstrip("^")


def _plane_cut(plane: SlicePlane, normal: np.ndarray, point: np.ndarray
               ) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The segment where the plane through ``point`` with ``normal`` crosses the screen rectangle of
    ``plane`` (None when parallel or outside)."""
    right, down = plane.axes.right * plane.mm_per_pixel, plane.axes.down * plane.mm_per_pixel
    a, b = float(normal @ right), float(normal @ down)  # change of the signed distance per pixel
    c = float(normal @ (plane.origin - point))
    if abs(a) < 1e-9 and abs(b) < 1e-9:
        return None
    w, h = plane.width - 1, plane.height - 1
    hits: list[tuple[float, float]] = []
    if abs(b) > 1e-9:
        for x in (0.0, float(w)):
            y = -(c + a * x) / b
            if 0 <= y <= h:
                hits.append((x, y))
    if abs(a) > 1e-9:
        for y in (0.0, float(h)):
            x = -(c + b * y) / a
            if 0 <= x <= w:
                hits.append((x, y))
    unique: list[tuple[float, float]] = []
    for hit in hits:
        if all(abs(hit[0] - u[0]) > 1e-6 or abs(hit[1] - u[1]) > 1e-6 for u in unique):
            unique.append(hit)
    if len(unique) < 2:
        return None
    return unique[0], unique[-1]

