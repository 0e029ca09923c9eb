"""Crash recovery at start (a recovery folder written by the engine, restored through the injectable
decision, and the dialog itself), and Accept correction: final + NIfTI + SEG that reads back to the same
voxels, the change summary in the dock, the audit entry and the worklist status."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from PySide6.QtCore import Qt

from app.viewer_model.editing import TISSUE
from app.viewer_model.orientation import AXIAL
from app.viewer_model.recovery_offer import DISCARD, LATER, RESTORE, RecoveryDecision
from app.widgets.recovery_dialog import RecoveryDialog
from engine.ai.dicom_seg import seg_to_label_map
from engine.dicom.scanner import scan
from engine.editing.accept import AUDIT_EVENT
from engine.editing.brush import Brush, paint
from engine.editing.recovery import find_recoverable
from engine.editing.session import EditSession
from engine.nifti import read_nifti
from engine.series import SeriesInfo
from engine.volume import Label, LabelMap
from tests.net.factory import write_series

TIMEOUT_MS = 30000


def _catalogue(window, folder: Path) -> SeriesInfo:
    result = scan(folder)
    window.catalog.import_scan(result)
    window.refresh_catalog()
    return result.series[0]


@pytest.fixture
def ct_series(window, tmp_path: Path) -> SeriesInfo:
    """An 8-slice 32x32 CT series with the study / equipment attributes a SEG copies, catalogued."""
    for path in write_series(tmp_path / "ct", 8):
        ds = pydicom.dcmread(path)
        ds.StudyID, ds.ReferringPhysicianName, ds.Manufacturer, ds.PositionReferenceIndicator = "1", "", "X", ""
        ds.save_as(path, enforce_file_format=True)
    return _catalogue(window, tmp_path / "ct")


@pytest.fixture
def bare_series(window, tmp_path: Path) -> SeriesInfo:
    """A series without StudyID: a SEG cannot be derived from it."""
    write_series(tmp_path / "bare", 8)
    return _catalogue(window, tmp_path / "bare")


def _crashed_session(series: SeriesInfo) -> np.ndarray:
    """What the engine leaves after a crash: two brush actions on the series, journal kept. Returns the map."""
    geometry = series.geometry
    label_map = LabelMap(np.zeros(geometry.shape, np.uint8), geometry, [Label(1, "lesion", (255, 0, 0), TISSUE)])
    key = f"{series.series_uid}@{'x'.join(str(n) for n in geometry.shape)}"
    session = EditSession.start(key, label_map, "Doe^Jane — Net test CT")
    session.do("Brush", partial(paint, center=(3, 10, 10), brush=Brush(2.0), value=1))
    session.do("Eraser", partial(paint, center=(3, 10, 10), brush=Brush(0.5), value=0))
    session.close(keep_recovery=True)
    return label_map.array.copy()


def test_restore_opens_the_series_with_the_map_and_its_history(window, qtbot, ct_series) -> None:
    expected = _crashed_session(ct_series)
    offered: list = []

    def restore_first(sessions):
        offered.extend(sessions)
        return RecoveryDecision(RESTORE, (sessions[0],))

    assert window.model.volume is None
    window.editing.offer_recovery(restore_first)
    assert [(s.description, s.actions) for s in offered] == [("Doe^Jane — Net test CT", 2)]
    qtbot.waitUntil(lambda: window.editing.editor.editing, timeout=TIMEOUT_MS)
    editor = window.editing.editor
    assert window.model.volume.ids.series_uid == ct_series.series_uid
    assert editor.layer in list(window.model.layers)
    assert np.array_equal(editor.session.label_map.array, expected)
    assert window.actions_by_id["edit.undo"].text() == "Undo Eraser"
    window.registry.run("edit.undo")
    assert int(editor.session.label_map.array.sum()) > int(expected.sum())
    assert window.actions_by_id["edit.undo"].text() == "Undo Brush"


def test_later_keeps_and_discard_deletes(window, ct_series) -> None:
    _crashed_session(ct_series)
    assert window.editing.offer_recovery(lambda s: RecoveryDecision(LATER)).action == LATER
    assert len(find_recoverable()) == 1 and not window.editing.editor.editing
    window.editing.offer_recovery(lambda s: RecoveryDecision(DISCARD, tuple(s)))
    assert find_recoverable() == []
    assert window.editing.offer_recovery(lambda s: pytest.fail("nothing to offer")) is None


def test_dialog_lists_time_and_actions_and_returns_the_choice(window, qtbot, ct_series) -> None:
    _crashed_session(ct_series)
    sessions = find_recoverable()
    dialog = RecoveryDialog(sessions, window)
    qtbot.addWidget(dialog)
    row = [dialog.table.item(0, column).text() for column in range(3)]
    assert row[0] == "Doe^Jane — Net test CT" and row[2] == "2 actions" and len(row[1]) == 16
    dialog.restore_button.click()
    assert dialog.decision == RecoveryDecision(RESTORE, (sessions[0],))
    dialog = RecoveryDialog(sessions, window)
    qtbot.addWidget(dialog)
    assert dialog.decision.action == LATER  # closing the dialog decides nothing


def _paint_and_accept(window, qtbot) -> np.ndarray:
    """Open the catalogued series, paint one dab with the brush key and the mouse, click Accept."""
    window.open_series(window.browser.series_keys()[0])
    qtbot.waitUntil(lambda: window.model.volume is not None and not window.loader.busy, timeout=TIMEOUT_MS)
    view = window.grid.view(AXIAL)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    view.setFocus()
    view.render_rgb()
    qtbot.keyClick(view, Qt.Key_B)
    window.editing.editor.set_radius(3.0)
    qtbot.mousePress(view, Qt.LeftButton, pos=view.rect().center())
    qtbot.mouseRelease(view, Qt.LeftButton, pos=view.rect().center())
    final = window.editing.editor.session.label_map.array.copy()
    assert final.any()
    window.editing.panel.accept_button.click()
    return final


def test_accept_writes_a_seg_that_reads_back_and_marks_the_study_done(window, qtbot, ct_series) -> None:
    final = _paint_and_accept(window, qtbot)
    accepted = window.editing.last_accepted
    assert accepted is not None and accepted.seg_path is not None and accepted.seg_path.exists()
    sources = [pydicom.dcmread(path) for path in sorted((ct_series_folder(ct_series)).glob("*.dcm"))]
    seg = hd.seg.segread(accepted.seg_path)
    back = seg_to_label_map(seg, sources, window.model.volume.geometry)
    assert np.array_equal(back.array, final)
    assert np.array_equal(read_nifti(accepted.nifti_path).array, final)
    painted = int((final == 1).sum())
    assert accepted.summary.label(1).added == painted and accepted.summary.dice_overall == 0.0
    text = window.editing.panel.summary.text()
    assert f"Label 1: +{painted} / −0 voxels" in text and "Dice" in text
    assert accepted.audit_entry["event"] == AUDIT_EVENT
    assert window.catalog.status(ct_series.study_uid) == "done"
    assert window.worklist.worklist.counts()["done"] == 1


def test_accept_without_a_seg_still_saves_the_final_version(window, qtbot, bare_series) -> None:
    final = _paint_and_accept(window, qtbot)
    accepted = window.editing.last_accepted
    assert accepted.seg_path is None and np.array_equal(read_nifti(accepted.nifti_path).array, final)
    assert "No DICOM SEG" in window.editing.panel.summary.text() and "StudyID" in window.editing.panel.summary.text()


def ct_series_folder(series: SeriesInfo) -> Path:
    return Path(series.instances[0].ref.path).parent
