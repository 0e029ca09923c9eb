"""Double-click in a 2D view maximises it under the navigation tools only: with an editing tool on, the
second click paints (or fills, picks) like the first and the layout stays; a measurement tool ignores it."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from app.viewer_model.orientation import AXIAL
from tests.app.conftest import cube_volume, rendered

SLICE = 20
ALL_VIEWS = ["axial", "coronal", "sagittal"]


@pytest.fixture
def axial(window, qtbot):
    """The focused axial view of the cube volume at slice 20, in the 1x3 layout."""
    window.show_volume(cube_volume())
    window.model.set_slice(AXIAL, SLICE)
    view = window.grid.view(AXIAL)
    view.setFocus()
    rendered(view)
    assert window.grid.shown() == ALL_VIEWS
    return view


def _pixel(view, voxel) -> QPoint:
    x, y = view.plane.patient_to_pixel(view.model.volume.geometry.voxel_to_patient(np.asarray(voxel, float)))
    return QPoint(round(x), round(y))


@pytest.mark.parametrize("tool", ["brush", "eraser", "threshold", "fill", "pick"])
def test_double_click_with_an_editing_tool_does_not_maximise(window, axial, qtbot, tool) -> None:
    window.editing.use_tool(tool)
    qtbot.mouseDClick(axial, Qt.LeftButton, pos=_pixel(axial, (SLICE, 40, 30)))
    assert window.grid.shown() == ALL_VIEWS and window.model.maximized is None


def test_double_click_with_the_brush_paints(window, axial, qtbot) -> None:
    window.editing.use_tool("brush")
    array = window.editing.editor.session.label_map.array
    qtbot.mouseDClick(axial, Qt.LeftButton, pos=_pixel(axial, (SLICE, 40, 30)))
    assert array[SLICE, 40, 30] == 1
    window.editing.editor.set_tool(None)  # the tool put down (Esc): navigation again
    qtbot.mouseDClick(axial, Qt.LeftButton, pos=_pixel(axial, (SLICE, 40, 30)))
    assert window.grid.shown() == ["axial"]


def test_double_click_maximises_under_navigation_tools_not_measurement_tools(window, axial, qtbot) -> None:
    centre = QPoint(axial.width() // 2, axial.height() // 2)
    window.model.set_tool("ruler")
    qtbot.mouseDClick(axial, Qt.LeftButton, pos=centre)
    assert window.grid.shown() == ALL_VIEWS
    window.model.set_tool("window_level")
    qtbot.mouseDClick(axial, Qt.LeftButton, pos=centre)
    assert window.grid.shown() == ["axial"]
    qtbot.mouseDClick(axial, Qt.LeftButton, pos=centre)
    assert window.grid.shown() == ALL_VIEWS
