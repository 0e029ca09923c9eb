"""The reader's work is kept, as a reader uses it: measurements of every kind drawn with the mouse, edited by a
handle, flagged key images, saved per series and back after reopening (never on another patient's series),
exported as GSPS / SR / KOS that dciodvfy accepts, and screenshots with and without the patient text."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent

from engine.export.dciodvfy import dciodvfy_available, new_errors
from engine.export.key_objects import read_kos
from engine.export.measurement_report import read_measurement_sr
from engine.export.presentation_state import read_measurements
from tests.app.conftest import ARTIFACTS, save_artifact
from tests.dicom_factory import synthetic_ct_series

pytestmark = pytest.mark.skipif(not dciodvfy_available(), reason="dciodvfy (dicom3tools) is not installed")


def write_series(folder: Path, patient_id: str, name: str, seed: int):
    """A 12-slice CT of one patient: a 60 HU disc (radius 40 mm) in air, a 400 HU dot off centre."""
    datasets, geometry = synthetic_ct_series(12, 128, 128, (1.0, 1.0, 3.0), (-64.0, -64.0, 0.0), seed=seed)
    yy, xx = np.mgrid[:128, :128]
    image = np.where((yy - 64) ** 2 + (xx - 64) ** 2 < 40**2, 60, -1000).astype(np.int16)
    image[30:36, 80:86] = 400
    folder.mkdir(parents=True)
    for ds in datasets:
        ds.PatientID, ds.PatientName = patient_id, name
        ds.PixelData = (image + 1024).astype(np.int16).tobytes()  # stored values, intercept -1024
        ds.save_as(folder / f"{ds.SOPInstanceUID}.dcm", enforce_file_format=True)
    return datasets, geometry


def mouse(view, kind, x: float, y: float, buttons=Qt.LeftButton) -> None:
    position = QPointF(x, y)
    event_type = {"press": QMouseEvent.MouseButtonPress, "move": QMouseEvent.MouseMove,
                  "release": QMouseEvent.MouseButtonRelease}[kind]
    button = Qt.NoButton if kind == "move" else Qt.LeftButton
    event = QMouseEvent(event_type, position, QPointF(view.mapToGlobal(QPoint(round(x), round(y)))), button,
                        buttons if kind != "release" else Qt.NoButton, Qt.NoModifier)
    {"press": view.mousePressEvent, "move": view.mouseMoveEvent, "release": view.mouseReleaseEvent}[kind](event)


def drag(view, start, end) -> None:
    mouse(view, "press", *start)
    mouse(view, "move", (start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
    mouse(view, "move", *end)
    mouse(view, "release", *end)


def open_folder(window, qtbot, folder: Path) -> None:
    with qtbot.waitSignal(window.settled, timeout=60000):
        window.open_path(folder)
    assert window.model.volume is not None, window.last_error


def test_measurements_are_drawn_edited_kept_and_exported(window, qtbot, tmp_path) -> None:
    datasets, geometry = write_series(tmp_path / "patient_a", "PA", "Alpha^Ann", 1)
    write_series(tmp_path / "patient_b", "PB", "Beta^Bob", 2)
    open_folder(window, qtbot, tmp_path / "patient_a")
    model = window.model
    model.set_layout("1x1")
    qtbot.wait(50)
    view = window.grid.view("axial")
    view.render_frame()
    plane = view.plane
    z_mm = model.crosshair[2]

    def px(x_mm: float, y_mm: float) -> tuple[float, float]:
        return plane.patient_to_pixel(np.array([x_mm, y_mm, z_mm]))

    view.setFocus()
    qtbot.keyClick(view, Qt.Key_A)  # the angle: a drag, then a click
    assert model.tool == "angle"
    drag(view, px(-30, -20), px(-10, -20))
    mouse(view, "move", *px(-10, 0), buttons=Qt.NoButton)
    mouse(view, "press", *px(-10, 0))
    mouse(view, "release", *px(-10, 0))
    model.set_tool("cobb")
    drag(view, px(10, -40), px(40, -40))
    drag(view, px(10, -20), px(40, -10))
    model.set_tool("ellipse")
    drag(view, px(-20, 10), px(20, 30))
    model.set_tool("arrow")
    view.ask_text = lambda: "dense dot"
    drag(view, px(19, -31), px(35, -50))
    model.set_tool("ruler")
    drag(view, px(-40, 40), px(0, 40))
    store = model.measurements
    assert [m.kind for m in store.current] == ["angle", "cobb", "ellipse", "arrow", "ruler"]
    angle, cobb, ellipse, arrow, ruler = store.current
    assert angle.values["angle_deg"] == pytest.approx(90.0, abs=1.0)
    assert cobb.values["angle_deg"] == pytest.approx(np.degrees(np.arctan2(10, 30)), abs=1.0)
    assert ellipse.values["mean"] == pytest.approx(60.0) and ellipse.unit == "HU"
    assert arrow.text == "dense dot"
    assert window.measurements_dock.list.count() == 5

    qtbot.keyClick(view, Qt.Key_W)  # back to window / level: drag the ruler's end to make it 60 mm
    drag(view, px(0, 40), px(20, 40))
    assert store.selected == ruler.ident and ruler.values["length_mm"] == pytest.approx(60.0, abs=0.6)
    assert "60" in window.measurements_dock.list.item(4).text()
    mouse(view, "move", *px(20, 40), buttons=Qt.NoButton)
    assert view.cursor().shape() == Qt.CrossCursor  # over a handle
    mouse(view, "move", *px(5, 40), buttons=Qt.NoButton)
    assert view.cursor().shape() == Qt.SizeAllCursor  # over the line: it moves
    mouse(view, "move", *px(-45, -45), buttons=Qt.NoButton)
    assert view.cursor().shape() == Qt.ArrowCursor
    dock = window.measurements_dock
    dock.list.setCurrentRow(3)  # the arrow: relabel it from the dock
    dock.ask_text = lambda current: current.replace("dense", "calcified")
    dock.label.click()
    assert arrow.text == "calcified dot" and "calcified dot" in dock.list.item(3).text()
    qtbot.keyClick(view, Qt.Key_Asterisk)
    assert store.key_images == [model.slice_index("axial")[0]]
    window.docks["measurements"].raise_()
    save_artifact(window, "reader_measurements.png")
    saved = [np.array(m.points) for m in store.current]

    open_folder(window, qtbot, tmp_path / "patient_b")  # another patient: none of them
    assert store.current == [] and store.key_images == [] and window.measurements_dock.list.count() == 0
    open_folder(window, qtbot, tmp_path / "patient_a")  # reopened: all back, on the same points
    assert [m.kind for m in store.current] == ["angle", "cobb", "ellipse", "arrow", "ruler"]
    for before, after in zip(saved, store.current, strict=True):
        assert np.allclose(before, after.points)
    assert store.current[4].values["length_mm"] == pytest.approx(60.0, abs=0.6) and store.key_images
    assert store.current[3].text == "calcified dot"

    source = tmp_path / "source.dcm"
    shutil.copy(next((tmp_path / "patient_a").iterdir()), source)
    exported = {}
    for kind, command in (("gsps", "measurement.export_gsps"), ("sr", "measurement.export_sr"),
                          ("kos", "key_image.export_kos")):
        exported[kind] = tmp_path / f"{kind}.dcm"
        window.reading.ask_path = lambda _title, _suggested, _kinds, k=kind: str(tmp_path / f"{k}.dcm")
        with qtbot.waitSignal(window.reading.job.ended, timeout=60000):
            window.registry.run(command)
        assert exported[kind].exists(), window.statusBar().currentMessage()
        assert window.statusBar().currentMessage().startswith("Exported")
        assert new_errors(exported[kind], source) == [], kind
    gsps = read_measurements(pydicom.dcmread(exported["gsps"]), datasets, geometry)
    for original, restored in zip(store.current, gsps, strict=True):
        assert original.kind == restored.kind
        assert np.allclose(original.points, restored.points, atol=1e-3)  # the same pixels
    report = read_measurement_sr(pydicom.dcmread(exported["sr"]), datasets, geometry)
    assert report[0][1]["Angle"][1] == "deg" and report[2][1]["Mean"] == (pytest.approx(60.0), "[hnsf'U]")
    assert read_kos(pydicom.dcmread(exported["kos"]), datasets, geometry) == store.key_images

    window.reading.screenshot_folder = tmp_path / "shots"
    window.registry.run("view.screenshot")
    window.registry.run("view.screenshot_anonymous")
    import matplotlib.image

    shots = sorted((tmp_path / "shots").iterdir())
    assert len(shots) == 2 and sum("anonymous" in p.name for p in shots) == 1
    anonymous = next(p for p in shots if "anonymous" in p.name)
    full = next(p for p in shots if "anonymous" not in p.name)
    with_text, without = matplotlib.image.imread(full), matplotlib.image.imread(anonymous)
    ratio = view.devicePixelRatioF()
    assert with_text.shape[:2] == (round(view.height() * ratio), round(view.width() * ratio))
    corner = (slice(0, 60), slice(0, 200))  # the patient's name and ID, top left
    assert np.abs(with_text[corner] - without[corner]).max() > 0.2
    assert np.array_equal(with_text[-60:, -200:], without[-60:, -200:])  # the rest is the same image
    assert model.show_patient_text  # the view shows the text again
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(full, ARTIFACTS / "reader_screenshot.png")
    shutil.copy(anonymous, ARTIFACTS / "reader_screenshot_anonymous.png")


def test_measurements_come_back_in_a_new_session(window, qtbot, tmp_path) -> None:
    from app.settings.preferences import Preferences
    from app.settings.store import qsettings
    from app.widgets.main_window import MainWindow
    from engine.catalog import Catalog

    write_series(tmp_path / "patient_a", "PA", "Alpha^Ann", 1)
    open_folder(window, qtbot, tmp_path / "patient_a")
    view = window.grid.view("axial")
    view.render_frame()
    window.model.set_tool("rectangle")
    z_mm = window.model.crosshair[2]
    drag(view, view.plane.patient_to_pixel(np.array([-10, -10, z_mm])),
         view.plane.patient_to_pixel(np.array([10, 10, z_mm])))
    (drawn,) = window.model.measurements.current
    window.close()

    catalog = Catalog(window.catalog.path)
    again = MainWindow(Preferences(qsettings()), catalog)
    qtbot.addWidget(again)
    again.show()
    try:
        (key,) = again.browser.series_keys()
        with qtbot.waitSignal(again.settled, timeout=60000):
            again.open_series(key)
        (back,) = again.model.measurements.current
        assert back.kind == "rectangle" and np.allclose(back.points, drawn.points)
        assert back.values["mean"] == pytest.approx(60.0)
    finally:
        again.close()
        catalog.close()
