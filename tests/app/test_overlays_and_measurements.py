"""Overlay layers render where their voxels are; measurements return known values; docks bind to the model."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from app.viewer_model.layers import HeatmapLayer, LabelLayer, Marker, MarkerLayer
from engine.measurements import distance_mm, probe, roi_area_mm2, roi_statistics
from engine.volume import Heatmap, Label, LabelMap
from engine.window_level import Window, apply_window, default_window, header_window, percentile_window
from tests.app.conftest import CUBE_LPS, cube_volume, rendered, save_artifact


def cube_overlays(volume):
    labels = np.zeros(volume.array.shape, np.uint8)
    labels[volume.array == 1000] = 1
    label_map = LabelMap(labels, volume.geometry, [Label(1, "cube", (255, 0, 0))])
    heat = np.zeros(volume.array.shape, np.float32)
    heat[volume.array == 40] = 0.9
    return LabelLayer(label_map, "cube labels", opacity=1.0), HeatmapLayer(Heatmap(heat, volume.geometry))


def test_window_level_math() -> None:
    assert header_window({"window": (40.0, 400.0)}) == Window(400, 40)
    assert header_window({"WindowWidth": "350\\400", "WindowCenter": ["50", "40"]}) == Window(350, 50)
    assert header_window({}) is None
    values = np.array([-160, 40, 240], np.int16)
    assert apply_window(values, Window(400, 40)).tolist() == [0, 127, 255]
    assert apply_window(values.astype(np.float32), Window(400, 40), invert=True).tolist() == [255, 128, 0]
    ramp = np.arange(1000, dtype=np.float32)
    window = percentile_window(ramp)
    assert window.low == pytest.approx(5, abs=1) and window.high == pytest.approx(994, abs=1)
    assert default_window(ramp, {}) == window


def test_roi_statistics_on_known_regions() -> None:
    volume = cube_volume()
    axes = np.eye(3)
    stats = roi_statistics(volume, np.zeros(3), axes[0], axes[1], 20, 20, "ellipse")
    assert (stats.mean, stats.sd, stats.unit) == (40.0, 0.0, "HU")
    assert stats.area_mm2 == pytest.approx(np.pi * 400)
    assert stats.n_voxels == pytest.approx(np.pi * 100, rel=0.1)  # 2 mm voxels
    cube = roi_statistics(volume, CUBE_LPS, axes[0], axes[1], 5, 5, "rectangle")
    assert (cube.mean, cube.minimum, cube.maximum) == (1000.0, 1000.0, 1000.0)
    assert roi_area_mm2("rectangle", 5, 5) == 100
    noisy = volume.array.astype(np.int16) + np.random.default_rng(0).normal(0, 10, volume.array.shape).astype(
        np.int16)
    volume.array = noisy
    stats = roi_statistics(volume, np.zeros(3), axes[0], axes[1], 20, 20, "ellipse")
    assert stats.mean == pytest.approx(40, abs=2) and stats.sd == pytest.approx(10, abs=2)


def test_probe_and_distance() -> None:
    volume = cube_volume()
    value, index = probe(volume, CUBE_LPS)
    assert value == 1000 and np.allclose(volume.voxel_to_patient(index), CUBE_LPS, atol=1.0)
    assert probe(volume, np.array([500.0, 0, 0])) is None
    assert distance_mm(np.zeros(3), np.array([3.0, 4.0, 0.0])) == 5.0


def test_overlays_render_where_their_voxels_are(window, qtbot) -> None:
    volume = cube_volume()
    window.show_volume(volume)
    labels, heat = cube_overlays(volume)
    model = window.model
    model.add_layer(heat)
    model.add_layer(labels)
    model.add_layer(MarkerLayer([Marker(tuple(CUBE_LPS), "finding 1", size=(14.0, 14.0, 14.0))]))
    model.set_crosshair(CUBE_LPS - 1.0)  # voxel centres at 39 mm: slices through the cube and the ball
    for name in ("axial", "coronal", "sagittal"):
        view = window.grid.view(name)
        rgb = rendered(view).astype(int)
        red = (rgb[..., 0] > 200) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60)
        assert red.any(), f"{name}: label map not drawn"
        x, y = view.plane.patient_to_pixel(CUBE_LPS)
        ys, xs = np.nonzero(red)
        assert abs(xs.mean() - x) < 4 and abs(ys.mean() - y) < 4
        ball_x, ball_y = view.plane.patient_to_pixel(np.zeros(3))
        tinted = rgb[round(ball_y), round(ball_x)]
        assert len(set(tinted.tolist())) > 1  # the heatmap colours the grey ball
    save_artifact(window, "overlays_1x3.png")
    axial = window.grid.view("axial")
    labels.style = "outline"
    outline = rendered(axial)
    labels.visible = False
    hidden = rendered(axial)
    assert not ((hidden[..., 0] > 200) & (hidden[..., 1] < 60)).any()
    assert ((outline[..., 0] > 200) & (outline[..., 1] < 60)).sum() < red.sum() * 4
    dock = window.layers_dock
    assert dock.list.count() == 4 and dock.list.item(0).text().startswith("findings")
    dock.list.setCurrentRow(0)
    dock.remove.click()
    assert len(model.layers) == 3
    dock.list.setCurrentRow(1)  # the heatmap (layers are listed top first)
    dock.up.click()
    assert list(model.layers)[-1] is heat


def test_roi_drawn_with_the_mouse_lands_in_the_dock(window, qtbot) -> None:
    window.show_volume(cube_volume())
    view = window.grid.view("axial")
    view.setFocus()
    qtbot.keyClick(view, Qt.Key_O)  # ellipse tool
    rendered(view)
    centre = view.plane.patient_to_pixel(np.zeros(3))
    half = 15.0 / view.plane.mm_per_pixel
    start = QPoint(round(centre[0] - half), round(centre[1] - half))
    end = QPoint(round(centre[0] + half), round(centre[1] + half))
    qtbot.mousePress(view, Qt.LeftButton, pos=start)
    qtbot.mouseMove(view, end)
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QMouseEvent

    view.mouseMoveEvent(QMouseEvent(QMouseEvent.MouseMove, QPointF(end), QPointF(view.mapToGlobal(end)),
                                    Qt.LeftButton, Qt.LeftButton, Qt.NoModifier))
    qtbot.mouseRelease(view, Qt.LeftButton, pos=end)
    measurements = window.model.measurements.current
    assert len(measurements) == 1
    roi = measurements[0]
    assert roi.values["mean"] == pytest.approx(40.0) and roi.unit == "HU"
    assert roi.values["area_mm2"] == pytest.approx(np.pi * 15 * 15, rel=0.1)
    assert window.measurements_dock.list.count() == 1
    assert "mean 40.0 HU" in window.measurements_dock.list.item(0).text()
    save_artifact(window, "roi_axial.png")
    qtbot.keyClick(view, Qt.Key_Delete)
    assert window.model.measurements.current == []
