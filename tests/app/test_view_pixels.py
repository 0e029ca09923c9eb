"""Geometry through rendered pixels: the bright cube at patient left / posterior / superior must land on the
screen side radiologists expect in every view, whatever order the volume was stored in."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from tests.app.conftest import CUBE_LPS, cube_volume, rendered, save_artifact

STORAGE_ORDERS = {
    "lps": np.eye(3),
    "ras_stored": np.diag([-1.0, -1.0, 1.0]),  # NIfTI-like: columns towards R, rows towards A
    "feet_first": np.diag([1.0, 1.0, -1.0]),  # slices stacked head to feet
}
# (screen x side, screen y side) of the cube in each view: L is screen right in axial and coronal,
# P is screen bottom in axial and screen right in sagittal, S is screen top in coronal and sagittal.
EXPECTED = {"axial": ("right", "bottom"), "coronal": ("right", "top"), "sagittal": ("right", "top")}


def bright_centroid(rgb: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(rgb[..., 0] > 250)
    assert xs.size, "the bright cube is not on screen"
    return float(xs.mean()) / rgb.shape[1], float(ys.mean()) / rgb.shape[0]


@pytest.mark.parametrize("order", list(STORAGE_ORDERS))
def test_cube_lands_on_the_expected_side(window, qtbot, order: str) -> None:
    window.show_volume(cube_volume(STORAGE_ORDERS[order]))
    window.model.set_crosshair(CUBE_LPS)
    for name, (x_side, y_side) in EXPECTED.items():
        x, y = bright_centroid(rendered(window.grid.view(name)))
        assert (x > 0.5) == (x_side == "right"), f"{name}: cube at x={x:.2f}"
        assert (y > 0.5) == (y_side == "bottom"), f"{name}: cube at y={y:.2f}"
    if order == "ras_stored":
        save_artifact(window, "cube_1x3.png")


def test_window_presets_change_pixels_as_expected(window, qtbot) -> None:
    window.show_volume(cube_volume())
    view = window.grid.view("axial")
    view.setFocus()
    centre = view.height() // 2, view.width() // 2  # inside the 40 HU ball
    qtbot.keyClick(view, Qt.Key_1)
    assert rendered(view)[centre][0] == pytest.approx(127, abs=2)  # W400/L40: 40 HU is mid-grey
    qtbot.keyClick(view, Qt.Key_2)  # lung 1500/-600: 40 HU is bright
    assert (window.model.window.width, window.model.window.center) == (1500, -600)
    assert rendered(view)[centre][0] == pytest.approx((40 + 600 + 750) / 1500 * 255, abs=2)
    qtbot.keyClick(view, Qt.Key_4)  # bone 2000/400: 40 HU is below mid-grey
    assert rendered(view)[centre][0] == pytest.approx((40 - 400 + 1000) / 2000 * 255, abs=2)
    qtbot.keyClick(view, Qt.Key_I)
    assert rendered(view)[centre][0] == pytest.approx(255 - (40 - 400 + 1000) / 2000 * 255, abs=2)


def test_shortcuts_trigger_their_commands(window, qtbot) -> None:
    model = window.model
    window.show_volume(cube_volume())
    view = window.grid.view("axial")
    view.setFocus()
    start = model.slice_index("axial")[0]
    qtbot.keyClick(view, Qt.Key_Down)
    assert model.slice_index("axial")[0] == start + 1
    qtbot.keyClick(view, Qt.Key_Up)
    qtbot.keyClick(view, Qt.Key_Up)
    assert model.slice_index("axial")[0] == start - 1
    qtbot.keyClick(view, Qt.Key_Home)
    assert model.slice_index("axial")[0] == 0
    qtbot.keyClick(view, Qt.Key_End)
    assert model.slice_index("axial")[0] == 63
    qtbot.keyClick(view, Qt.Key_Space)
    assert model.slice_index("axial")[0] in (31, 32)
    qtbot.keyClick(view, Qt.Key_C)
    assert window.cine.isActive()
    qtbot.keyClick(view, Qt.Key_C)
    assert not window.cine.isActive()
    qtbot.keyClick(view, Qt.Key_M)
    assert model.tool == "ruler"
    qtbot.keyClick(window, Qt.Key_Escape)
    assert model.tool == "window_level"
    qtbot.keyClick(window, Qt.Key_H, Qt.ControlModifier)
    assert not model.show_patient_text


def test_mouse_wheel_drag_and_double_click(window, qtbot) -> None:
    model = window.model
    window.show_volume(cube_volume())
    view = window.grid.view("axial")
    start = model.slice_index("axial")[0]
    centre = QPoint(view.width() // 2, view.height() // 2)
    before = model.window
    qtbot.mousePress(view, Qt.LeftButton, pos=centre)
    qtbot.mouseMove(view, centre + QPoint(40, 0))
    qtbot.mouseRelease(view, Qt.LeftButton, pos=centre + QPoint(40, 0))
    assert model.window.width > before.width
    scale = model.cameras["axial"].mm_per_pixel
    qtbot.mousePress(view, Qt.RightButton, pos=centre)
    qtbot.mouseMove(view, centre + QPoint(0, -40))
    qtbot.mouseRelease(view, Qt.RightButton, pos=centre + QPoint(0, -40))
    assert model.cameras["axial"].mm_per_pixel < scale
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent

    wheel = QWheelEvent(QPointF(centre), QPointF(view.mapToGlobal(centre)), QPoint(0, 0), QPoint(0, -120),
                        Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    view.wheelEvent(wheel)
    assert model.slice_index("axial")[0] == start + 1
    qtbot.mouseDClick(view, Qt.LeftButton, pos=centre)
    assert window.grid.shown() == ["axial"]
    qtbot.mouseDClick(view, Qt.LeftButton, pos=centre)
    assert window.grid.shown() == ["axial", "coronal", "sagittal"]


def test_shift_move_crosshair_moves_every_view_to_the_point(window, qtbot) -> None:
    model = window.model
    window.show_volume(cube_volume())
    axial = window.grid.view("axial")
    rendered(axial)
    x, y = axial.plane.patient_to_pixel(CUBE_LPS)
    qtbot.mouseMove(axial, QPoint(round(x), round(y)))
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QMouseEvent

    screen = QPointF(axial.mapToGlobal(QPoint(round(x), round(y))))
    move = QMouseEvent(QMouseEvent.MouseMove, QPointF(x, y), screen, Qt.NoButton, Qt.NoButton,
                       Qt.ShiftModifier)
    axial.mouseMoveEvent(move)
    assert model.crosshair[:2] == pytest.approx(CUBE_LPS[:2], abs=1.5)
    model.set_slice("axial", model.slice_index("axial")[0])
    for name in ("coronal", "sagittal"):
        view = window.grid.view(name)
        rgb = rendered(view)
        assert (rgb[..., 0] > 250).any(), f"{name} does not show the cube after the crosshair moved"
        cx, cy = view.plane.patient_to_pixel(model.crosshair)
        assert rgb[int(cy), int(cx), 0] > 250 or abs(view.plane.distance_to_plane(CUBE_LPS)) < 2


def test_layouts_and_3d_view(window, qtbot) -> None:
    window.show_volume(cube_volume())
    window.registry.run("layout.2x2")
    assert window.grid.shown() == ["axial", "coronal", "sagittal", "3d"]
    qtbot.wait(50)
    canvas = window.grid.view("3d").canvas
    canvas.repaint()
    assert canvas.last_rgb is not None and canvas.last_rgb.max() > 0

    def bone_pixels() -> int:  # the 1000 HU cube renders near-white in the CT bone preset
        canvas.repaint()
        return int(np.all(canvas.last_rgb > 180, axis=-1).sum())

    shown = bone_pixels()
    window.volume_state.set_clip(0, 0.6, 1.0)  # keep the patient's left, where the cube is
    assert bone_pixels() == pytest.approx(shown, rel=0.2)
    window.volume_state.set_clip(0, 0.0, 0.4)  # cut it away
    assert bone_pixels() < shown * 0.1
    window.volume_state.reset_clip()
    save_artifact(window, "cube_2x2.png")
    window.registry.run("layout.1x1")
    assert window.grid.shown() == ["axial"]


def test_window_menu_and_corner_name_the_presets(window, qtbot) -> None:
    from app.viewer_model.window_presets import preset_label

    assert preset_label({"name": "Lung", "width": 1500, "center": -600}) == "Lung 1500/\u2212600"
    assert preset_label({"name": "Default (header)", "source": "default"}) == "Default (header)"
    window.show_volume(cube_volume())
    texts = [window.actions_by_id[f"window.preset_{n}"].text() for n in range(1, 8)]
    assert texts[:3] == ["Default (header)", "Lung 1500/\u2212600", "Mediastinum 350/50"]
    assert "Window preset" not in " ".join(texts)
    view = window.grid.view("axial")
    view.setFocus()
    qtbot.keyClick(view, Qt.Key_2)
    rendered(view)
    _, _, corners = view.text_layout()
    assert "Lung" in [text.text for text in corners]
    window.model.drag_window(10, 0)  # dragged away from the preset: its name goes
    _, _, corners = view.text_layout()
    assert "Lung" not in [text.text for text in corners]
    window.show_volume(cube_volume(modality="MR"))
    assert window.actions_by_id["window.preset_2"].text() == "Auto (0.5-99.5 %)"
    assert not window.actions_by_id["window.preset_3"].isEnabled()
