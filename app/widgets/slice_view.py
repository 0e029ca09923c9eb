"""A 2D view: paints the rendered slice (VTK reslice -> QImage) and its annotations, and turns mouse input
into viewer-model operations as the mouse map says (ARCHITECTURE §6)."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QCursor,
    QFontMetrics,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import QInputDialog, QSizePolicy, QWidget

from app.render.frame import Frame
from app.render.scene import Scene
from app.viewer_model.corner_text import corner_text
from app.viewer_model.layers import HeatmapLayer, MarkerLayer
from app.viewer_model.measurements import Draft, Hit, hit_test, measure
from app.viewer_model.model import ViewerModel
from app.viewer_model.orientation import edge_letters
from app.viewer_model.plane import SlicePlane
from app.widgets import text_layout, view_painter
from app.widgets.text_layout import PlacedText, ScaleBar

_BUTTONS = {Qt.LeftButton: "left", Qt.RightButton: "right", Qt.MiddleButton: "middle"}
MEASUREMENT_TOOLS = ("ruler", "angle", "cobb", "ellipse", "rectangle", "probe", "arrow")
MAGNIFIER_PX = 220  # side of the magnifier glass on screen
MAGNIFIER_ZOOM = (2.0, 4.0)  # the range of its magnification (mouse map 'magnifier.zoom', default 3)
COLOUR_MEASUREMENT_TOOLS = ("ruler", "angle", "cobb", "probe", "arrow")


class EditTool(Protocol):
    """What a 2D view needs of label editing: it takes the left button while an editing tool is on."""

    def takes_left_button(self, view: str) -> bool:
        """Whether a left click in ``view`` edits (instead of navigating or measuring)."""

    def press(self, view: str, plane: SlicePlane, position: QPointF) -> bool:
        """A left press; True when editing took it (the view then forwards the drag)."""

    def move(self, view: str, plane: SlicePlane, position: QPointF, dragging: bool) -> None:
        """A mouse move, ``dragging`` after a press the tool took."""

    def release(self) -> None:
        """The end of a drag the tool took."""

    def paint_cursor(self, painter: QPainter, view: str, plane: SlicePlane) -> None:
        """Draw the tool's outline over the view's image."""


class SliceView(QWidget):
    """One MPR (axial / coronal / sagittal) or projection view of the model's volume."""

    activated = Signal(str)

    def __init__(self, model: ViewerModel, scene: Scene, view: str, mouse_map: dict[str, Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model, self.scene, self.view = model, scene, view
        self.mouse_map = mouse_map
        self.plane: SlicePlane | None = None
        self._drag: tuple[str, QPointF] | None = None
        self._draft: Draft | None = None  # a measurement being drawn
        self._editing: tuple[Hit, np.ndarray] | None = None  # a measurement being moved / reshaped, last point
        self.ask_text = lambda: _ask_arrow_text(self)  # an arrow's label (tests replace the dialog)
        self.edit_tool: EditTool | None = None  # takes the left button while an editing tool is on
        self.magnifier_on = False
        self._magnifier_zoom: float | None = None  # set by the wheel while the glass shows, else the mouse map's
        self._cursor = QPointF(-1, -1)
        self.setObjectName(f"view_{view}")
        self.setFocusPolicy(Qt.StrongFocus)
        self.setMouseTracking(True)
        self.setMinimumSize(120, 120)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setAttribute(Qt.WA_OpaquePaintEvent)
        for event in (model.volume_changed, model.crosshair_changed, model.window_changed,
                      model.layers.changed, model.annotation_changed, model.pixels_changed,
                      model.measurements.changed):
            event.connect(self.update)
        model.camera_changed.connect(self._camera_changed)
        model.slabs.changed.connect(self._camera_changed)
        model.oblique.changed.connect(self.update)

    # --- painting ----------------------------------------------------------------------------------
    def render_frame(self) -> Frame | None:
        """Render the view's image pixels at the widget's size into the renderer's reused frame."""
        if not self._update_plane():
            return None
        renderer = self.scene.renderer(self.view)
        return renderer.render(self.plane, self.model.window, self.model.invert, self.model.layers.overlays(),
                               self.model.slabs.get(self.view))

    def render_rgb(self) -> np.ndarray | None:
        """A copy of the freshly rendered image pixels as (height, width, 3) RGB (no annotations)."""
        frame = self.render_frame()
        return None if frame is None else frame.rgb.copy()

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        frame = self.render_frame()
        if frame is None:
            painter.fillRect(self.rect(), QColor(0, 0, 0))
        else:
            image = QImage(frame.pixels.data, frame.width, frame.height, 4 * frame.width, QImage.Format_RGB32)
            painter.drawImage(0, 0, image)
            self._annotate(painter)
            if self.edit_tool is not None:
                self.edit_tool.paint_cursor(painter, self.view, self.plane)
            if self.magnifier_on:
                self._paint_magnifier(painter)
        if self.hasFocus() and len(self.model.views_in_layout()) > 1:
            painter.setPen(QColor(255, 160, 40))
            painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        painter.end()

    def _annotate(self, painter: QPainter) -> None:
        model, plane = self.model, self.plane
        painter.setRenderHint(QPainter.Antialiasing, True)
        painter.setFont(view_painter.text_font())
        slab = self._slab_mm()
        if model.show_crosshair and len(model.views_in_layout()) > 1:
            lines = model.oblique.crosshair_lines(self.view, model.volume.geometry)
            view_painter.draw_crosshair(painter, plane, model.crosshair, [d for _, d in lines])
        for layer in model.layers.overlays():
            if isinstance(layer, MarkerLayer):
                view_painter.draw_markers(painter, plane, layer, slab)
        for measurement in model.measurements.current:
            selected = measurement.ident == model.measurements.selected
            view_painter.draw_measurement(painter, plane, measurement, selected, slab)
        if self._draft is not None:
            view_painter.draw_measurement(painter, plane, self._draft.measurement, True, slab)
        if self._shows_key_image():
            view_painter.draw_key_image_mark(painter, plane)
        letters, bar, corners = self.text_layout()
        view_painter.draw_edge_letters(painter, list(letters.values()))
        heatmaps = [layer for layer in model.layers.overlays() if isinstance(layer, HeatmapLayer)]
        if heatmaps:
            right = letters["right"].rect.left() - text_layout.GAP / 2
            view_painter.draw_color_bar(painter, plane, heatmaps[-1], right)
        if bar is not None:
            view_painter.draw_scale_bar(painter, bar)
        view_painter.draw_texts(painter, corners)

    def text_layout(self) -> tuple[dict[str, PlacedText], ScaleBar | None, list[PlacedText]]:
        """Where the orientation letters, the scale bar (none without a known pixel spacing) and the corner
        lines go at the current size."""
        plane = self.plane
        metrics = QFontMetrics(view_painter.text_font())
        letter_metrics = QFontMetrics(view_painter.letter_font())
        letters = text_layout.edge_letters(letter_metrics, plane.width, plane.height, edge_letters(plane.axes))
        bar = text_layout.scale_bar(metrics, plane) if self.model.volume.spacing_known else None
        keep_out = [letter.rect for letter in letters.values()] + ([bar.rect] if bar is not None else [])
        corners = text_layout.corner_lines(metrics, plane.width, plane.height,
                                           corner_text(self.model, self.view, plane.mm_per_pixel), keep_out)
        return letters, bar, corners

    def _update_plane(self) -> bool:
        """Refresh ``self.plane`` from the model (mouse input may come before the next paint)."""
        if self.model.volume is None or self.width() < 2 or self.height() < 2:
            return False
        self.plane = self.model.plane(self.view, self.width(), self.height())
        return True

    def _shows_key_image(self) -> bool:
        """Whether this view shows an acquired image the reader flagged as a key image."""
        geometry = self.model.volume.geometry
        keys = self.model.measurements.key_images
        if not keys:
            return False
        if geometry.is_projection:
            return 0 in keys
        if abs(float(self.plane.axes.normal @ geometry.direction[:, 2])) < 0.999:
            return False  # a reformatted plane is no acquired image
        return int(np.rint(geometry.patient_to_voxel(self.model.crosshair)[0])) in keys

    def _slab_mm(self) -> float:
        """Thickness within which annotations count as 'on this slice': one voxel along the normal."""
        geometry = self.model.volume.geometry
        steps = np.abs(geometry.direction.T @ self.plane.axes.normal) * np.asarray(geometry.spacing)
        return float(max(steps.max(), 1e-3)) if not geometry.is_projection else float("inf")

    # --- magnifier -----------------------------------------------------------------------------------
    def set_magnifier(self, on: bool) -> None:
        """Show / hide the magnifier glass around the mouse cursor."""
        self.magnifier_on = bool(on)
        if on:
            self._cursor = QPointF(self.mapFromGlobal(QCursor.pos()))
        self.update()

    def magnifier_zoom(self) -> float:
        zoom = self._magnifier_zoom or self.mouse_map.get("magnifier", {}).get("zoom", 3.0)
        return float(np.clip(zoom, *MAGNIFIER_ZOOM))

    def magnifier_plane(self) -> SlicePlane | None:
        """The glass's plane: the patient points around the cursor at ``magnifier_zoom`` times the view's
        magnification (a fresh reslice, so it shows detail, not enlarged screen pixels)."""
        if self.plane is None or not self.rect().contains(self._cursor.toPoint()):
            return None
        mm = self.plane.mm_per_pixel / self.magnifier_zoom()
        centre = self.plane.pixel_to_patient(self._cursor.x(), self._cursor.y())
        axes = self.plane.axes
        origin = centre - (MAGNIFIER_PX - 1) / 2 * (axes.right + axes.down) * mm
        return SlicePlane(origin, axes, mm, MAGNIFIER_PX, MAGNIFIER_PX)

    def _paint_magnifier(self, painter: QPainter) -> None:
        plane = self.magnifier_plane()
        if plane is None:
            return
        renderer = self.scene.renderer(f"{self.view}/magnifier")
        frame = renderer.render(plane, self.model.window, self.model.invert, self.model.layers.overlays(),
                                self.model.slabs.get(self.view))
        image = QImage(frame.pixels.data, frame.width, frame.height, 4 * frame.width, QImage.Format_RGB32)
        x = int(np.clip(self._cursor.x() - MAGNIFIER_PX / 2, 0, max(self.width() - MAGNIFIER_PX, 0)))
        y = int(np.clip(self._cursor.y() - MAGNIFIER_PX / 2, 0, max(self.height() - MAGNIFIER_PX, 0)))
        painter.drawImage(x, y, image)
        painter.setPen(QPen(view_painter.SELECTED, 2))
        painter.setBrush(Qt.NoBrush)
        painter.drawRect(x, y, MAGNIFIER_PX - 1, MAGNIFIER_PX - 1)
        view_painter.draw_shadowed(painter, x + 6, y + 16, f"{self.magnifier_zoom():g}×")

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        """Letting go of the held magnifier key hides the glass."""
        if self.magnifier_on and not event.isAutoRepeat():
            self.set_magnifier(False)
        super().keyReleaseEvent(event)

    def _camera_changed(self, view: str) -> None:
        if view == self.view:
            self.update()

    # --- mouse -------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.activated.emit(self.view)
        self.setFocus()
        if not self._update_plane():
            return
        button = _BUTTONS.get(event.button())
        tool = self.mouse_map["buttons"].get(button, "none")
        if button == "left" and event.modifiers() & Qt.ShiftModifier:
            tool = "crosshair"
        elif button == "left" and event.modifiers() & Qt.ControlModifier and self._can_rotate():
            tool = "rotate"  # Ctrl+drag turns the crosshair lines: oblique MPR
        elif button == "left" and self.edit_tool is not None and self.edit_tool.press(self.view, self.plane,
                                                                                      event.position()):
            tool = "edit"
        elif button == "left" and self._draft is not None:
            tool = "draw"
            self._draft.press(self._point(event.position()))
        elif button == "left" and self._grab_measurement(event.position()):
            tool = "edit_measurement"
        elif button == "left" and self.model.tool in self._measurement_tools():
            tool = "draw"
            self._start_measurement(event.position())
        if tool == "crosshair":
            self._move_crosshair(event.position())
        self._drag = (tool, event.position())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if not self._update_plane():
            return
        position = event.position()
        self._cursor = position
        if self.magnifier_on:
            self.update()
        if self.edit_tool is not None:
            self.edit_tool.move(self.view, self.plane, position, self._drag is not None and self._drag[0] == "edit")
        if self._drag is None:
            if self._draft is not None and self._draft.waiting:
                self._draft.hover(self._point(position))
                measure(self.model.volume, self._draft.measurement)
                self.update()
            self._hover_cursor(position)
            if event.modifiers() & Qt.ShiftModifier and self.mouse_map.get("shift_move") == "crosshair":
                self._move_crosshair(position)
            return
        tool, last = self._drag
        dx, dy = position.x() - last.x(), position.y() - last.y()
        self._drag = (tool, position)
        if tool == "window_level":
            settings = self.mouse_map.get("window_level", {})
            self.model.drag_window(dx, dy, settings.get("horizontal", "width"),
                                   settings.get("invert_x", False), settings.get("invert_y", False),
                                   settings.get("sensitivity", 1.0))
        elif tool == "zoom":
            settings = self.mouse_map.get("zoom", {})
            sign = -1 if settings.get("drag_up_zooms_in", True) else 1
            self.model.zoom(self.view, float(np.exp(sign * dy * settings.get("per_pixel", 0.01))))
        elif tool == "pan":
            self.model.pan(self.view, dx, dy)
        elif tool == "crosshair":
            self._move_crosshair(position)
        elif tool == "rotate":
            self.model.rotate_view(self.view, self._turn_angle(last, position))
        elif tool == "draw" and self._draft is not None:
            self._draft.drag(self._point(position))
            measure(self.model.volume, self._draft.measurement)
            self.update()
        elif tool == "edit_measurement" and self._editing is not None:
            self._edit_measurement(position, save=False)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        tool = self._drag[0] if self._drag is not None else None
        if self.edit_tool is not None and tool == "edit":
            self.edit_tool.release()
        if tool == "draw" and self._draft is not None and self._update_plane():
            self._finish_segment(event.position())
        if tool == "edit_measurement" and self._editing is not None and self._update_plane():
            self._edit_measurement(event.position(), save=True)
            self._editing = None
        self._drag = None

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        """Maximise / restore the view under the navigation tools; with an editing tool on, the second click
        is a click like the first (it paints, fills or picks), with a measurement tool it is ignored."""
        if self.edit_tool is not None and self.edit_tool.takes_left_button(self.view):
            self.mousePressEvent(event)
        elif self.model.tool not in MEASUREMENT_TOOLS:
            self.model.toggle_maximize(self.view)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if self.model.volume is None:
            return
        notches = event.angleDelta().y() / 120.0
        if self.magnifier_on:  # the wheel sets the glass's magnification while it shows
            self._magnifier_zoom = float(np.clip(self.magnifier_zoom() + 0.5 * np.sign(notches), *MAGNIFIER_ZOOM))
            self.update()
            event.accept()
            return
        ctrl = bool(event.modifiers() & Qt.ControlModifier)
        action = self.mouse_map.get("ctrl_wheel" if ctrl else "wheel", "slice")
        if action == "zoom":
            step = self.mouse_map.get("zoom", {}).get("wheel_step", 1.15)
            self.model.zoom(self.view, float(step**notches))
        elif action == "slice":
            down_is_next = self.mouse_map.get("slice", {}).get("wheel_down_is_next", True)
            steps = int(round(-notches if down_is_next else notches))
            self.model.step_slice(self.view, steps)
        event.accept()

    def cancel_drawing(self) -> bool:
        """Esc: drop a measurement being drawn; True if there was one."""
        if self._draft is None:
            return False
        self._draft, self._drag = None, None
        self.update()
        return True

    def _measurement_tools(self) -> tuple[str, ...]:
        """The tools usable on this image: ROI statistics are grey-value statistics, not offered on colour images."""
        return COLOUR_MEASUREMENT_TOOLS if self.model.volume.is_colour else MEASUREMENT_TOOLS

    def _point(self, position: QPointF) -> np.ndarray:
        return self.plane.pixel_to_patient(position.x(), position.y())

    def _start_measurement(self, position: QPointF) -> None:
        axes = (self.plane.axes.right.copy(), self.plane.axes.down.copy())
        self._draft = Draft(self.model.tool, self.view, self._point(position), axes)
        measure(self.model.volume, self._draft.measurement)

    def _finish_segment(self, position: QPointF) -> None:
        """The button went up while drawing: the measurement is complete, waits for its next click, or was a
        click that drew nothing."""
        state = self._draft.release(self._point(position))
        if state == "more":
            measure(self.model.volume, self._draft.measurement)
        else:
            measurement, self._draft = self._draft.measurement, None
            if state == "done":
                if measurement.kind == "arrow":
                    measurement.text = self.ask_text() or ""
                self.model.measurements.add(measure(self.model.volume, measurement))
        self.update()

    def _grab_measurement(self, position: QPointF) -> bool:
        """A left press on a shown measurement selects it: on a handle it reshapes it, on its line, outline or
        inside it moves it (a drawing tool only takes measurements of its own kind, by handle or line)."""
        store = self.model.measurements
        hit = hit_test(store.current, self.plane, self._slab_mm(), position.x(), position.y(), store.selected,
                       tool=self.model.tool if self.model.tool in MEASUREMENT_TOOLS else None)
        if hit is None:
            return False
        store.select(hit.ident)
        self._editing = (hit, self._point(position))
        return True

    def _hover_cursor(self, position: QPointF) -> None:
        """A hand over a measurement the left button would grab (a cross over a handle)."""
        store = self.model.measurements
        hit = None
        if self._draft is None and store.current and (self.edit_tool is None
                                                      or not self.edit_tool.takes_left_button(self.view)):
            hit = hit_test(store.current, self.plane, self._slab_mm(), position.x(), position.y(), store.selected,
                           tool=self.model.tool if self.model.tool in MEASUREMENT_TOOLS else None)
        if hit is None:
            self.unsetCursor()
        else:
            self.setCursor(Qt.SizeAllCursor if hit.handle is None else Qt.CrossCursor)

    def _edit_measurement(self, position: QPointF, save: bool) -> None:
        hit, last = self._editing
        point = self._point(position)
        store = self.model.measurements
        if hit.handle is None:
            store.translate(hit.ident, point - last, save)
        else:
            store.drag_handle(hit.ident, hit.handle, point, save)
        self._editing = (hit, point)

    def _can_rotate(self) -> bool:
        return len(self.model.views_in_layout()) > 1 and not self.model.volume.geometry.is_projection

    def _turn_angle(self, last: QPointF, position: QPointF) -> float:
        """The angle (radians, clockwise on screen) the mouse turned about the crosshair from ``last``."""
        cx, cy = self.plane.patient_to_pixel(self.model.crosshair)
        before = np.arctan2(last.y() - cy, last.x() - cx)
        after = np.arctan2(position.y() - cy, position.x() - cx)
        if np.hypot(position.x() - cx, position.y() - cy) < 4:  # too near the centre to tell an angle
            return 0.0
        return float((after - before + np.pi) % (2 * np.pi) - np.pi)

    def _move_crosshair(self, position: QPointF) -> None:
        self.model.set_crosshair(self.plane.pixel_to_patient(position.x(), position.y()))


def _ask_arrow_text(parent: QWidget) -> str | None:
    """The label of a new arrow (None when the reader cancels: the arrow stays, without text)."""
    text, ok = QInputDialog.getText(parent, "Arrow", "Text:")
    return text if ok else None
