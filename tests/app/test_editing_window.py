"""Label editing in the main window, driven by keys and simulated mouse events in the axial view: brush
strokes paint the expected voxels and show in the view, undo / redo by shortcut, Edit-menu texts, [ ] size,
eraser, fill, Esc cancelling a stroke, and the journal flush."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent

from app.viewer_model.orientation import AXIAL
from engine.editing.brush import Brush, paint
from engine.editing.recovery import find_recoverable
from engine.editing.session import EditSession
from engine.volume import LabelMap
from tests.app.conftest import cube_volume, rendered, save_artifact

SLICE = 20


def _pixel(view, voxel) -> QPoint:
    """The screen pixel nearest to an array-order voxel centre of the axial slice shown."""
    x, y = view.plane.patient_to_pixel(view.model.volume.geometry.voxel_to_patient(np.asarray(voxel, float)))
    return QPoint(round(x), round(y))


def _drag(view, qtbot, points: list[QPoint]) -> None:
    """Press at the first point, move with the left button held through the others, release at the last."""
    qtbot.mousePress(view, Qt.LeftButton, pos=points[0])
    for point in points[1:]:
        view.mouseMoveEvent(QMouseEvent(QMouseEvent.MouseMove, QPointF(point), QPointF(view.mapToGlobal(point)),
                                        Qt.LeftButton, Qt.LeftButton, Qt.NoModifier))
    qtbot.mouseRelease(view, Qt.LeftButton, pos=points[-1])


@pytest.fixture
def axial(window, qtbot):
    """The axial view of the cube volume at slice 20, focused, with the brush picked up by its key (b)."""
    window.show_volume(cube_volume())
    window.model.set_slice(AXIAL, SLICE)
    view = window.grid.view(AXIAL)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)  # shortcuts need the active window
    view.setFocus()
    rendered(view)
    qtbot.keyClick(view, Qt.Key_B)
    return view


def _menu_texts(window) -> tuple[str, str]:
    actions = window.actions_by_id
    return actions["edit.undo"].text(), actions["edit.redo"].text()


def test_click_paints_a_circle_and_undo_redo_by_shortcut(window, axial, qtbot) -> None:
    editor = window.editing.editor
    assert editor.tool == "brush" and editor.layer in list(window.model.layers)
    window.editing.panel.size.setValue(5.0)  # the dock's radius box
    assert editor.radius_mm == 5.0
    array = editor.session.label_map.array
    before = rendered(axial)
    at = _pixel(axial, (SLICE, 40, 30))
    qtbot.mousePress(axial, Qt.LeftButton, pos=at)
    qtbot.mouseRelease(axial, Qt.LeftButton, pos=at)
    # radius 5 mm on 2 mm voxels: offsets (dy, dx) with dy² + dx² <= 6.25 -> 21 voxels
    assert int((array == 1).sum()) == 21
    z, y, x = np.nonzero(array)
    assert set(z) == {SLICE} and (y.mean(), x.mean()) == (40.0, 30.0)
    after = rendered(axial)
    assert not np.array_equal(after[at.y(), at.x()], before[at.y(), at.x()])  # the view shows the new label
    assert _menu_texts(window) == ("Undo Brush", "Redo")
    painted = array.copy()
    qtbot.keyClick(axial, Qt.Key_Z, Qt.ControlModifier)
    assert not array.any() and _menu_texts(window) == ("Undo", "Redo Brush")
    assert np.array_equal(rendered(axial), before)
    qtbot.keyClick(axial, Qt.Key_Y, Qt.ControlModifier)
    assert np.array_equal(array, painted) and _menu_texts(window) == ("Undo Brush", "Redo")
    qtbot.keyClick(axial, Qt.Key_Z, Qt.ControlModifier)
    qtbot.keyClick(axial, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert np.array_equal(array, painted)


def test_drag_is_one_stroke_with_the_engines_voxels(window, axial, qtbot) -> None:
    editor = window.editing.editor
    editor.set_radius(3.0)
    points = [_pixel(axial, (SLICE, 20, 12)), _pixel(axial, (SLICE, 24, 30)), _pixel(axial, (SLICE, 40, 44))]
    _drag(axial, qtbot, points)
    array = editor.session.label_map.array
    # the same stroke replayed on the engine alone, from the same screen points
    geometry = window.model.volume.geometry
    expected = LabelMap(np.zeros_like(array), geometry, list(editor.session.label_map.labels))
    replay = EditSession(expected)
    brush = Brush(3.0, "circle", 0)
    replay.begin_stroke("Brush", partial(paint, brush=brush, value=1), brush.stroke_step_mm(geometry))
    for point in points:
        replay.add_point(geometry.patient_to_voxel(axial.plane.pixel_to_patient(point.x(), point.y())))
    replay.end_stroke()
    assert np.array_equal(array, expected.array)
    z, y, x = np.nonzero(array)
    assert set(z) == {SLICE} and y.min() <= 20 and y.max() >= 40 and x.min() <= 12 and x.max() >= 44
    assert _menu_texts(window)[0] == "Undo Brush"
    qtbot.keyClick(axial, Qt.Key_Z, Qt.ControlModifier)
    assert not array.any()  # the whole drag was one action


def test_brackets_change_the_size_and_eraser_fill_and_esc(window, axial, qtbot) -> None:
    editor = window.editing.editor
    assert editor.radius_mm == 2.0
    qtbot.keyClick(axial, Qt.Key_BracketRight)
    qtbot.keyClick(axial, Qt.Key_BracketRight)
    assert editor.radius_mm == 3.0 and window.editing.panel.size.value() == 3.0
    qtbot.keyClick(axial, Qt.Key_BracketLeft)
    assert editor.radius_mm == 2.5
    editor.set_radius(7.0)
    array = editor.session.label_map.array
    centre = _pixel(axial, (SLICE, 32, 32))
    qtbot.mousePress(axial, Qt.LeftButton, pos=centre)
    qtbot.mouseRelease(axial, Qt.LeftButton, pos=centre)
    painted = int(array.sum())
    mapped = window.model.volume.geometry.patient_to_voxel(axial.plane.pixel_to_patient(centre.x(), centre.y()))
    _, disc = Brush(7.0, "circle", 0).footprint(window.model.volume.geometry, mapped)
    assert painted == int(disc.sum()) and 37 <= painted <= 45  # dy² + dx² <= 3.5² voxels around the click
    qtbot.keyClick(axial, Qt.Key_E)  # eraser, smaller: takes a hole out of the disc
    assert editor.tool == "eraser" and window.actions_by_id["edit.eraser"].isChecked()
    editor.set_radius(2.5)  # the centre voxel and its 4 neighbours
    qtbot.mousePress(axial, Qt.LeftButton, pos=centre)
    qtbot.mouseRelease(axial, Qt.LeftButton, pos=centre)
    assert int(array.sum()) == painted - 5 and array[SLICE, 32, 32] == 0
    assert _menu_texts(window)[0] == "Undo Eraser"
    qtbot.keyClick(axial, Qt.Key_F)  # fill the hole: the background region inside the ring is 5 voxels
    qtbot.mousePress(axial, Qt.LeftButton, pos=centre)
    qtbot.mouseRelease(axial, Qt.LeftButton, pos=centre)
    assert int(array.sum()) == painted and _menu_texts(window)[0] == "Undo Fill"
    qtbot.keyClick(axial, Qt.Key_B)
    state = array.copy()
    qtbot.mousePress(axial, Qt.LeftButton, pos=_pixel(axial, (SLICE, 10, 10)))
    axial.mouseMoveEvent(QMouseEvent(QMouseEvent.MouseMove, QPointF(_pixel(axial, (SLICE, 10, 50))),
                                     QPointF(), Qt.LeftButton, Qt.LeftButton, Qt.NoModifier))
    assert not np.array_equal(array, state)
    window.editing.flush()  # the timer's job: the stroke so far is journalled
    qtbot.keyClick(axial, Qt.Key_Escape)
    assert np.array_equal(array, state) and not editor.session.in_stroke
    qtbot.mouseRelease(axial, Qt.LeftButton, pos=_pixel(axial, (SLICE, 10, 50)))
    assert np.array_equal(array, state) and _menu_texts(window)[0] == "Undo Fill"
    assert window.editing.flush_timer.isActive() and window.editing.flush_timer.interval() <= 5000


def test_screenshot_of_the_editing_state(window, axial, qtbot) -> None:
    editor = window.editing.editor
    editor.set_radius(4.0)
    _drag(axial, qtbot, [_pixel(axial, (SLICE, 24, 20)), _pixel(axial, (SLICE, 24, 44)),
                         _pixel(axial, (SLICE, 40, 44))])
    window.actions_by_id["edit.new_label"].trigger()  # a second label (Edit menu), painted in its own colour
    _drag(axial, qtbot, [_pixel(axial, (SLICE, 44, 16)), _pixel(axial, (SLICE, 50, 30))])
    assert {int(v) for v in np.unique(editor.session.label_map.array)} == {0, 1, 2}
    assert window.editing.panel.labels.count() == 2
    axial.mouseMoveEvent(QMouseEvent(QMouseEvent.MouseMove, QPointF(_pixel(axial, (SLICE, 30, 32))),
                                     QPointF(), Qt.NoButton, Qt.NoButton, Qt.NoModifier))
    window.repaint()
    path = save_artifact(window, "editing_brush.png")
    assert path.exists()


def test_closing_discards_the_journal_of_an_untouched_session(window, axial) -> None:
    assert find_recoverable()  # the session is journalled while open
    window.editing.close()
    assert find_recoverable() == []


def test_removing_the_edited_layer_ends_the_session(window, axial) -> None:
    layer = window.editing.editor.layer
    window.model.layers.remove(layer)
    assert not window.editing.editor.editing and window.editing.editor.layer is None


def test_ctrl_z_undoes_measurement_edits_unless_a_label_map_is_edited(window, qtbot) -> None:
    """Without a label-map session, Ctrl+Z / Ctrl+Y in the view undo and redo the reader's measurement edits
    (draw, move); once the brush is picked up they undo the label map and leave the measurements alone."""
    window.show_volume(cube_volume())
    window.model.set_slice(AXIAL, SLICE)
    view = window.grid.view(AXIAL)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    view.setFocus()
    rendered(view)
    store = window.model.measurements
    qtbot.keyClick(view, Qt.Key_M)  # ruler
    _drag(view, qtbot, [_pixel(view, (SLICE, 32, 20)), _pixel(view, (SLICE, 32, 30)), _pixel(view, (SLICE, 32, 40))])
    assert len(store.current) == 1 and store.current[0].values["length_mm"] == pytest.approx(40.0, abs=1.0)
    assert _menu_texts(window) == ("Undo Add ruler", "Redo")
    ruler = store.current[0]
    start = ruler.points[0].copy()
    _drag(view, qtbot, [_pixel(view, (SLICE, 32, 25)), _pixel(view, (SLICE, 36, 25)), _pixel(view, (SLICE, 40, 25))])
    assert ruler.points[0][1] == pytest.approx(start[1] + 16.0, abs=1.0)  # moved 8 voxels down, in one drag
    assert _menu_texts(window) == ("Undo Move ruler", "Redo")
    qtbot.keyClick(view, Qt.Key_Z, Qt.ControlModifier)
    assert np.allclose(store.current[0].points[0], start) and _menu_texts(window) == ("Undo Add ruler",
                                                                                      "Redo Move ruler")
    qtbot.keyClick(view, Qt.Key_Z, Qt.ControlModifier)
    assert store.current == [] and window.measurements_dock.list.count() == 0
    qtbot.keyClick(view, Qt.Key_Y, Qt.ControlModifier)
    assert len(store.current) == 1 and window.measurements_dock.list.count() == 1

    qtbot.keyClick(view, Qt.Key_B)  # label editing: the undo keys are the label map's now
    at = _pixel(view, (SLICE, 40, 30))
    qtbot.mousePress(view, Qt.LeftButton, pos=at)
    qtbot.mouseRelease(view, Qt.LeftButton, pos=at)
    array = window.editing.editor.session.label_map.array
    assert array.any() and _menu_texts(window) == ("Undo Brush", "Redo")
    qtbot.keyClick(view, Qt.Key_Z, Qt.ControlModifier)
    assert not array.any() and len(store.current) == 1
