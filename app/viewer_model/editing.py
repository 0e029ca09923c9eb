"""Label-map editing as the viewer sees it (Qt-free): the active tool and its settings, which mouse events it
takes, screen point -> voxel, and the engine calls each gesture makes on an EditSession.

The Qt side (app/widgets/editing_controller.py) only forwards mouse positions and redraws what
``voxels_changed`` reports; everything decided here is tested without a window.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np

from app.viewer_model.events import Event
from app.viewer_model.layers import LabelLayer
from app.viewer_model.model import VOLUME_3D, ViewerModel
from app.viewer_model.orientation import slice_axis
from app.viewer_model.plane import SlicePlane
from engine.editing.brush import Brush, erase, intensity_range_at, paint, threshold_paint
from engine.editing.diff import VoxelDiff
from engine.editing.history import Edit
from engine.editing.labels import PALETTE, pick_label
from engine.editing.session import EditSession
from engine.volume import CodedConcept, Label, LabelMap

TOOLS = ("brush", "eraser", "threshold", "fill", "pick")
STROKE_TOOLS = {"brush": "Brush", "eraser": "Eraser", "threshold": "Threshold brush"}  # tool -> undo name
SHAPES = ("circle", "sphere")
POLICIES = ("overwrite", "protect")  # protect: paint only background, erase only the active label
TISSUE = CodedConcept("85756007", "SCT", "Tissue")  # the coded type of a label the annotator adds
MIN_RADIUS_MM, MAX_RADIUS_MM = 0.5, 50.0


def screen_to_voxel(plane: SlicePlane, x: float, y: float, model: ViewerModel) -> np.ndarray:
    """Continuous array-order voxel index (z, y, x) — (y, x) for a projection — shown at screen pixel (x, y)."""
    return model.volume.geometry.patient_to_voxel(plane.pixel_to_patient(x, y))


def inside(voxel: Sequence[float], shape: Sequence[int]) -> bool:
    """True when the rounded voxel lies in the grid."""
    return all(0 <= int(round(v)) < n for v, n in zip(voxel, shape, strict=True))


def radius_step(radius_mm: float, bigger: bool) -> float:
    """The next brush radius for ] (bigger) or [: 0.5 mm steps below 5 mm, 1 mm to 20 mm, then 5 mm."""
    def step(r: float) -> float:
        return 0.5 if r < 5 else 1.0 if r < 20 else 5.0

    value = radius_mm + step(radius_mm) if bigger else radius_mm - step(radius_mm - 1e-9)
    return float(np.clip(round(value * 2) / 2, MIN_RADIUS_MM, MAX_RADIUS_MM))


class Editor:
    """The editing state of one viewer: a session on one label layer, the tool and its settings.

    ``changed`` fires when the tool, a setting, the label table or the undo history changes (toolbar and
    Edit menu refresh); ``voxels_changed(start, shape)`` when voxels changed (views showing them redraw).
    """

    def __init__(self, model: ViewerModel) -> None:
        self.model = model
        self.session: EditSession | None = None
        self.layer: LabelLayer | None = None
        self.key = ""
        self.tool: str | None = None  # None: the left button does what the mouse map says
        self.active_label = 0
        self.radius_mm = 2.0
        self.shape = "circle"
        self.policy = "overwrite"
        self.threshold_auto = True  # pick the range under the brush when a threshold stroke starts
        self.threshold_range: tuple[float, float] | None = None
        self.island_min_voxels = 10
        self.changed = Event()
        self.voxels_changed = Event()

    # -- session -------------------------------------------------------------------------------------------
    def attach(self, layer: LabelLayer, session: EditSession, key: str) -> None:
        """Edit ``layer`` through ``session`` (journalled under ``key``); the first label becomes active."""
        self.detach()
        self.layer, self.session, self.key = layer, session, key
        labels = session.label_map.labels
        self.active_label = labels[0].value if labels else 0
        self.changed.emit()

    def detach(self, keep_recovery: bool = False) -> None:
        """Stop editing; the recovery files are deleted unless ``keep_recovery``."""
        if self.session is not None:
            self.session.close(keep_recovery)
        self.session, self.layer, self.key = None, None, ""
        self.changed.emit()

    @property
    def editing(self) -> bool:
        return self.session is not None

    @property
    def labels(self) -> list[Label]:
        return list(self.session.label_map.labels) if self.session else []

    # -- settings ------------------------------------------------------------------------------------------
    def set_tool(self, tool: str | None) -> None:
        if tool is not None and tool not in TOOLS:
            raise ValueError(f"unknown editing tool {tool!r}; expected one of {', '.join(TOOLS)}")
        self.tool = tool
        self.changed.emit()

    def set_radius(self, radius_mm: float) -> None:
        self.radius_mm = float(np.clip(radius_mm, MIN_RADIUS_MM, MAX_RADIUS_MM))
        self.changed.emit()

    def grow(self) -> None:
        self.set_radius(radius_step(self.radius_mm, True))

    def shrink(self) -> None:
        self.set_radius(radius_step(self.radius_mm, False))

    def set_shape(self, shape: str) -> None:
        if shape not in SHAPES:
            raise ValueError(f"brush shape must be one of {SHAPES}, got {shape!r}")
        self.shape = shape
        self.changed.emit()

    def set_policy(self, policy: str) -> None:
        if policy not in POLICIES:
            raise ValueError(f"overwrite policy must be one of {POLICIES}, got {policy!r}")
        self.policy = policy
        self.changed.emit()

    def set_active_label(self, value: int) -> None:
        if value not in {label.value for label in self.labels}:
            raise ValueError(f"label {value} is not in the label table")
        self.active_label = value
        self.changed.emit()

    def set_threshold(self, low: float, high: float, auto: bool) -> None:
        """The threshold brush's intensity range (inclusive); ``auto`` re-picks it at each stroke's start."""
        self.threshold_range, self.threshold_auto = (min(low, high), max(low, high)), auto
        self.changed.emit()

    # -- what the left button does -------------------------------------------------------------------------
    def takes_left_button(self, view: str) -> bool:
        """True when a left press in ``view`` is an editing gesture (a tool is on and a map is edited)."""
        return self.tool is not None and self.session is not None and view != VOLUME_3D

    def brush(self, view: str) -> Brush:
        """The brush in ``view``'s plane (a circle lies in the plane; its axis is the view's slice axis)."""
        geometry = self.model.volume.geometry
        axis = 0 if geometry.is_projection else slice_axis(self.model.axes(view), geometry)
        return Brush(self.radius_mm, self.shape, axis)

    def press(self, view: str, voxel: np.ndarray) -> bool:
        """Left press at ``voxel`` in ``view``: starts a stroke, fills or picks; False if not on the grid."""
        if not self.takes_left_button(view) or not inside(voxel, self.session.label_map.array.shape):
            return False
        if self.tool in STROKE_TOOLS:
            brush = self.brush(view)
            self.session.begin_stroke(STROKE_TOOLS[self.tool], self._dab(brush, voxel),
                                      brush.stroke_step_mm(self.session.label_map.geometry))
            self._report(self.session.add_point(voxel))
        elif self.tool == "fill":
            self.fill(view, voxel)
        elif self.tool == "pick":
            value = pick_label(self.session.label_map, voxel)
            if value:
                self.set_active_label(value)
        self.changed.emit()
        return True

    def move(self, voxel: np.ndarray) -> None:
        """The mouse moved with the button down: paint along the way."""
        if self.session is not None and self.session.in_stroke:
            self._report(self.session.add_point(voxel))

    def release(self) -> None:
        """End of the drag: the stroke becomes one undoable action."""
        if self.session is not None and self.session.in_stroke:
            self.session.end_stroke()
            self.changed.emit()

    def cancel(self) -> bool:
        """Esc: take back the stroke in progress, else put the tool down; False when there was neither."""
        if self.session is not None and self.session.in_stroke:
            self._report(self.session.cancel_stroke())
            self.changed.emit()
            return True
        if self.tool is not None:
            self.set_tool(None)
            return True
        return False

    # -- one-shot actions ----------------------------------------------------------------------------------
    def fill(self, view: str, seed: np.ndarray) -> VoxelDiff:
        """Flood-fill the clicked region in ``view``'s plane with the active label (threshold-limited when a
        manual threshold range is set)."""
        axis = self.brush(view).axis
        limit = None if self.threshold_auto else self.threshold_range
        volume = self.model.volume if limit is not None else None
        from engine.editing.fill import flood_fill  # scipy.ndimage: loaded on first use, not at start-up

        diff = self.session.do("Fill", partial(flood_fill, seed=tuple(seed), value=self.active_label, axis=axis,
                                               volume=volume, intensity_range=limit))
        self._report(diff)
        return diff

    def fill_between_slices(self, view: str) -> VoxelDiff:
        """Interpolate the labels across the empty slices of ``view``'s slice direction."""
        axis = self.brush(view).axis
        from engine.editing.interpolate import fill_between_slices

        return self._do("Fill between slices", partial(fill_between_slices, axis=axis))

    def remove_small_islands(self) -> VoxelDiff:
        """Clear components smaller than ``island_min_voxels`` of every label."""
        from engine.editing.islands import remove_small_islands

        return self._do("Remove small islands", partial(remove_small_islands, min_voxels=self.island_min_voxels))

    def new_label(self, name: str = "") -> Label:
        """Add a label (next free value, distinct colour, coded as tissue) and make it active."""
        label = self.session.add_label(name or f"Label {self._next_number()}", concept=TISSUE)
        self.layer.sync_labels()
        self.active_label = label.value
        self.changed.emit()
        return label

    def undo(self) -> Edit | None:
        return self._step(self.session.undo() if self.session else None)

    def redo(self) -> Edit | None:
        return self._step(self.session.redo() if self.session else None)

    # -- menu state ----------------------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return self.session is not None and self.session.can_undo

    @property
    def can_redo(self) -> bool:
        return self.session is not None and self.session.can_redo

    def undo_text(self) -> str:
        """'Undo Brush' (the Edit menu's text), or plain 'Undo' when there is nothing to undo."""
        return (self.session.undo_name if self.session else None) or "Undo"

    def redo_text(self) -> str:
        return (self.session.redo_name if self.session else None) or "Redo"

    def views_showing(self, start: Sequence[int], shape: Sequence[int]) -> list[str]:
        """The 2D views of the layout whose current slice cuts the box ``start``/``shape`` (array order)."""
        geometry = self.model.volume.geometry
        shown = []
        for view in self.model.views_in_layout():
            if view == VOLUME_3D:
                continue
            if geometry.is_projection:
                shown.append(view)
                continue
            axis = slice_axis(self.model.axes(view), geometry)
            index, _ = self.model.slice_index(view)
            if start[axis] <= index < start[axis] + shape[axis]:
                shown.append(view)
        return shown

    # -- internals -----------------------------------------------------------------------------------------
    def _dab(self, brush: Brush, at: np.ndarray):  # noqa: ANN202 (an engine Dab)
        protect = self.policy == "protect"
        if self.tool == "eraser":
            return partial(erase, brush=brush, paint_over=self.active_label if protect else None)
        paint_over = 0 if protect else None
        if self.tool == "threshold":
            if self.threshold_auto or self.threshold_range is None:
                self.threshold_range = intensity_range_at(self.model.volume, at, brush)
            return partial(threshold_paint, brush=brush, value=self.active_label, volume=self.model.volume,
                           intensity_range=self.threshold_range, paint_over=paint_over)
        return partial(paint, brush=brush, value=self.active_label, paint_over=paint_over)

    def _do(self, name: str, operation) -> VoxelDiff:  # noqa: ANN001 (an engine Operation)
        diff = self.session.do(name, operation)
        self._report(diff)
        self.changed.emit()
        return diff

    def _step(self, edit: Edit | None) -> Edit | None:
        if edit is not None:
            if edit.labels_before is not None or edit.labels_after is not None:
                self.layer.sync_labels()
                if self.active_label not in {label.value for label in self.labels}:
                    self.active_label = self.labels[0].value if self.labels else 0
            self._report(edit.diff)
        self.changed.emit()
        return edit

    def _report(self, diff: VoxelDiff) -> None:
        if not diff.is_empty:
            self.layer.notify_voxels_changed(diff.start, diff.shape)
            self.voxels_changed.emit(diff.start, diff.shape)

    def _next_number(self) -> int:
        return len(self.labels) + 1


def empty_label_map(model: ViewerModel) -> LabelMap:
    """An all-background label map on the shown volume's grid, with one label ready to paint."""
    geometry = model.volume.geometry
    return LabelMap(np.zeros(geometry.shape, np.uint8), geometry, [Label(1, "Label 1", PALETTE[0], TISSUE)])
