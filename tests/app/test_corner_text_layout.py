"""Corner text, orientation letters and the scale bar never overlap, even in narrow 1x3 views: long lines
are elided with "…" (Weasis / OHIF style) and dropped only when not even a few characters fit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from app.render.scene import Scene
from app.settings.preferences import DictStore, Preferences
from app.viewer_model.model import ViewerModel
from app.widgets.slice_view import SliceView
from tests.app.conftest import cube_volume, save_artifact

LONG_META = {
    "patient": {"PatientName": "Vandenberghe-Oosterhuis^Alexandra Maria Theresa", "PatientID": "PAT-000123456789",
                "PatientBirthDate": "19480229", "PatientSex": "F"},
    "study": {"StudyDate": "20240102", "StudyDescription": "CT THORAX ABDOMEN PELVIS WITH CONTRAST TRIPHASIC"},
    "description": "ARTERIAL PHASE 1.0 mm B30f soft tissue reconstruction",
    "window": (40.0, 400.0),
}


def text_boxes(view: SliceView) -> list[tuple[str, object]]:
    letters, bar, corners = view.text_layout()
    return ([(f"letter {edge}", text.rect) for edge, text in letters.items()] + [("scale bar", bar.rect)]
            + [(text.text, text.rect) for text in corners])


def long_text_view(qtbot, width: int, height: int, view_name: str = "axial") -> SliceView:
    volume = cube_volume()
    volume.meta.update(LONG_META)
    model = ViewerModel()
    model.set_volume(volume)
    view = SliceView(model, Scene(model), view_name, Preferences(DictStore()).get("mouse_map"))
    qtbot.addWidget(view)
    view.resize(width, height)
    view.show()
    qtbot.waitExposed(view)
    view.render_frame()
    return view


@pytest.mark.parametrize("width", [450, 300, 160])
def test_no_text_overlaps_in_narrow_views(qtbot, width: int) -> None:
    for name in ("axial", "sagittal"):
        view = long_text_view(qtbot, width, 700, name)
        boxes = text_boxes(view)
        for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
            assert not box_a.intersects(box_b), f"{width}px {name}: {a!r} overlaps {b!r}"
        for text, box in boxes:
            assert 0 <= box.left() and box.right() <= width + 1, f"{text!r} leaves the view"


def test_long_lines_are_elided_short_ones_kept(qtbot) -> None:
    view = long_text_view(qtbot, 450, 700)
    texts = [text.text for text in view.text_layout()[2]]
    assert any(text.startswith("Vandenberghe") and text.endswith("…") for text in texts)
    assert any(text.startswith("2024-01-02 CT THORAX") and text.endswith("…") for text in texts)
    for kept in ("ID PAT-000123456789", "W 400  L 40", "1948-02-29 F"):
        assert kept in texts
    assert any(text.startswith("Im ") and text.endswith("/64") for text in texts)
    wide = long_text_view(qtbot, 1600, 700)
    assert not any(text.text.endswith("…") for text in wide.text_layout()[2])
    save_artifact(view, "corner_text_450px.png")


def test_main_window_1x3_views_have_no_overlapping_text(window, qtbot) -> None:
    volume = cube_volume()
    volume.meta.update(LONG_META)
    window.show_volume(volume)
    qtbot.wait(20)
    for name in ("axial", "coronal", "sagittal"):
        view = window.grid.view(name)
        view.render_frame()
        assert view.width() < 500
        boxes = text_boxes(view)
        for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
            assert not box_a.intersects(box_b), f"{name}: {a!r} overlaps {b!r}"
    save_artifact(window, "corner_text_1x3.png")


def test_unknown_pixel_spacing_is_said_and_no_scale_bar_or_mm_is_shown(qtbot) -> None:
    from app.viewer_model.measurements import Measurement, measure

    volume = cube_volume()
    volume.meta.update(LONG_META, pixel_spacing_source="assumed")
    model = ViewerModel()
    model.set_volume(volume)
    view = SliceView(model, Scene(model), "axial", Preferences(DictStore()).get("mouse_map"))
    qtbot.addWidget(view)
    view.resize(600, 500)
    view.show()
    qtbot.waitExposed(view)
    view.render_frame()
    letters, bar, corners = view.text_layout()
    assert bar is None and "spacing unknown" in [text.text for text in corners]
    ruler = measure(volume, Measurement("ruler", "axial", [np.zeros(3), np.array([3.0, 4.0, 0.0])]))
    assert ruler.summary() == "5.0 px"
    view.render_frame()
    save_artifact(view, "spacing_unknown.png")
    volume.meta["pixel_spacing_source"] = "PixelSpacing"
    assert view.text_layout()[1] is not None and measure(volume, ruler).summary() == "5.0 mm"
