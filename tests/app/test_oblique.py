"""Oblique MPR geometry without a window: turning one view's crosshair lines turns the other planes about its
normal, the normals stay orthonormal, the crosshair's patient point stays, pixels map to the right voxels;
a sagittal or tilted acquisition opens in its own plane."""

from __future__ import annotations

import numpy as np
import pytest

from app.render.slice_renderer import SliceRenderer
from app.render.vtk_image import VtkImage
from app.viewer_model.corner_text import corner_text
from app.viewer_model.model import ViewerModel
from app.viewer_model.oblique import native_rotation, native_view, rotation
from app.viewer_model.orientation import AXIAL, CORONAL, MPR_ORIENTATIONS, SAGITTAL
from engine.geometry import Geometry
from engine.volume import Volume


def volume(direction: np.ndarray | None = None, shape=(30, 40, 50), spacing=(1.0, 1.2, 2.0)) -> Volume:
    rng = np.random.default_rng(1)
    geometry = Geometry(shape, spacing, (-20.0, -25.0, 10.0), np.eye(3) if direction is None else direction)
    return Volume(rng.integers(0, 1000, shape).astype(np.int16), geometry, "MR")


def model_on(vol: Volume) -> ViewerModel:
    model = ViewerModel({})
    model.set_volume(vol)
    return model


def normals(model: ViewerModel) -> np.ndarray:
    return np.stack([model.axes(name).normal for name in MPR_ORIENTATIONS])


def test_rotation_matrix_turns_about_its_axis() -> None:
    turn = rotation(np.array([0.0, 0.0, 1.0]), np.pi / 2)
    np.testing.assert_allclose(turn @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(turn.T @ turn, np.eye(3), atol=1e-12)


def test_turning_one_view_turns_the_others_about_its_normal() -> None:
    model = model_on(volume())
    crosshair = model.crosshair.copy()
    axial_before = model.axes(AXIAL)
    model.rotate_view(AXIAL, np.radians(30))
    axial = model.axes(AXIAL)
    np.testing.assert_allclose(axial.right, axial_before.right)  # the turning view's image stays
    np.testing.assert_allclose(axial.down, axial_before.down)
    coronal = model.axes(CORONAL)
    assert coronal.normal @ axial.normal == pytest.approx(0, abs=1e-12)
    assert coronal.normal @ np.array([0.0, 1.0, 0.0]) == pytest.approx(np.cos(np.radians(30)))
    assert model.oblique.is_oblique(CORONAL, model.volume.geometry)
    assert not model.oblique.is_oblique(AXIAL, model.volume.geometry)
    for _ in range(200):  # many small turns in every view: still orthonormal
        for name in MPR_ORIENTATIONS:
            model.rotate_view(name, 0.013)
    np.testing.assert_allclose(normals(model) @ normals(model).T, np.eye(3), atol=1e-9)
    for name in MPR_ORIENTATIONS:
        axes = model.axes(name)
        np.testing.assert_allclose([axes.right @ axes.right, axes.down @ axes.down, axes.right @ axes.down],
                                   [1, 1, 0], atol=1e-9)
    np.testing.assert_array_equal(model.crosshair, crosshair)


def test_crosshair_point_stays_under_the_crosshair_in_every_view() -> None:
    model = model_on(volume())
    point = model.crosshair.copy()
    model.rotate_view(CORONAL, np.radians(-20))
    model.rotate_view(AXIAL, np.radians(35))
    for name in MPR_ORIENTATIONS:
        plane = model.plane(name, 300, 200)
        assert plane.distance_to_plane(point) == pytest.approx(0, abs=1e-9)  # every plane goes through it
        x, y = plane.patient_to_pixel(point)
        np.testing.assert_allclose(plane.pixel_to_patient(x, y), point, atol=1e-9)


def test_oblique_pixels_show_the_voxels_at_their_patient_points() -> None:
    vol = volume()
    model = model_on(vol)
    model.rotate_view(AXIAL, np.radians(25))
    model.rotate_view(SAGITTAL, np.radians(15))
    renderer = SliceRenderer(VtkImage(vol.array, vol.geometry), vol)
    plane = model.plane(CORONAL, 120, 120)
    values = renderer.sample(plane)
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(200):
        x, y = rng.integers(0, 120, 2)
        voxel = vol.patient_to_voxel(plane.pixel_to_patient(x, y))
        nearest = np.rint(voxel).astype(int)
        if np.any(nearest < 1) or np.any(nearest >= np.array(vol.array.shape) - 1):
            continue
        low = vol.array[tuple(slice(i - 1, i + 2) for i in nearest)]  # linear interpolation stays in range
        assert low.min() <= values[y, x] <= low.max()
        checked += 1
    assert checked > 50


def test_crosshair_lines_follow_the_turn() -> None:
    model = model_on(volume())
    geometry = model.volume.geometry
    lines = dict(model.oblique.crosshair_lines(AXIAL, geometry))
    np.testing.assert_allclose(np.abs(lines[CORONAL]), [1, 0], atol=1e-12)  # horizontal before any turn
    model.rotate_view(AXIAL, np.radians(30))
    lines = dict(model.oblique.crosshair_lines(AXIAL, geometry))
    angle = np.degrees(np.arctan2(lines[CORONAL][1], lines[CORONAL][0])) % 180
    assert angle == pytest.approx(30, abs=1e-6)  # turned clockwise on screen by 30 degrees
    assert corner_text(model, CORONAL, 1.0)["bottom_left"][1].startswith("Obl ")
    assert corner_text(model, AXIAL, 1.0)["bottom_left"][1].startswith("Ax ")
    model.reset()
    assert not model.oblique.is_oblique(CORONAL, geometry)
    assert corner_text(model, CORONAL, 1.0)["bottom_left"][1].startswith("Cor ")


def test_sagittal_acquisition_opens_in_its_own_plane() -> None:
    # columns towards P (rows run anterior to posterior), rows towards I (head to feet), slices along L
    sagittal = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    vol = volume(sagittal, shape=(20, 64, 48), spacing=(0.8, 0.8, 3.0))
    assert native_view(vol.geometry) == SAGITTAL
    model = model_on(vol)
    assert model.active_view == SAGITTAL
    model.set_layout("1x1")
    assert model.views_in_layout() == (SAGITTAL,)
    assert model.slice_index(SAGITTAL)[1] == 20  # steps through the acquired slices
    np.testing.assert_allclose(model.axes(SAGITTAL).normal, [-1, 0, 0])  # standard planes: not tilted
    coronal = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
    assert native_view(volume(coronal).geometry) == CORONAL
    assert model_on(volume()).active_view == AXIAL


def test_tilted_acquisition_shows_its_acquired_slices() -> None:
    tilt = rotation(np.array([1.0, 0.0, 0.0]), np.radians(12))  # 12 degrees of gantry tilt
    vol = volume(tilt)
    turn = native_rotation(vol.geometry)
    np.testing.assert_allclose(turn, tilt, atol=1e-12)
    model = model_on(vol)
    np.testing.assert_allclose(model.axes(AXIAL).normal, vol.geometry.direction[:, 2], atol=1e-12)
    np.testing.assert_allclose(normals(model) @ normals(model).T, np.eye(3), atol=1e-12)
    model.set_slice(AXIAL, 7)
    renderer = SliceRenderer(VtkImage(vol.array, vol.geometry), vol)
    plane = model.plane(AXIAL, 200, 200)
    values = renderer.sample(plane)
    x, y = plane.patient_to_pixel(vol.voxel_to_patient(np.array([7.0, 20.0, 25.0])))
    assert 0 < values[round(y), round(x)] < 1000  # inside the volume, not the background
    corners = [vol.patient_to_voxel(plane.pixel_to_patient(px, py)) for px, py in ((0, 0), (199, 0), (0, 199))]
    np.testing.assert_allclose([c[0] for c in corners], 7.0, atol=1e-9)  # the whole view lies in slice 7
    assert not np.allclose(native_rotation(volume().geometry), tilt)
