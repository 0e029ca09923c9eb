"""Measurements the reader draws (ruler, angle, Cobb angle, ellipse / rectangle ROI, probe, arrow with text)
and the key images they flag, kept per series: drawing, selecting, moving and editing them, undoing and redoing
those edits, and saving them (engine.measurement_files) so that they come back when the series is opened
again."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from app.viewer_model.events import Event
from app.viewer_model.plane import SlicePlane
from engine.measurement_files import MeasurementFileError, MeasurementFiles, SeriesAnnotations, is_storable_uid
from engine.measurements import MEASUREMENT_KINDS, POINT_COUNT, ROI_SHAPES, Measurement, measure
from engine.volume import Volume

__all__ = ["MEASUREMENT_KINDS", "Draft", "Hit", "Measurement", "MeasurementStore", "handles", "hit_test",
           "measure", "move_handle", "on_plane", "segments"]

HIT_TOLERANCE_PX = 6.0
UNDO_LIMIT = 100  # steps kept per series
KIND_WORDS = {"ruler": "ruler", "angle": "angle", "cobb": "Cobb angle", "ellipse": "ellipse ROI",
              "rectangle": "rectangle ROI", "probe": "probe", "arrow": "arrow"}


@dataclass
class UndoStep:
    """One edit of a series' measurements: its name ('Add ruler') and the measurements before and after."""

    name: str
    before: list[Measurement]
    after: list[Measurement]


@dataclass
class MeasurementHistory:
    """The undo and redo stacks of one series' measurement edits (a drag is one step, however many moves)."""

    undo: list[UndoStep] = field(default_factory=list)
    redo: list[UndoStep] = field(default_factory=list)
    pending: tuple[str, list[Measurement]] | None = None  # a drag in progress: its name and the state before

    def push(self, step: UndoStep) -> None:
        self.undo.append(step)
        del self.undo[:-UNDO_LIMIT]
        self.redo.clear()


class MeasurementStore:
    """Measurements and key images per series; ``changed`` fires on every edit. With ``files`` set, every
    edit is saved and a series' saved annotations come back when it is shown again."""

    def __init__(self, files: MeasurementFiles | None = None) -> None:
        self.files = files
        self._by_series: dict[tuple[str, str], SeriesAnnotations] = {}  # by (patient ID, series UID)
        self._unsaved: set[tuple[str, str]] = set()  # their file is another patient's: never overwritten
        self.series_uid = ""
        self.patient_id = ""
        self.selected: int | None = None
        self.problems: list[str] = []  # what the last load or save could not do, in sentences
        self.changed = Event()
        self._volume: Volume | None = None
        self._histories: dict[tuple[str, str], MeasurementHistory] = {}

    def share_with(self, other: MeasurementStore) -> None:
        """Keep the annotations, files and undo history of ``other``: two models showing one series (the main
        views and a comparison viewport) then edit, save and undo the same measurements."""
        self.files, self._by_series, self._unsaved = other.files, other._by_series, other._unsaved
        self._histories = other._histories

    # --- the shown series --------------------------------------------------------------------------
    @property
    def annotations(self) -> SeriesAnnotations:
        return self._by_series.setdefault(self._key, SeriesAnnotations())

    @property
    def _key(self) -> tuple[str, str]:
        return self.patient_id, self.series_uid

    @property
    def current(self) -> list[Measurement]:
        return self.annotations.measurements

    @property
    def key_images(self) -> list[int]:
        """The flagged images of the shown stack, as its slice indices (a series split into stacks keeps
        one list of image keys; each stack shows its own)."""
        flagged = set(self.annotations.key_images)
        return [z for z, key in enumerate(self._image_keys()) if key in flagged]

    def _image_keys(self) -> list[str]:
        """The key of each slice's acquired image (SOPInstanceUID; 'slice:N' for an image without UIDs)."""
        volume = self._volume
        if volume is None:
            return []
        count = 1 if volume.geometry.is_projection else int(volume.array.shape[0])
        keys = volume.meta.get("image_keys")
        if isinstance(keys, list) and len(keys) == count:
            return [str(key) for key in keys]
        return [f"slice:{z}" for z in range(count)]

    def switch_series(self, volume: Volume) -> None:
        """Show ``volume``'s series: its measurements of this session, else those saved for it. A volume
        without a SeriesInstanceUID keeps its measurements for this session only."""
        self._volume = volume
        uid = volume.ids.series_uid or f"unsaved:{id(volume.array)}"
        self.series_uid = uid
        self.patient_id = str((volume.meta.get("patient") or {}).get("PatientID", ""))
        self.selected = None
        self.problems = []
        if self._key not in self._by_series:
            self._by_series[self._key] = self._load(uid)
        for measurement in self.current:
            measure(volume, measurement)
        self.changed.emit()

    def remeasure(self, volume: Volume) -> None:
        """The series' pixels changed (loading finished): recompute every value."""
        self._volume = volume
        for measurement in self.current:
            measure(volume, measurement)
        self.changed.emit()

    # --- edits -------------------------------------------------------------------------------------
    def find(self, ident: int | None) -> Measurement | None:
        return next((m for m in self.current if m.ident == ident), None)

    def add(self, measurement: Measurement) -> Measurement:
        self._begin(f"Add {KIND_WORDS.get(measurement.kind, measurement.kind)}")
        self.current.append(measurement)
        self.selected = measurement.ident
        self._commit()
        self._save()
        self.changed.emit()
        return measurement

    def remove(self, ident: int) -> None:
        measurement = self.find(ident)
        if measurement is None:
            return
        self._begin(f"Delete {KIND_WORDS.get(measurement.kind, measurement.kind)}")
        self.annotations.measurements = [m for m in self.current if m.ident != ident]
        if self.selected == ident:
            self.selected = None
        self._commit()
        self._save()
        self.changed.emit()

    def select(self, ident: int | None) -> None:
        self.selected = ident
        self.changed.emit()

    def update(self, ident: int, save: bool = True) -> None:
        """A measurement's points or text changed: recompute its values (and save, unless mid-drag)."""
        measurement = self.find(ident)
        if measurement is None:
            return
        if self._volume is not None:
            measure(self._volume, measurement)
        if save:
            self._save()
        self.changed.emit()

    def translate(self, ident: int, delta: np.ndarray, save: bool = True) -> None:
        """Move a whole measurement by ``delta`` (mm, LPS); the moves of one drag (``save=False`` until the
        button goes up) are one undo step."""
        measurement = self.find(ident)
        if measurement is not None:
            self._begin(f"Move {KIND_WORDS.get(measurement.kind, measurement.kind)}")
            measurement.points = [p + np.asarray(delta, float) for p in measurement.points]
            if save:
                self._commit()  # before ``changed``: the Edit menu reads the new step
            self.update(ident, save)

    def drag_handle(self, ident: int, index: int, point: np.ndarray, save: bool = True) -> None:
        """Move handle ``index`` of a measurement to ``point`` (see ``handles``): one undo step per drag."""
        measurement = self.find(ident)
        if measurement is not None:
            self._begin(f"Reshape {KIND_WORDS.get(measurement.kind, measurement.kind)}")
            move_handle(measurement, index, point)
            if save:
                self._commit()
            self.update(ident, save)

    def set_text(self, ident: int, text: str) -> None:
        """An arrow's label."""
        measurement = self.find(ident)
        if measurement is not None:
            self._begin(f"Relabel {KIND_WORDS.get(measurement.kind, measurement.kind)}")
            measurement.text = text
            self._commit()
            self.update(ident)

    # --- undo / redo (per series) ------------------------------------------------------------------
    @property
    def history(self) -> MeasurementHistory:
        return self._histories.setdefault(self._key, MeasurementHistory())

    @property
    def can_undo(self) -> bool:
        return bool(self.series_uid) and bool(self.history.undo)

    @property
    def can_redo(self) -> bool:
        return bool(self.series_uid) and bool(self.history.redo)

    def undo_text(self) -> str:
        """'Undo Move ruler', or plain 'Undo' when the shown series has nothing to undo."""
        return f"Undo {self.history.undo[-1].name}" if self.can_undo else "Undo"

    def redo_text(self) -> str:
        return f"Redo {self.history.redo[-1].name}" if self.can_redo else "Redo"

    def undo(self) -> bool:
        """Undo the last measurement edit of the shown series; False when there is none."""
        if not self.can_undo:
            return False
        step = self.history.undo.pop()
        self.history.redo.append(step)
        self._restore(step.before)
        return True

    def redo(self) -> bool:
        if not self.can_redo:
            return False
        step = self.history.redo.pop()
        self.history.undo.append(step)
        self._restore(step.after)
        return True

    def _begin(self, name: str) -> None:
        if self.history.pending is None:
            self.history.pending = (name, _snapshot(self.current))

    def _commit(self) -> None:
        history = self.history
        if history.pending is None:
            return
        name, before = history.pending
        history.pending = None
        after = _snapshot(self.current)
        if [m.to_json() for m in before] != [m.to_json() for m in after]:  # a click that moved nothing is no step
            history.push(UndoStep(name, before, after))

    def _restore(self, state: list[Measurement]) -> None:
        self.history.pending = None
        self.annotations.measurements = _snapshot(state)
        if self._volume is not None:
            for measurement in self.current:
                measure(self._volume, measurement)
        if self.find(self.selected) is None:
            self.selected = None
        self._save()
        self.changed.emit()

    def toggle_key_image(self, index: int) -> bool:
        """Flag the acquired image of slice ``index`` as a key image, or unflag it; True when it is flagged
        afterwards."""
        keys = self._image_keys()
        if not 0 <= index < len(keys):
            raise IndexError(f"slice {index} is not in the shown stack of {len(keys)} images")
        key, stored = keys[index], self.annotations.key_images
        flagged = key not in stored
        self.annotations.key_images = sorted(set(stored) | {key}) if flagged else [k for k in stored if k != key]
        self._save()
        self.changed.emit()
        return flagged

    # --- storage -----------------------------------------------------------------------------------
    def _load(self, uid: str) -> SeriesAnnotations:
        if self.files is None or not is_storable_uid(uid):
            return SeriesAnnotations()
        try:
            loaded = self.files.load(uid, self.patient_id)
        except MeasurementFileError as error:
            self.problems.append(f"{error}; this series' measurements are not saved")
            self._unsaved.add(self._key)
            return SeriesAnnotations()
        self.problems.extend(loaded.skipped)
        return loaded

    def _save(self) -> None:
        if self.files is None or not is_storable_uid(self.series_uid) or self._key in self._unsaved:
            return
        try:
            self.files.save(self.series_uid, self.patient_id, self.annotations)
        except OSError as error:
            self.problems.append(f"measurements of series {self.series_uid} not saved: {error}")


def _snapshot(measurements: list[Measurement]) -> list[Measurement]:
    return copy.deepcopy(measurements)


# --- drawing -----------------------------------------------------------------------------------------
class Draft:
    """A measurement being drawn. Press, drag and release draw the first segment (a ruler, an ROI's corners,
    an arrow from tip to text, the first arm of an angle, the first line of a Cobb angle); an angle then
    takes one more click (the mouse moves its second arm meanwhile), a Cobb angle one more drag."""

    def __init__(self, kind: str, view: str, point: np.ndarray, axes: tuple[np.ndarray, np.ndarray]) -> None:
        if kind not in POINT_COUNT:
            raise ValueError(f"unknown measurement kind {kind!r}; expected one of {', '.join(POINT_COUNT)}")
        count = 1 if kind == "probe" else 2
        self.measurement = Measurement(kind, view, [np.array(point, float) for _ in range(count)], axes)
        self.waiting = False  # the first segment is drawn; the next click continues

    @property
    def kind(self) -> str:
        return self.measurement.kind

    def drag(self, point: np.ndarray) -> None:
        self.measurement.points[-1] = np.array(point, float)

    def hover(self, point: np.ndarray) -> None:
        """The mouse moves between clicks: an angle's second arm follows it."""
        if self.waiting and self.kind == "angle":
            self.measurement.points[-1] = np.array(point, float)

    def press(self, point: np.ndarray) -> None:
        """The click that continues a waiting angle or Cobb angle."""
        if not self.waiting:
            return
        self.waiting = False
        if self.kind == "cobb":
            self.measurement.points += [np.array(point, float), np.array(point, float)]
        else:
            self.measurement.points[-1] = np.array(point, float)

    def release(self, point: np.ndarray) -> str:
        """'done' (the measurement is complete), 'more' (the next click continues) or 'cancel' (a click
        without a drag drew nothing)."""
        points = self.measurement.points
        points[-1] = np.array(point, float)
        if self.kind != "probe" and np.allclose(points[-2], points[-1]):
            return "cancel" if len(points) == 2 else "more"
        if len(points) >= POINT_COUNT[self.kind]:
            return "done"
        if self.kind == "angle":
            points.append(points[-1].copy())
        self.waiting = True
        return "more"


# --- geometry on a view ------------------------------------------------------------------------------
def on_plane(measurement: Measurement, plane: SlicePlane, slab_mm: float) -> bool:
    """Whether the measurement lies in the plane (every point within half a slice)."""
    return all(abs(plane.distance_to_plane(p)) <= slab_mm / 2 for p in measurement.points)


def roi_corners(measurement: Measurement) -> list[np.ndarray]:
    """An ROI's four corners in order around the box (the first and third are its two stored points)."""
    a, b = measurement.points
    right, down = measurement.roi_axes()
    du, dv = float((b - a) @ right), float((b - a) @ down)
    return [a, a + du * right, b, a + dv * down]


def handles(measurement: Measurement) -> list[np.ndarray]:
    """The points a reader can drag: an ROI's four corners, every other kind's own points."""
    return roi_corners(measurement) if measurement.kind in ROI_SHAPES else list(measurement.points)


def move_handle(measurement: Measurement, index: int, point: np.ndarray) -> None:
    """Move handle ``index`` to ``point``: an ROI corner keeps the opposite corner in place."""
    point = np.array(point, float)
    if measurement.kind in ROI_SHAPES:
        measurement.points = [roi_corners(measurement)[(index + 2) % 4], point]
    else:
        measurement.points[index] = point


def segments(measurement: Measurement) -> list[tuple[np.ndarray, np.ndarray]]:
    """The straight lines a measurement draws (patient points), for hit testing and export."""
    p = measurement.points
    if measurement.kind in ("ruler", "arrow"):
        return [(p[0], p[1])]
    if measurement.kind == "angle":
        return [(p[0], p[1]), (p[1], p[2])]
    if measurement.kind == "cobb":
        return [(p[0], p[1]), (p[2], p[3])]
    if measurement.kind == "rectangle":
        corners = roi_corners(measurement)
        return [(corners[i], corners[(i + 1) % 4]) for i in range(4)]
    return []


@dataclass(frozen=True)
class Hit:
    """What the mouse is over: a measurement, and which handle of it (None: the measurement's body)."""

    ident: int
    handle: int | None


def hit_test(measurements: list[Measurement], plane: SlicePlane, slab_mm: float, x: float, y: float,
             selected: int | None = None, tolerance: float = HIT_TOLERANCE_PX,
             tool: str | None = None) -> Hit | None:
    """The measurement (handle first, then lines and outlines, the selected measurement first) under screen
    pixel (x, y) of ``plane``. With a drawing ``tool`` on, only measurements of that kind are found, never by
    an ROI's inside: a ruler can start on a probe's point or inside an ellipse."""
    shown = [m for m in measurements if on_plane(m, plane, slab_mm) and tool in (None, m.kind)]
    interiors = tool is None
    shown.sort(key=lambda m: m.ident != selected)
    cursor = np.array([x, y])
    for measurement in shown:
        for index, handle in enumerate(handles(measurement)):
            if np.hypot(*(np.asarray(plane.patient_to_pixel(handle)) - cursor)) <= tolerance:
                return Hit(measurement.ident, index)
    for measurement in shown:
        if _body_distance(measurement, plane, cursor, interiors) <= tolerance:
            return Hit(measurement.ident, None)
    return None


def _body_distance(measurement: Measurement, plane: SlicePlane, cursor: np.ndarray, interiors: bool) -> float:
    if measurement.kind == "ellipse":
        center, half_u, half_v = measurement.roi_box()
        offset = (np.asarray(plane.pixel_to_patient(*cursor)) - center)
        right, down = measurement.roi_axes()
        radius = float(np.hypot(float(offset @ right) / max(half_u, 1e-9), float(offset @ down) / max(half_v, 1e-9)))
        if radius <= 1.0 and interiors:
            return 0.0
        # distance to the outline, in screen pixels, along the ray from the centre
        return abs(radius - 1.0) * float(np.linalg.norm(offset)) / max(radius, 1e-9) / plane.mm_per_pixel
    if measurement.kind == "rectangle" and interiors:
        center, half_u, half_v = measurement.roi_box()
        offset = np.asarray(plane.pixel_to_patient(*cursor)) - center
        right, down = measurement.roi_axes()
        if abs(float(offset @ right)) <= half_u and abs(float(offset @ down)) <= half_v:
            return 0.0
    lines = segments(measurement) or [(measurement.points[0], measurement.points[0])]
    return min(_segment_distance(cursor, np.asarray(plane.patient_to_pixel(a)), np.asarray(plane.patient_to_pixel(b)))
               for a, b in lines)


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    t = 0.0 if not ab.any() else float(np.clip((p - a) @ ab / (ab @ ab), 0.0, 1.0))
    return float(np.linalg.norm(p - (a + t * ab)))
