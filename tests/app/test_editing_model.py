"""The Qt-free editing model: tool state, screen -> voxel routing, brush sizes, menu texts and enablement,
which views redraw, and how a session is chosen (resume / top label layer / new)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.settings.preferences import RESOURCES
from app.viewer_model.edit_sessions import open_session, parse_key, session_key, version_store
from app.viewer_model.editing import TISSUE, Editor, radius_step, screen_to_voxel
from app.viewer_model.layers import LabelLayer
from app.viewer_model.model import ViewerModel
from app.viewer_model.orientation import AXIAL
from engine.editing.brush import Brush, paint
from engine.editing.recovery import find_recoverable
from engine.editing.session import EditSession
from engine.editing.versions import ORIGINAL
from engine.geometry import Geometry
from engine.volume import Label, LabelMap
from tests.app.conftest import cube_volume


@pytest.fixture
def model() -> ViewerModel:
    m = ViewerModel()
    m.set_volume(cube_volume())
    return m


@pytest.fixture
def editor(model: ViewerModel) -> Editor:
    editor = Editor(model)
    layer, session = open_session(model)
    editor.attach(layer, session, session_key(model))
    yield editor
    editor.detach()


def test_screen_point_maps_to_the_voxel_it_shows(model: ViewerModel) -> None:
    model.set_slice(AXIAL, 20)
    plane = model.plane(AXIAL, 400, 400)
    voxel = np.array([20.0, 40.0, 30.0])
    x, y = plane.patient_to_pixel(model.volume.geometry.voxel_to_patient(voxel))
    assert np.allclose(screen_to_voxel(plane, x, y, model), voxel)


def test_left_button_goes_to_editing_only_with_a_tool_and_a_session(model: ViewerModel) -> None:
    editor = Editor(model)
    editor.set_tool("brush")
    assert not editor.takes_left_button(AXIAL)  # no label map edited yet
    layer, session = open_session(model)
    editor.attach(layer, session, session_key(model))
    assert editor.takes_left_button(AXIAL) and not editor.takes_left_button("3d")
    assert editor.cancel() and editor.tool is None  # Esc with no stroke puts the tool down
    assert not editor.takes_left_button(AXIAL) and not editor.cancel()
    editor.detach()


def test_brush_size_steps_are_fixed_and_clamped() -> None:
    assert radius_step(2.0, True) == 2.5 and radius_step(2.5, False) == 2.0
    assert radius_step(5.0, True) == 6.0 and radius_step(5.0, False) == 4.5
    assert radius_step(20.0, True) == 25.0 and radius_step(20.0, False) == 19.0
    assert radius_step(0.5, False) == 0.5 and radius_step(50.0, True) == 50.0


def test_stroke_is_one_undo_step_named_in_the_menu(editor: Editor, model: ViewerModel) -> None:
    model.set_slice(AXIAL, 20)
    seen = []
    editor.voxels_changed.connect(lambda start, shape: seen.append((start, shape)))
    assert editor.undo_text() == "Undo" and not editor.can_undo
    editor.set_tool("brush")
    editor.set_radius(5.0)
    assert editor.press(AXIAL, np.array([20.0, 40.0, 30.0]))
    editor.move(np.array([20.0, 40.0, 40.0]))
    assert editor.undo_text() == "Undo Brush"  # while dragging, undo would take the stroke back
    editor.release()
    array = editor.session.label_map.array
    assert set(np.unique(np.nonzero(array)[0])) == {20}
    assert seen and all(start[0] == 20 and shape[0] == 1 for start, shape in seen)
    assert AXIAL in editor.views_showing(*seen[0])
    painted = array.copy()
    editor.undo()
    assert not array.any() and editor.redo_text() == "Redo Brush" and editor.undo_text() == "Undo"
    editor.redo()
    assert np.array_equal(array, painted)


def test_views_showing_a_box_are_those_whose_slice_cuts_it(editor: Editor, model: ViewerModel) -> None:
    model.set_slice(AXIAL, 20)
    assert AXIAL in editor.views_showing((20, 0, 0), (1, 2, 2))
    assert AXIAL not in editor.views_showing((21, 0, 0), (1, 2, 2))


def test_eraser_with_protect_keeps_other_labels(editor: Editor, model: ViewerModel) -> None:
    label_map = editor.session.label_map
    other = editor.new_label()
    assert other.value == 2 and other.concept == TISSUE and editor.active_label == 2
    assert editor.layer.colors[2] == other.color  # the layer colours follow the table
    label_map.array[20, 30:34, 30:34] = 1
    label_map.array[20, 34:38, 30:34] = 2
    editor.set_tool("eraser")
    editor.set_policy("protect")
    editor.set_radius(20.0)
    editor.press(AXIAL, np.array([20.0, 34.0, 32.0]))
    editor.release()
    assert not (label_map.array == 2).any() and (label_map.array == 1).sum() == 16


def test_threshold_brush_paints_only_the_range(editor: Editor, model: ViewerModel) -> None:
    volume = model.volume
    cube = np.argwhere(volume.array == 1000)
    z = int(cube[:, 0].mean())
    centre = cube[cube[:, 0] == z].mean(axis=0)
    editor.set_threshold(500, 2000, auto=False)
    editor.set_tool("threshold")
    editor.set_radius(20.0)
    editor.press(AXIAL, centre)
    editor.release()
    painted = editor.session.label_map.array == 1
    assert painted.any() and (volume.array[painted] >= 500).all()
    assert painted.sum() == (volume.array[z] == 1000).sum()


def test_fill_and_fill_between_slices_and_islands(editor: Editor, model: ViewerModel) -> None:
    label_map = editor.session.label_map
    label_map.array[10, 20:30, 20:30] = 1
    label_map.array[14, 20:30, 20:30] = 1
    label_map.array[14, 50, 50] = 1  # an island of one voxel
    diff = editor.fill_between_slices(AXIAL)
    assert not diff.is_empty and (label_map.array[11:14, 20:30, 20:30] == 1).all()
    assert editor.undo_text() == "Undo Fill between slices"
    editor.island_min_voxels = 2
    editor.remove_small_islands()
    assert label_map.array[14, 50, 50] == 0
    editor.set_tool("fill")
    editor.press(AXIAL, np.array([5.0, 1.0, 1.0]))  # an empty slice: the whole slice is one region
    assert (label_map.array[5] == 1).all() and editor.undo_text() == "Undo Fill"
    editor.set_tool("pick")
    editor.press(AXIAL, np.array([12.0, 25.0, 25.0]))
    assert editor.active_label == 1


def test_session_resumes_unfinished_work_then_uses_the_ai_layer(model: ViewerModel) -> None:
    geometry = model.volume.geometry
    ai = LabelMap(np.zeros(geometry.shape, np.uint8), geometry, [Label(1, "lesion", (255, 0, 0), TISSUE)])
    ai.array[30:34, 30:34, 30:34] = 1
    layer = model.add_layer(LabelLayer(ai, "AI lesion"))
    chosen, session = open_session(model)
    assert chosen is layer and version_store(model).load(ORIGINAL).array.sum() == 64  # the AI map kept
    session.do("Brush", lambda m: paint(m, (20, 10, 10), Brush(4.0), 1))
    session.close(keep_recovery=True)
    assert [s.key for s in find_recoverable()] == [session_key(model)]
    resumed, again = open_session(model)  # the unfinished work comes back, history and all
    assert resumed is not layer and again.history.undo_name == "Undo Brush"
    assert resumed.label_map.array[20, 10, 10] == 1
    again.close()
    assert find_recoverable() == []


def test_resume_refuses_a_session_on_another_grid(model: ViewerModel) -> None:
    other = LabelMap(np.zeros((4, 4, 4), np.uint8), Geometry((4, 4, 4)), [])
    EditSession.start(session_key(model), other).close(keep_recovery=True)  # a damaged or foreign session
    layer, session = open_session(model)
    assert layer.label_map.array.shape == model.volume.array.shape
    session.close()


def test_session_key_names_the_series_and_its_grid(model: ViewerModel) -> None:
    assert session_key(model) == "1.2.3.4@64x64x64"
    assert parse_key(session_key(model)) == ("1.2.3.4", (64, 64, 64))


def test_editing_keys_do_not_clash_with_viewer_keys() -> None:
    shortcuts = json.loads((RESOURCES / "shortcuts.json").read_text())
    keys = {context: {k.lower() for keys in shortcuts[context].values() for k in keys}
            for context in ("viewer", "editing")}
    assert not keys["viewer"] & keys["editing"]
    assert {"b", "e", "[", "]", "ctrl+z", "ctrl+y", "ctrl+shift+z"} <= keys["editing"]
