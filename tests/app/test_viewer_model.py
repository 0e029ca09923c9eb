"""The Qt-free viewer model: slices, crosshair, window presets, cameras, corner text, orientation letters, the 3D
view's state."""

from __future__ import annotations

import numpy as np
import pytest

from app.viewer_model.corner_text import corner_text
from app.viewer_model.model import ViewerModel
from app.viewer_model.orientation import AXIAL, CORONAL, SAGITTAL, direction_letters, edge_letters, view_axes
from app.viewer_model.scale_bar import scale_bar_mm
from app.viewer_model.volume_view_state import VolumeViewState
from tests.app.conftest import CUBE_LPS, cube_volume

PRESETS = {"CT": [{"name": "header", "source": "default"}, {"name": "Lung", "width": 1500, "center": -600}]}


@pytest.fixture
def model() -> ViewerModel:
    m = ViewerModel(PRESETS)
    m.set_volume(cube_volume())
    return m


def test_edge_letters_follow_radiological_convention(model: ViewerModel) -> None:
    geometry = model.volume.geometry
    edges = ("left", "right", "top", "bottom")
    letters = {name: "".join(edge_letters(view_axes(name, geometry))[edge] for edge in edges)
               for name in (AXIAL, CORONAL, SAGITTAL)}
    assert letters == {AXIAL: "RLAP", CORONAL: "RLSI", SAGITTAL: "APSI"}
    assert direction_letters(np.array([0.7, 0.7, 0.0])) == "LP"


def test_slice_keys_move_the_crosshair_one_voxel(model: ViewerModel) -> None:
    index, count = model.slice_index(AXIAL)
    assert count == 64
    model.step_slice(AXIAL, 1)
    assert model.slice_index(AXIAL)[0] == index + 1
    model.first_slice(AXIAL)
    assert model.slice_index(AXIAL)[0] == 0
    model.step_slice(AXIAL, -5)
    assert model.slice_index(AXIAL)[0] == 0
    model.last_slice(AXIAL)
    assert model.slice_index(AXIAL)[0] == 63
    assert model.slice_position_mm(AXIAL) == pytest.approx(63.0)


def test_crosshair_is_kept_inside_the_volume(model: ViewerModel) -> None:
    model.set_crosshair(np.array([500.0, 0.0, 0.0]))
    assert model.crosshair[0] == pytest.approx(63.0)
    model.set_crosshair(CUBE_LPS)  # half-way between voxel centres: the crosshair takes the nearest one
    index = model.volume.patient_to_voxel(model.crosshair)
    assert np.allclose(index, np.rint(index)) and np.all(np.abs(model.crosshair - CUBE_LPS) <= 1.0)


def test_views_show_acquired_slices_not_interpolations(model: ViewerModel) -> None:
    model.set_volume(cube_volume())  # 64 slices: the middle one is slice 32, not between 31 and 32
    assert model.slice_index("axial") == (32, 64)
    assert np.allclose(model.volume.patient_to_voxel(model.crosshair), (32, 32, 32))
    model.set_crosshair(np.array([0.3, -0.7, 10.6]))
    index = model.volume.patient_to_voxel(model.crosshair)
    assert np.allclose(index, np.rint(index))


def test_presets_header_first_then_fixed(model: ViewerModel) -> None:
    assert (model.window.width, model.window.center) == (400, 40)
    assert model.apply_preset(2)
    assert (model.window.width, model.window.center) == (1500, -600)
    assert model.apply_preset(1)
    assert (model.window.width, model.window.center) == (400, 40)
    assert not model.apply_preset(3)


def test_drag_window_direction_is_configurable(model: ViewerModel) -> None:
    before = model.window
    model.drag_window(10, 0)
    assert model.window.width > before.width and model.window.center == before.center
    model.drag_window(-10, 0)
    model.drag_window(0, 10, invert_y=True)
    assert model.window.center < before.center


def test_zoom_pan_and_reset(model: ViewerModel) -> None:
    plane = model.plane(AXIAL, 400, 400)
    model.zoom(AXIAL, 2.0)
    assert model.plane(AXIAL, 400, 400).mm_per_pixel == pytest.approx(plane.mm_per_pixel / 2)
    model.pan(AXIAL, 10, 0)
    moved = model.plane(AXIAL, 400, 400)
    assert moved.patient_to_pixel(np.zeros(3))[0] == pytest.approx(200 - 0.5 + 10, abs=1e-6)
    model.reset()
    assert model.plane(AXIAL, 400, 400).mm_per_pixel == pytest.approx(plane.mm_per_pixel)


def test_plane_round_trip(model: ViewerModel) -> None:
    plane = model.plane(CORONAL, 300, 200)
    point = plane.pixel_to_patient(37.0, 120.0)
    assert plane.patient_to_pixel(point) == pytest.approx((37.0, 120.0))
    assert plane.distance_to_plane(point) == pytest.approx(0.0)


def test_corner_text_and_patient_hiding(model: ViewerModel) -> None:
    text = corner_text(model, AXIAL, 0.5)
    assert text["top_left"][0] == "Test Cube"
    assert text["top_right"][0].startswith("2024-01-02")
    assert text["bottom_left"][0] == f"Im {model.slice_index(AXIAL)[0] + 1}/64"
    assert text["bottom_right"][0].startswith("W 400  L 40")
    model.toggle_patient_text()
    assert corner_text(model, AXIAL, 0.5)["top_left"] == []


def test_scale_bar_is_a_round_length() -> None:
    assert scale_bar_mm(0.5, 400) == 20
    assert scale_bar_mm(1.0, 1000) == 200


def test_a_new_volume_resets_the_clipping_box_and_preset() -> None:
    presets = [{"name": "CT bone", "modality": "CT"}, {"name": "CT soft", "modality": "CT"}, {"name": "MIP"}]
    state = VolumeViewState(presets)
    state.set_modality("CT")
    state.set_preset(1)
    state.set_clip(2, 0.3, 0.6)
    events = []
    state.changed.connect(lambda: events.append(True))
    state.show_volume("MR")
    assert np.array_equal(state.clip, [[0, 1]] * 3) and state.preset_index == 0 and state.modality == "MR"
    assert events == [True]  # one event: the 3D view redraws once
