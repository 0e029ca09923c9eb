"""The fast slice path (RGB32 frame, 16-bit window table, overlays blended only in their screen rectangle,
integer blending, cached reslices) draws what the straightforward full-frame float computation draws."""

from __future__ import annotations

import numpy as np
import pytest

from app.render.blend import BlendTables, blend_indexed
from app.render.colormaps import colormap
from app.render.frame import Frame
from app.render.overlay_box import nonzero_box, screen_rect
from app.render.reslice import PlaneReslice
from app.render.slice_renderer import SliceRenderer
from app.render.vtk_image import VtkImage
from app.render.windowing import window_into
from app.viewer_model.layers import HeatmapLayer, LabelLayer
from app.viewer_model.model import ViewerModel
from engine.volume import Heatmap, Label, LabelMap
from engine.window_level import Window, apply_window
from tests.app.conftest import CUBE_LPS, cube_volume

OBLIQUE = np.array([[0.8, -0.6, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, 1.0]])


def test_integer_blend_matches_the_float_formula() -> None:
    rng = np.random.default_rng(1)
    frame = Frame()
    frame.resize(40, 30)
    frame.rgb[...] = rng.integers(0, 256, (30, 40, 3))
    before = frame.rgb.astype(float)
    colors = rng.integers(0, 256, (5, 3)).astype(np.uint8)
    alpha = np.array([0, 64, 128, 200, 256])
    index = rng.integers(0, 5, (30, 40)).astype(np.uint8)
    blend_indexed(frame.pixels, index, BlendTables.from_colors(colors, alpha))
    a = (alpha / 256)[index][..., None]
    expected = before * (1 - a) + colors[index] * a
    assert np.abs(frame.rgb - expected).max() <= 1
    assert (frame.pixels >> 24 == 0xFF).all()  # stays opaque


def test_window_into_packs_the_engine_grey_levels() -> None:
    values = np.array([[-1000, -160, 40], [240, 1000, 3000]], np.int16)
    for invert in (False, True):
        out = np.zeros(values.shape, np.uint32)
        window_into(values, Window(400, 40), invert, out)
        grey = apply_window(values, Window(400, 40), invert)
        assert ((out >> 16) & 0xFF).tolist() == grey.tolist() == ((out >> 8) & 0xFF).tolist()
        floats = np.zeros(values.shape, np.uint32)
        window_into(values.astype(np.float32), Window(400, 40), invert, floats)
        assert np.abs((floats & 0xFF).astype(int) - grey).max() <= 1


def test_nonzero_box_and_its_rectangle_on_a_plane() -> None:
    array = np.zeros((10, 20, 30), np.uint8)
    assert nonzero_box(array) is None
    array[2:4, 5:9, 11:12] = 3
    box = nonzero_box(array)
    assert box.tolist() == [[11, 11], [5, 8], [2, 3]]  # rows x, y, z
    assert nonzero_box(np.pad(np.ones((2, 3)), 1)).tolist() == [[1, 3], [1, 2], [0, 0]]
    volume = cube_volume()
    model = ViewerModel()
    model.set_volume(volume)
    plane = model.plane("axial", 200, 200)
    affine = volume.geometry.affine
    assert screen_rect(box, affine, plane, 0.5) is None  # the axial plane through the centre misses z 2..3
    model.set_slice("axial", 3)
    x0, x1, y0, y1 = screen_rect(box, affine, model.plane("axial", 200, 200), 0.5)
    assert x0 < x1 and y0 < y1 and (x1 - x0) < 10


def test_reslice_is_cached_until_the_plane_or_the_pixels_change() -> None:
    volume = cube_volume()
    model = ViewerModel()
    model.set_volume(volume)
    image = VtkImage(volume.array, volume.geometry)
    reslice = PlaneReslice(image)
    plane = model.plane("axial", 64, 64)
    first = reslice.sample(plane)
    assert reslice.sample(plane) is first
    volume.array[...] = 7
    image.modified()
    assert (reslice.sample(plane)[8:-8, 8:-8] == 7).all()
    model.step_slice("axial", 1)
    assert reslice.sample(model.plane("axial", 64, 64)) is not first


def reference_render(volume, plane, window, label_layer, heat_layer) -> np.ndarray:
    """Full-frame reslices and float blending: what the fast path must reproduce."""
    grey = apply_window(PlaneReslice(VtkImage(volume.array, volume.geometry), background=-1024).sample(plane),
                        window).astype(float)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    values = PlaneReslice(VtkImage(heat_layer.heatmap.array, volume.geometry)).sample(plane)
    shown = values >= heat_layer.threshold
    codes = np.clip(np.rint(values * 255), 0, 255).astype(int)
    a = heat_layer.opacity
    rgb[shown] = rgb[shown] * (1 - a) + colormap(heat_layer.colormap)[codes[shown]] * a
    labels = PlaneReslice(VtkImage(label_layer.label_map.array, volume.geometry), "nearest").sample(plane)
    drawn = labels > 0
    a = label_layer.opacity
    rgb[drawn] = rgb[drawn] * (1 - a) + np.array(label_layer.colors[1]) * a
    return rgb


@pytest.mark.parametrize("direction", [np.eye(3), np.diag([-1.0, -1.0, 1.0]), OBLIQUE], ids=["lps", "ras", "oblique"])
def test_fast_overlays_match_the_full_frame_reference(direction) -> None:
    volume = cube_volume(direction)
    labels = (volume.array == 1000).astype(np.uint8)
    heat = np.where(volume.array == 40, 0.6, 0.0).astype(np.float32)
    label_layer = LabelLayer(LabelMap(labels, volume.geometry, [Label(1, "cube", (255, 0, 0))]), opacity=0.7)
    heat_layer = HeatmapLayer(Heatmap(heat, volume.geometry), opacity=0.4, threshold=0.3)
    model = ViewerModel()
    model.set_volume(volume)
    model.set_crosshair(CUBE_LPS)
    renderer = SliceRenderer(VtkImage(volume.array, volume.geometry), volume)
    for view in ("axial", "coronal", "sagittal"):
        plane = model.plane(view, 180, 150)
        fast = renderer.render(plane, model.window, False, [heat_layer, label_layer]).rgb.astype(float)
        expected = reference_render(volume, plane, model.window, label_layer, heat_layer)
        assert np.abs(fast - expected).max() <= 2, view
        assert (fast[..., 0] > fast[..., 1] + 100).any(), f"{view}: the red label is not drawn"
