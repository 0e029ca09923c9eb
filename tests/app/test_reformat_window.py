"""Reformats in the window, as a reader uses them: thick-slab MIP from the keyboard with its corner text, the
crosshair lines turned by Ctrl+drag (the other views follow), and the magnifier glass held on a key.
Screenshots go to tests/artifacts/ (slab_mip_1x3.png, oblique_mpr_1x3.png, magnifier.png)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent

from app.viewer_model.orientation import AXIAL, CORONAL, SAGITTAL
from engine.geometry import Geometry
from engine.volume import SourceIds, Volume
from tests.app.conftest import rendered, save_artifact
from tests.app.test_image_regression import to_rgb as rgb

NODULES = [(-30.0, 10.0, -6.0), (25.0, -15.0, 4.5), (5.0, 30.0, 8.0)]  # LPS mm; the plain slice is at z = 0


def lung_phantom() -> Volume:
    """A 'lung' CT: air-filled chest (-850 HU) in soft tissue, 1.5 mm slices, three 4 mm nodules (60 HU) at
    different heights, none in the middle slice."""
    shape, spacing = (41, 128, 128), (0.8, 0.8, 1.5)
    origin = (-(128 - 1) / 2 * 0.8, -(128 - 1) / 2 * 0.8, -20 * 1.5)
    geometry = Geometry(shape, spacing, origin)
    zyx = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1).reshape(-1, 3)
    lps = geometry.voxel_to_patient(zyx).reshape(*shape, 3)
    radius = np.hypot(lps[..., 0] / 45, lps[..., 1] / 38)
    array = np.where(radius < 1, -850, 40).astype(np.int16)
    array[np.hypot(lps[..., 0] / 50, lps[..., 1] / 43) >= 1] = -1000
    for nodule in NODULES:
        array[np.linalg.norm(lps - np.array(nodule), axis=-1) <= 2.0] = 60
    meta = {"patient": {"PatientName": "Slab^Phantom", "PatientID": "S1"}, "description": "lung phantom",
            "window": (-600.0, 1500.0)}
    return Volume(array, geometry, "CT", SourceIds("1.9", "1.9.1", "1.9.2"), meta)


def bright(rgb: np.ndarray) -> int:
    return int((rgb[..., 0] > 180).sum())


def test_thick_slab_mip_from_the_keyboard(window, qtbot) -> None:
    window.show_volume(lung_phantom())
    window.model.set_crosshair(np.zeros(3))
    view = window.grid.view(AXIAL)
    view.setFocus()
    window.model.active_view = AXIAL
    plain = bright(rendered(view))
    qtbot.keyClick(view, Qt.Key_M, Qt.ShiftModifier)  # MIP, 10 mm
    assert window.model.slabs.get(AXIAL).label() == "MIP 10.0 mm"
    ten = bright(rendered(view))
    qtbot.keyClick(view, Qt.Key_Up, Qt.ShiftModifier)
    qtbot.keyClick(view, Qt.Key_Up, Qt.ShiftModifier)  # 15, 20 mm
    assert window.model.slabs.get(AXIAL).label() == "MIP 20.0 mm"
    twenty = bright(rendered(view))
    assert plain < ten < twenty  # the slab gathers the nodules: two within 10 mm, all three within 20 mm
    _, _, corners = view.text_layout()
    assert "MIP 20.0 mm" in [text.text for text in corners]
    assert not window.model.slabs.get(CORONAL).active  # per view
    save_artifact(window.grid, "slab_mip_1x3.png")
    qtbot.keyClick(view, Qt.Key_X, Qt.ShiftModifier)
    assert not window.model.slabs.get(AXIAL).active and bright(rendered(view)) == plain


def _drag(view, qtbot, start: QPoint, end: QPoint, modifiers) -> None:
    qtbot.mousePress(view, Qt.LeftButton, modifiers, pos=start)
    for t in np.linspace(0, 1, 8)[1:]:
        point = QPointF(start.x() + t * (end.x() - start.x()), start.y() + t * (end.y() - start.y()))
        view.mouseMoveEvent(QMouseEvent(QMouseEvent.MouseMove, point, QPointF(view.mapToGlobal(point.toPoint())),
                                        Qt.LeftButton, Qt.LeftButton, modifiers))
    qtbot.mouseRelease(view, Qt.LeftButton, modifiers, pos=end)


def test_ctrl_drag_turns_the_other_views(window, qtbot) -> None:
    window.show_volume(lung_phantom())
    model = window.model
    model.set_crosshair(np.zeros(3))
    view = window.grid.view(AXIAL)
    rendered(view)
    cx, cy = (round(v) for v in view.plane.patient_to_pixel(model.crosshair))
    before_axial, crosshair = model.axes(AXIAL).right.copy(), model.crosshair.copy()
    before_coronal = rendered(window.grid.view(CORONAL))
    # from the right end of the horizontal line to 30 degrees below it (clockwise on screen)
    start, end = QPoint(cx + 80, cy), QPoint(cx + round(80 * np.cos(np.radians(30))),
                                              cy + round(80 * np.sin(np.radians(30))))
    _drag(view, qtbot, start, end, Qt.ControlModifier)
    coronal = model.axes(CORONAL)
    angle = np.degrees(np.arccos(abs(coronal.normal @ np.array([0.0, 1.0, 0.0]))))
    assert abs(angle - 30) < 1.5
    np.testing.assert_allclose(model.axes(AXIAL).right, before_axial)  # the dragged view itself stays
    np.testing.assert_array_equal(model.crosshair, crosshair)
    assert not np.array_equal(rendered(window.grid.view(CORONAL)), before_coronal)
    assert model.oblique.is_oblique(SAGITTAL, model.volume.geometry)
    save_artifact(window.grid, "oblique_mpr_1x3.png")
    view.setFocus()
    qtbot.keyClick(view, Qt.Key_Space, Qt.ShiftModifier)  # back to the standard planes
    assert not model.oblique.is_oblique(CORONAL, model.volume.geometry)


def test_magnifier_shows_while_its_key_is_held(window, qtbot) -> None:
    window.show_volume(lung_phantom())
    window.model.set_layout("1x1")
    model = window.model
    model.set_crosshair(np.array(NODULES[1][:2] + (NODULES[1][2],)))
    view = window.grid.view(AXIAL)
    qtbot.waitUntil(view.isVisible)
    view.setFocus()
    model.active_view = AXIAL
    rendered(view)
    x, y = (round(v) for v in view.plane.patient_to_pixel(np.array(NODULES[1])))
    qtbot.mouseMove(view, QPoint(x, y))
    view._cursor = QPointF(x, y)
    qtbot.keyPress(view, Qt.Key_Z)
    assert view.magnifier_on
    glass = view.magnifier_plane()
    assert glass.mm_per_pixel * 3 == view.plane.mm_per_pixel
    np.testing.assert_allclose(glass.pixel_to_patient((glass.width - 1) / 2, (glass.height - 1) / 2),
                               view.plane.pixel_to_patient(x, y))
    half = min(100, round(2.7 * 2.0 / view.plane.mm_per_pixel))  # 2.7 nodule radii around it

    def white() -> int:
        shot = rgb(view.grab().toImage())
        return int((shot[y - half:y + half + 1, x - half:x + half + 1, 0] > 200).sum())

    inset_white = white()
    save_artifact(view, "magnifier.png")
    wheel = QWheelEvent(QPointF(x, y), QPointF(view.mapToGlobal(QPoint(x, y))), QPoint(0, 0), QPoint(0, 120),
                        Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    slice_before = model.slice_index(AXIAL)
    view.wheelEvent(wheel)
    assert view.magnifier_zoom() == 3.5 and model.slice_index(AXIAL) == slice_before  # zooms the glass only
    qtbot.keyRelease(view, Qt.Key_Z)
    assert not view.magnifier_on
    plain_white = white()
    assert inset_white > 3 * plain_white > 0  # the 4 mm nodule, 3 times larger in the glass


def test_sagittal_series_opens_in_the_sagittal_view(window, qtbot) -> None:
    # columns towards P, rows towards I, slices stacked along L: a sagittal acquisition (spine MR)
    direction = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    shape, spacing = (16, 64, 48), (1.0, 1.0, 3.0)
    geometry = Geometry(shape, spacing, (-24.0, -24.0, 32.0), direction)
    array = np.zeros(shape, np.int16)
    array[:, 10:54, 20:28] = 800  # a vertical 'spine' column in every sagittal slice
    window.model.set_layout("1x1")
    window.show_volume(Volume(array, geometry, "MR", SourceIds("2.1", "2.1.1", "2.1.2"), {"description": "sag T2"}))
    assert window.model.active_view == SAGITTAL
    assert window.grid.shown() == [SAGITTAL]
    view = window.grid.view(SAGITTAL)
    qtbot.waitUntil(view.isVisible)
    image = rendered(view)
    assert (image[..., 0] > 200).sum() > 1000  # the acquired slice: the column is there, not a reformat across it
    _, _, corners = view.text_layout()
    assert "Im 9/16" in [text.text for text in corners]  # steps through the 16 acquired slices
    save_artifact(view, "sagittal_native_1x1.png")
