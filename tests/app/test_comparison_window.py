"""Comparison reading in the window, as a reader does it: open the current CT, hang "CT: current vs prior",
set the link offset, scroll one view with the mouse wheel — the prior lands on the same anatomy; drop series
from the study browser (another patient's is refused); the AI panel offers the plugin of the open study."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDropEvent, QWheelEvent

from engine.catalog import SeriesKey
from tests.app.comparison_phantoms import PRIOR_SHIFT, anatomy_z, current_and_prior, write_ct_study
from tests.app.conftest import save_artifact

STRANGER = {"PatientName": "Other^Person", "PatientID": "X9", "PatientBirthDate": "19800101"}


def _open(window, qtbot, key: SeriesKey) -> None:
    with qtbot.waitSignal(window.settled, timeout=60000):
        window.open_series(key)
    assert window.model.volume is not None, window.last_error


def _import(window, qtbot, folder: Path) -> None:
    with qtbot.waitSignal(window.settled, timeout=60000):
        window.open_path(folder)


def _wheel(view, notches: int) -> None:
    centre = QPointF(view.width() / 2, view.height() / 2)
    for _ in range(abs(notches)):
        delta = QPoint(0, -120 if notches > 0 else 120)
        view.wheelEvent(QWheelEvent(centre, QPointF(view.mapToGlobal(centre.toPoint())), QPoint(0, 0), delta,
                                    Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False))


def _ruler_z(model) -> float:  # noqa: ANN001
    """The anatomical z the model's axial slice shows, read from the ruler rod's grey value."""
    volume = model.volume
    z = int(round(volume.patient_to_voxel(model.crosshair)[0]))
    values = volume.array[z]
    ys, xs = np.nonzero((values != -1000) & (values != 20) & (values != 300))
    return anatomy_z(float(values[int(round(ys.mean())), int(round(xs.mean()))]))


@pytest.fixture
def studies(window, qtbot, tmp_path: Path):
    current, prior = current_and_prior(tmp_path / "studies")
    stranger = write_ct_study(tmp_path / "stranger", date="20240101", shift=(0, 0, 0), slice_mm=5.0, n_slices=6,
                              z_first=-10.0, patient=STRANGER)
    _import(window, qtbot, tmp_path / "studies")
    _import(window, qtbot, tmp_path / "stranger")
    _open(window, qtbot, SeriesKey(current.series_uid))
    return current, prior, stranger


def hang_current_vs_prior(window, qtbot) -> None:
    with qtbot.waitSignal(window.comparison.hung, timeout=60000):
        assert window.comparison.apply_protocol("ct_current_vs_prior")
    assert window.grid.comparison is window.comparison.area


def test_current_vs_prior_links_scrolling_across_frames_of_reference(window, qtbot, studies, monkeypatch) -> None:
    current, prior, _ = studies
    priors_list = window.comparison.priors_panel.list
    assert priors_list.count() == 1 and "2023-09-05" in priors_list.item(0).text()
    hang_current_vs_prior(window, qtbot)
    grid = window.comparison.grid
    a, b = grid.viewports[0].model, grid.viewports[1].model
    assert a.volume.ids.series_uid == current.series_uid and b.volume.ids.series_uid == prior.series_uid
    assert a.volume.ids.frame_of_reference_uid != b.volume.ids.frame_of_reference_uid
    assert window.grid.shown() == [] and window.comparison.area.isVisible()

    # the reader types the known offset of the prior's frame (Compare > Set link offset…)
    from app.widgets import comparison_controller

    grid.active = 1
    monkeypatch.setattr(comparison_controller.QInputDialog, "getText",
                        staticmethod(lambda *args, **kwargs: (" ".join(map(str, PRIOR_SHIFT)), True)))
    window.registry.run("compare.offset")
    assert grid.link_text(1) == "Linked by offset +12.0, -8.0, +37.5 mm (set by reader)"

    view = window.comparison.area.view(0)
    for notches in (-7, 4, 11, -3):
        _wheel(view, notches)
        assert abs(_ruler_z(a) - _ruler_z(b)) <= prior.slice_mm / 2 + 1e-6, (notches, _ruler_z(a), _ruler_z(b))
    assert abs(b.crosshair[2] - (a.crosshair[2] + PRIOR_SHIFT[2])) <= prior.slice_mm / 2 + 1e-6
    before = b.crosshair.copy()
    window.registry.run("compare.link_scroll")  # linked scrolling off: the prior stays
    _wheel(view, 3)
    assert np.allclose(b.crosshair, before)
    window.registry.run("compare.link_scroll")
    save_artifact(window, "comparison_current_vs_prior_window.png")


def test_without_the_offset_the_prior_is_aligned_by_volume_centre_and_says_so(window, qtbot, studies) -> None:
    hang_current_vs_prior(window, qtbot)
    grid = window.comparison.grid
    assert "volume centres, not yet set" in grid.link_text(1)
    # the reader scrolls the prior to the anatomy the current shows, unlinked, and links there (L)
    a, b = grid.viewports[0].model, grid.viewports[1].model
    grid.set_links(scroll=False)
    target = a.crosshair + np.array(PRIOR_SHIFT)
    b.set_crosshair(target)
    view = window.comparison.area.view(1)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key_L, Qt.ShiftModifier)
    assert grid.links.scroll and "set by reader" in grid.link_text(1)
    _wheel(window.comparison.area.view(0), 5)
    assert abs(_ruler_z(a) - _ruler_z(b)) <= 3.0 / 2 + 1e-6


def test_a_series_dropped_from_the_browser_joins_but_another_patients_is_refused(window, qtbot, studies) -> None:
    current, prior, stranger = studies
    window.registry.run("compare.layout_1x3")
    assert window.grid.comparison is window.comparison.area
    tree = window.browser.tree

    def drop(key: SeriesKey, index: int) -> None:
        item = window.browser._series_items[key]
        mime = tree.mimeData([item])
        event = QDropEvent(QPointF(20, 20), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
        window.comparison.area.view(index).dropEvent(event)  # what Qt calls when the drag is released there

    grid = window.comparison.grid
    for key, index in ((SeriesKey(prior.series_uid), 2), (SeriesKey(current.series_uid), 0)):
        with qtbot.waitSignal(window.comparison.hung, timeout=60000):
            drop(key, index)
        assert grid.viewports[index].volume.ids.series_uid == key.series_uid
    drop(SeriesKey(stranger.series_uid), 1)
    assert "refused" in window.statusBar().currentMessage()
    assert "never shown side by side" in window.statusBar().currentMessage()
    assert grid.viewports[1].volume is None
    assert all(v.volume is None or v.volume.meta["patient"]["PatientID"] == "CMP-001" for v in grid.viewports)
    view = window.comparison.area.view(0)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key_O, Qt.ShiftModifier)  # the current in coronal: its slice cuts the axial prior
    assert grid.viewports[0].orientation == "coronal" and view.view == "coronal"
    prior_plane = grid.viewports[2].model.plane("axial", 300, 300)
    assert len(grid.reference_lines(2, prior_plane)) == 1
    save_artifact(window, "comparison_dropped_series.png")
    window.registry.run("compare.close")
    assert window.grid.comparison is None and window.grid.shown()


def test_opening_another_patient_leaves_the_comparison(window, qtbot, studies) -> None:
    _, _, stranger = studies
    hang_current_vs_prior(window, qtbot)
    _open(window, qtbot, SeriesKey(stranger.series_uid))
    assert window.grid.comparison is None
    assert all(v.volume is None for v in window.comparison.grid.viewports)


def test_the_ai_panel_offers_the_fitting_plugin_and_never_keeps_the_last(window, qtbot, tmp_path: Path) -> None:
    calcium = write_ct_study(tmp_path / "calcium", date="20250101", shift=(0, 0, 0), slice_mm=3.0, n_slices=8,
                             z_first=0.0, pixel_mm=0.7, body_part="HEART", description="Calcium Score 3.0",
                             patient={"PatientName": "Heart^Phantom", "PatientID": "H1"})
    chest, _ = current_and_prior(tmp_path / "chest")
    _import(window, qtbot, tmp_path / "calcium")
    _import(window, qtbot, tmp_path / "chest")
    panel = window.ai_panel
    _open(window, qtbot, SeriesKey(calcium.series_uid))
    assert panel.plugin_id == "coronary_calcium_ct"
    _open(window, qtbot, SeriesKey(chest.series_uid))  # 2 mm pixels: calcium scoring refuses it
    assert panel.plugin_id is None
    assert "fits" in panel.about.text()
    save_artifact(window, "comparison_ai_offer_none.png")


def test_one_key_puts_the_matching_prior_beside_the_current(window, qtbot, studies) -> None:
    current, prior, _ = studies
    view = window.grid.view(window.grid.shown()[0])
    view.setFocus()
    with qtbot.waitSignal(window.comparison.hung, timeout=60000):
        qtbot.keyClick(view, Qt.Key_X)
    grid = window.comparison.grid
    assert grid.layout == "1x2"
    assert [v.volume.ids.series_uid for v in grid.shown()] == [current.series_uid, prior.series_uid]
    assert grid.viewports[1].label.startswith("Prior 2023-09-05")
    window.registry.run("layout.1x3")  # an MPR layout: back to the views of the open series
    assert window.grid.comparison is None and window.grid.shown() == ["axial", "coronal", "sagittal"]


def test_the_brain_protocol_hangs_four_sequences_linked_by_position(window, qtbot, tmp_path: Path) -> None:
    from training.phantoms.brain_mri import make_brain_mri
    from training.phantoms.export import write_brain_mri_study

    # 2.5 mm voxels: inside the brain model's validated spacing (a coarser phantom is refused, rightly)
    write_brain_mri_study(make_brain_mri(5, shape=(64, 80, 64)), tmp_path / "brain")
    _import(window, qtbot, tmp_path / "brain")
    t1 = next(row.key for study in window.catalog.studies() for row in window.catalog.series(study.study_uid)
              if row.description == "T1")
    _open(window, qtbot, t1)
    assert window.ai_panel.offer_plugin() == "brain_tumor_mri"  # the protocol's plugin, and it fits
    with qtbot.waitSignal(window.comparison.hung, timeout=60000):
        window.registry.run("compare.protocol")
    grid = window.comparison.grid
    assert window.comparison.protocol.id == "brain_mri" and grid.layout == "2x2"
    assert [v.volume.meta["description"] for v in grid.shown()] == ["T1", "T1c", "T2", "FLAIR"]
    first, last = grid.viewports[0].model, grid.viewports[3].model
    _wheel(window.comparison.area.view(0), 6)
    assert np.allclose(first.crosshair, last.crosshair)  # one frame of reference: the same patient point
    assert grid.link_text(3) == "Linked by position (reference)"
    save_artifact(window, "comparison_brain_mri_2x2.png")


def test_the_reader_saves_the_arrangement_and_it_hangs_next_time(window, qtbot, studies, monkeypatch,
                                                                 tmp_path: Path) -> None:
    from app.widgets import comparison_controller
    from engine.paths import data_dir

    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path / "home"))  # this reader's own protocol folder
    hang_current_vs_prior(window, qtbot)
    window.registry.run("compare.link_window")  # window / level unlinked in my protocol
    monkeypatch.setattr(comparison_controller.QInputDialog, "getText",
                        staticmethod(lambda *args, **kwargs: ("Chest follow-up", True)))
    window.registry.run("compare.save_protocol")
    saved = data_dir() / "hanging_protocols" / "chest_follow-up.json"
    assert saved.is_file(), window.statusBar().currentMessage()
    mine = next(p for p in window.comparison.protocols if p.id == "chest_follow-up")
    assert mine.user and not mine.links.window
    window.registry.run("compare.close")
    with qtbot.waitSignal(window.comparison.hung, timeout=60000):
        window.registry.run("compare.protocol")  # H: the best match is now the reader's own
    assert window.comparison.protocol.id == "chest_follow-up" and not window.comparison.grid.links.window


def test_comparison_viewport_keys_come_from_the_registry(window, qtbot, studies) -> None:
    """Real key presses to the focused window: the viewer's keys act on the active comparison viewport, its
    own keys (link here, next plane) are registry commands that select no measurement tool, and L / O are
    the arrow and ellipse tools there as everywhere."""
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    hang_current_vs_prior(window, qtbot)
    grid = window.comparison.grid
    main, a, b = window.model, grid.viewports[0].model, grid.viewports[1].model
    grid.set_links(scroll=False, window=False)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    view = window.comparison.area.view(1)
    qtbot.mouseClick(view, Qt.LeftButton, pos=view.rect().center())  # the reader clicks into the prior
    qtbot.waitUntil(lambda: QApplication.focusWidget() is view, timeout=5000)
    assert grid.active == 1

    def press(key, modifier=Qt.NoModifier) -> None:
        QTest.keyClick(QApplication.focusWidget(), key, modifier)

    start, count = b.slice_index("axial")
    a_start = a.slice_index("axial")[0]
    main_window_before, main_invert = main.window, main.invert
    press(Qt.Key_Down)
    assert b.slice_index("axial")[0] == min(start + 1, count - 1)
    press(Qt.Key_End)
    assert b.slice_index("axial")[0] == count - 1
    press(Qt.Key_Home)
    assert b.slice_index("axial")[0] == 0
    press(Qt.Key_Up)
    assert b.slice_index("axial")[0] == 0
    assert a.slice_index("axial")[0] == a_start  # only the active viewport moved (scroll link off)
    press(Qt.Key_2)
    assert b.preset_name() == b.presets()[1]["name"] and a.preset_name() == ""
    press(Qt.Key_I)
    assert b.invert and not a.invert
    b.zoom("axial", 2.0)
    press(Qt.Key_Space)
    assert b.cameras["axial"].fitted
    assert (main.window, main.invert) == (main_window_before, main_invert)  # the main views were not touched

    press(Qt.Key_O, Qt.ShiftModifier)  # next plane of this viewport
    assert grid.viewports[1].orientation == "coronal" and view.view == "coronal"
    assert grid.viewports[0].orientation == "axial"
    assert QApplication.focusWidget() is view  # the viewport keeps the keyboard after the new plane
    press(Qt.Key_O, Qt.ShiftModifier)
    press(Qt.Key_O, Qt.ShiftModifier)  # sagittal, then back to axial
    assert grid.viewports[1].orientation == "axial"
    b.set_crosshair(a.crosshair + np.array(PRIOR_SHIFT))  # the reader shows the same anatomy, unlinked
    press(Qt.Key_L, Qt.ShiftModifier)  # link here
    assert grid.links.scroll and "set by reader" in grid.link_text(1)
    assert main.tool == a.tool == b.tool == "window_level"  # no measurement tool got selected

    press(Qt.Key_L)  # L is the arrow tool, in a viewport as in the main views
    assert main.tool == a.tool == b.tool == "arrow"
    press(Qt.Key_O)
    assert b.tool == "ellipse" and grid.viewports[1].orientation == "axial"
    press(Qt.Key_Escape)
    assert main.tool == b.tool == "window_level"


def test_the_measurements_dock_lists_the_active_viewports_series(window, qtbot, studies) -> None:
    """A ruler drawn in the prior's viewport is listed (and undone) there; clicking the current's viewport
    lists the current series' measurements, the same ones the main views show."""
    from PySide6.QtGui import QMouseEvent

    from engine.measurements import Measurement, measure

    current, prior, _ = studies
    main = window.model
    z = main.crosshair[2]
    main.measurements.add(measure(main.volume, Measurement("ruler", "axial", [np.array([0.0, 0, z]),
                                                                               np.array([10.0, 0, z])])))
    hang_current_vs_prior(window, qtbot)
    grid, area, dock = window.comparison.grid, window.comparison.area, window.measurements_dock
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    view = area.view(1)
    qtbot.mouseClick(view, Qt.LeftButton, pos=view.rect().center())
    assert grid.active == 1 and dock.store is grid.viewports[1].model.measurements and dock.list.count() == 0
    qtbot.keyClick(view, Qt.Key_M)  # the ruler, drawn in the prior
    rendered_plane = view.plane
    a = QPoint(*(round(c) for c in rendered_plane.patient_to_pixel(grid.viewports[1].model.crosshair)))
    b = a + QPoint(60, 0)
    qtbot.mousePress(view, Qt.LeftButton, pos=a)
    view.mouseMoveEvent(QMouseEvent(QMouseEvent.MouseMove, QPointF(b), QPointF(view.mapToGlobal(b)),
                                    Qt.LeftButton, Qt.LeftButton, Qt.NoModifier))
    qtbot.mouseRelease(view, Qt.LeftButton, pos=b)
    prior_store = grid.viewports[1].model.measurements
    assert prior_store.series_uid == prior.series_uid and len(prior_store.current) == 1
    assert dock.list.count() == 1 and dock.list.item(0).text().startswith("Length")
    assert window.actions_by_id["edit.undo"].text() == "Undo Add ruler"
    qtbot.keyClick(view, Qt.Key_Z, Qt.ControlModifier)  # undone in the prior's series
    assert prior_store.current == [] and dock.list.count() == 0
    qtbot.keyClick(view, Qt.Key_Y, Qt.ControlModifier)
    assert dock.list.count() == 1

    current_view = area.view(0)
    qtbot.mouseClick(current_view, Qt.LeftButton, pos=current_view.rect().center())
    assert grid.active == 0 and dock.list.count() == 1
    assert [m.ident for m in grid.viewports[0].model.measurements.current] == [m.ident for m in
                                                                                main.measurements.current]
    window.registry.run("compare.close")
    assert dock.store is main.measurements and dock.list.count() == 1


def test_key_images_and_exports_follow_the_active_viewports_series(window, qtbot, studies, tmp_path: Path) -> None:
    """With the prior beside the current, a ruler drawn and an image flagged in the prior's viewport are the
    prior's: its SR and KOS reference the prior's images (never the current's), at the ruler's points."""
    import pydicom

    from engine.export.key_objects import read_kos
    from engine.export.measurement_report import read_measurement_sr
    from tests.app.test_reader_work_kept import drag

    current, prior, _ = studies
    hang_current_vs_prior(window, qtbot)
    grid = window.comparison.grid
    a, b = grid.viewports[0].model, grid.viewports[1].model
    view = window.comparison.area.view(1)
    view.resize(500, 500)
    view.render_frame()
    view.setFocus()
    grid.set_active(1)
    assert grid.active == 1 and window.measurements_dock.store is b.measurements
    window.model.set_tool("ruler")
    assert b.tool == "ruler"
    z_mm = float(b.crosshair[2])
    start, end = np.array([-30.0, 10.0, z_mm]), np.array([20.0, 10.0, z_mm])
    drag(view, view.plane.patient_to_pixel(start), view.plane.patient_to_pixel(end))
    assert [m.kind for m in b.measurements.current] == ["ruler"] and a.measurements.current == []
    ruler = b.measurements.current[0]
    assert ruler.values["length_mm"] == pytest.approx(50.0, abs=1.0)
    window.registry.run("key_image.toggle")
    assert b.measurements.key_images == [b.slice_index("axial")[0]] and a.measurements.key_images == []

    exported = {}
    for kind, command in (("sr", "measurement.export_sr"), ("kos", "key_image.export_kos")):
        exported[kind] = tmp_path / f"{kind}.dcm"
        window.reading.ask_path = lambda _title, _suggested, _kinds, k=kind: str(tmp_path / f"{k}.dcm")
        with qtbot.waitSignal(window.reading.job.ended, timeout=60000):
            window.registry.run(command)
        assert exported[kind].exists(), window.statusBar().currentMessage()
    prior_sources = [pydicom.dcmread(p) for p in sorted(prior.folder.rglob("*.dcm"))]
    current_uids = {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID
                    for p in current.folder.rglob("*.dcm")}
    geometry = b.volume.geometry
    sr, kos = pydicom.dcmread(exported["sr"]), pydicom.dcmread(exported["kos"])
    assert sr.SeriesInstanceUID != prior.series_uid and sr.StudyInstanceUID == prior.study_uid
    report = read_measurement_sr(sr, prior_sources, geometry)  # ValueError if an image is not the prior's
    assert len(report) == 1 and report[0][0].kind == "ruler"
    assert np.allclose(report[0][0].points, ruler.points, atol=0.5)
    assert read_kos(kos, prior_sources, geometry) == b.measurements.key_images
    referenced = {str(e.ReferencedSOPInstanceUID) for e in kos.CurrentRequestedProcedureEvidenceSequence[0]
                  .ReferencedSeriesSequence[0].ReferencedSOPSequence}
    assert referenced and not referenced & current_uids

    grid.viewports[1].series_key = None  # a series that is not catalogued: refused, and said so
    window.registry.run("key_image.toggle")
    assert "not in the catalog" in window.statusBar().currentMessage()
    window.registry.run("measurement.export_sr")
    assert "not exported" in window.statusBar().currentMessage()
