"""Thick-slab MIP / MinIP / average without a window: slab width from mm and spacing, the numpy projection, and
the rendered values of every MPR view (axis-aligned through numpy, oblique as resliced planes reduced in numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from app.render.slice_renderer import SliceRenderer
from app.render.vtk_image import VtkImage
from app.viewer_model.corner_text import corner_text
from app.viewer_model.model import ViewerModel
from app.viewer_model.orientation import ViewAxes
from app.viewer_model.plane import SlicePlane
from app.viewer_model.slab import (
    MEAN,
    MINIP,
    MIP,
    Slab,
    SlabSettings,
    aligned_axis,
    normal_step_mm,
    project_slab,
    slab_range,
    slab_slice_count,
)
from engine.geometry import Geometry
from engine.volume import Volume

SHAPE = (40, 48, 56)  # z, y, x
SPACING = (0.8, 0.8, 2.5)  # x, y, z: 2.5 mm slices
DOT = (24, 20, 30)  # z, y, x of the bright dot: 4 slices (10 mm) above the middle slice 20


def phantom() -> Volume:
    rng = np.random.default_rng(3)
    array = rng.integers(-50, 50, SHAPE).astype(np.int16)
    array[DOT] = 3000
    array[DOT[0] - 8, DOT[1], DOT[2]] = -2000  # a dark voxel 8 slices below the dot (for MinIP)
    return Volume(array, Geometry(SHAPE, SPACING), "CT")


def model_on(volume: Volume) -> ViewerModel:
    model = ViewerModel({})
    model.set_volume(volume)
    return model


def test_slab_thickness_in_mm_converts_to_slices_with_the_spacing() -> None:
    geometry = Geometry(SHAPE, SPACING)
    axial, coronal = np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0])
    assert normal_step_mm(geometry, axial) == pytest.approx(2.5)
    assert normal_step_mm(geometry, coronal) == pytest.approx(0.8)
    assert slab_slice_count(20.0, 2.5) == 8
    assert slab_slice_count(20.0, 0.8) == 25
    assert slab_slice_count(1.0, 2.5) == 1  # thinner than a slice: the slice itself
    assert slab_range(20, 40, 8) == (17, 25)
    assert slab_range(20, 40, 9) == (16, 25)
    assert slab_range(1, 40, 9) == (0, 6)  # clipped at the stack's end
    assert aligned_axis(geometry, axial) == 0 and aligned_axis(geometry, coronal) == 1
    assert aligned_axis(geometry, np.array([0.0, 0.6, 0.8])) is None
    with pytest.raises(ValueError, match="thickness"):
        Slab(MIP, 0.0)


def test_projection_values_equal_the_reduction_of_the_slices() -> None:
    array = phantom().array
    mip = project_slab(array, 0, 17, 25, MIP)
    assert mip.shape == (1, 48, 56) and mip.dtype == np.int16
    assert mip[0, DOT[1], DOT[2]] == 3000  # the bright dot 4 slices off the centre is found
    np.testing.assert_array_equal(mip[0], array[17:25].max(axis=0))
    np.testing.assert_array_equal(project_slab(array, 0, 10, 25, MINIP)[0], array[10:25].min(axis=0))
    mean = project_slab(array, 1, 5, 30, MEAN)
    np.testing.assert_array_equal(mean[:, 0], np.rint(array[:, 5:30].astype(float).mean(axis=1)).astype(np.int16))
    with pytest.raises(ValueError, match="outside"):
        project_slab(array, 0, 30, 50, MIP)


def rendered_values(model: ViewerModel, view: str, slab: Slab | None) -> tuple[np.ndarray, SlicePlane]:
    """Values the renderer samples on ``view``'s plane, at 1 screen pixel per voxel of the slice."""
    volume = model.volume
    renderer = SliceRenderer(VtkImage(volume.array, volume.geometry), volume)
    plane = model.plane(view, 200, 200)
    return renderer.sample(plane, slab), plane


def test_axial_mip_finds_the_dot_the_plain_slice_misses() -> None:
    volume = phantom()
    model = model_on(volume)
    model.set_slice("axial", 20)
    plain, plane = rendered_values(model, "axial", None)
    dot = volume.voxel_to_patient(np.array(DOT, float))
    x, y = (round(v) for v in plane.patient_to_pixel(dot))
    assert plain.max() < 100
    assert rendered_values(model, "axial", Slab(MIP, 5.0))[0].max() < 100  # 2 slices: 19..20, not the dot
    mip, _ = rendered_values(model, "axial", Slab(MIP, 20.0))  # 8 slices 17..24
    peak_y, peak_x = np.unravel_index(int(np.argmax(mip)), mip.shape)
    assert mip.max() > 1500  # screen pixels fall between voxel centres: linear resampling spreads the peak
    assert abs(peak_x - x) <= 1 and abs(peak_y - y) <= 1  # where the dot is
    minip, _ = rendered_values(model, "axial", Slab(MINIP, 40.0))  # 16 slices 13..28 hold the dark voxel
    assert minip.min() < -1500 and rendered_values(model, "axial", Slab(MINIP, 20.0))[0].min() > -1100


def test_mean_slab_equals_the_mean_of_its_slices() -> None:
    volume = phantom()
    model = model_on(volume)
    model.set_slice("axial", 20)
    renderer = SliceRenderer(VtkImage(volume.array, volume.geometry), volume)
    # one screen pixel per voxel centre: the reslice then samples voxels without interpolation
    axes = model.axes("axial")
    origin = volume.voxel_to_patient(np.array([20.0, 0.0, 0.0]))
    plane = SlicePlane(origin, axes, 0.8, SHAPE[2], SHAPE[1])
    mean = renderer.sample(plane, Slab(MEAN, 20.0))
    expected = np.rint(volume.array[17:25].astype(float).mean(axis=0))
    np.testing.assert_array_equal(mean, expected)


@pytest.mark.parametrize("view", ["coronal", "sagittal"])
def test_reformatted_views_mip_over_their_own_normal(view: str) -> None:
    volume = phantom()
    model = model_on(volume)
    model.set_crosshair(volume.voxel_to_patient(np.array([20.0, DOT[1] - 3, DOT[2] - 3])))  # 3 voxels off the dot
    assert rendered_values(model, view, None)[0].max() < 100
    assert rendered_values(model, view, Slab(MIP, 8.0))[0].max() > 1500  # 10 voxels of 0.8 mm
    assert rendered_values(model, view, Slab(MIP, 3.0))[0].max() < 100  # 4 voxels: 1 short of the dot


def test_oblique_slab_uses_the_reslicer_and_finds_the_dot() -> None:
    volume = phantom()
    renderer = SliceRenderer(VtkImage(volume.array, volume.geometry), volume)
    dot = volume.voxel_to_patient(np.array(DOT, float))
    angle = np.radians(30)
    right = np.array([1.0, 0.0, 0.0])
    down = np.array([0.0, np.cos(angle), np.sin(angle)])
    axes = ViewAxes(right, down)
    origin_through = dot + 4.0 * axes.normal  # the plane passes 4 mm off the dot
    plane = SlicePlane(origin_through - 50 * right - 50 * down, axes, 1.0, 101, 101)
    assert aligned_axis(volume.geometry, axes.normal) is None
    assert renderer.sample(plane).max() < 100
    assert renderer.sample(plane, Slab(MIP, 12.0)).max() > 1000


def test_settings_per_view_and_corner_text() -> None:
    settings = SlabSettings()
    seen = []
    settings.changed.connect(seen.append)
    settings.set_mode("axial", MIP)
    settings.set_thickness("axial", 20.0)
    assert settings.get("axial") == Slab(MIP, 20.0) and not settings.get("coronal").active
    assert settings.get("axial").label() == "MIP 20.0 mm"
    settings.step_thickness("axial", 1)
    assert settings.get("axial").thickness_mm == 30.0
    settings.step_thickness("axial", -2)
    assert settings.get("axial").thickness_mm == 15.0
    settings.set_mode("axial", MIP)  # the same mode again: back to the slice
    assert not settings.get("axial").active
    settings.cycle_mode("coronal")
    assert settings.get("coronal").mode == MIP
    assert seen == ["axial"] * 5 + ["coronal"]
    model = model_on(phantom())
    model.slabs.set("axial", Slab(MINIP, 7.5))
    assert corner_text(model, "axial", 1.0)["bottom_left"][-1] == "MinIP 7.5 mm"
    assert "MinIP" not in " ".join(corner_text(model, "coronal", 1.0)["bottom_left"])


def _brute_force_slab(volume: Volume, plane: SlicePlane, thickness_mm: float, mode: str, background: float,
                      planes: int = 161) -> np.ndarray:
    """The slab by definition: ``planes`` planes evenly through the whole thickness, each sampled trilinearly
    with scipy, reduced per pixel."""
    from scipy.ndimage import map_coordinates

    ys, xs = np.mgrid[: plane.height, : plane.width]
    points = plane.origin + (xs[..., None] * plane.axes.right + ys[..., None] * plane.axes.down) * plane.mm_per_pixel
    samples = []
    for offset in np.linspace(-thickness_mm / 2, thickness_mm / 2, planes):
        voxels = volume.patient_to_voxel(points + offset * plane.axes.normal)
        samples.append(map_coordinates(volume.array, np.moveaxis(voxels, -1, 0), order=1, mode="constant",
                                       cval=background))
    reduce = {MIP: np.max, MINIP: np.min, MEAN: np.mean}[mode]
    return reduce(np.stack(samples), axis=0)


@pytest.mark.parametrize("mode", [MIP, MINIP, MEAN])
def test_oblique_slab_matches_a_brute_force_projection_while_scrolling(mode: str) -> None:
    """The oblique slab (single resliced planes, reused while scrolling) equals the slab projected through
    many planes with scipy, within what trilinear sampling at the voxel step can miss; a scrolled slab equals
    the same slab computed afresh."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(7)
    array = gaussian_filter(rng.normal(0, 400, SHAPE), (1.0, 3.0, 3.0)).astype(np.float32)
    array[DOT] += 300.0  # a sharp voxel: the MIP must find it
    volume = Volume(array, Geometry(SHAPE, SPACING), "CT")
    renderer = SliceRenderer(VtkImage(volume.array, volume.geometry), volume)
    angle = np.radians(35)
    right = np.array([np.cos(np.radians(10)), np.sin(np.radians(10)), 0.0])
    down = np.array([0.0, np.cos(angle), np.sin(angle)])
    down -= (down @ right) * right
    axes = ViewAxes(right, down / np.linalg.norm(down))
    assert aligned_axis(volume.geometry, axes.normal) is None
    centre = volume.voxel_to_patient((np.array(SHAPE, float) - 1) / 2)
    thickness, step = 8.0, normal_step_mm(volume.geometry, axes.normal)
    spread = float(np.ptp(array))
    slab = renderer._oblique
    resliced = []
    single = slab._reslice.sample
    slab._reslice.sample = lambda plane, rect=None: resliced.append(1) or single(plane, rect)
    vtk = SliceRenderer(VtkImage(volume.array, volume.geometry), volume)
    vtk.incremental_oblique_slab = False  # VTK's slab mode: the path it replaces
    # scrolling by the slice step (as the reader does), then a jump off the lattice, then the step again
    shifts = [-3 * step, -2 * step, -step, 0.0, 0.37, 0.37 + step]
    counts = []
    for shift_mm in shifts:
        through = centre + shift_mm * axes.normal
        plane = SlicePlane(through - 12 * right - 12 * axes.down, axes, 0.8, 31, 31)
        before = len(resliced)
        fast = renderer.sample(plane, Slab(mode, thickness))
        counts.append(len(resliced) - before)
        reference = _brute_force_slab(volume, plane, thickness, mode, -1024.0)
        error = np.abs(fast - reference)
        assert error.max() < 0.06 * spread and error.mean() < 0.02 * spread, (shift_mm, error.max(), spread)
        assert np.allclose(fast, vtk.sample(plane, Slab(mode, thickness)), atol=1e-3 * spread)
        fresh = SliceRenderer(VtkImage(volume.array, volume.geometry), volume).sample(plane, Slab(mode, thickness))
        assert np.array_equal(fast, fresh)
    slices = slab_slice_count(thickness, step)
    assert counts == [slices, 1, 1, 1, slices, 1]  # a step reslices the one plane that entered the slab
