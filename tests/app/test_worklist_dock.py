"""The worklist dock: the catalog's studies with status, next / previous by shortcut, filters, statuses that
persist in the catalog and resume-where-you-left-off from the engine Worklist's state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from PySide6.QtCore import Qt

from engine.dicom.scanner import scan
from engine.editing.worklist import Worklist
from tests.app.conftest import save_artifact
from tests.net.factory import write_series

TIMEOUT_MS = 30000
STUDIES = (("1.2.826.0.1.3680043.10.1", "Alpha^Ann", "CT"), ("1.2.826.0.1.3680043.10.2", "Beta^Bob", "MR"),
           ("1.2.826.0.1.3680043.10.3", "Gamma^Gus", "CT"))


@pytest.fixture
def studies(window, tmp_path: Path) -> list[str]:
    """Three catalogued studies (two CT, one MR) of different patients, listed in the dock."""
    for index, (uid, name, modality) in enumerate(STUDIES):
        for path in write_series(tmp_path / f"s{index}", 4, study_uid=uid):
            ds = pydicom.dcmread(path)
            ds.PatientName, ds.PatientID, ds.Modality = name, f"P{index}", modality
            ds.StudyDate = f"2024010{index + 1}"
            ds.save_as(path, enforce_file_format=True)
        window.catalog.import_scan(scan(tmp_path / f"s{index}"))
    window.refresh_catalog()
    window.worklist.refresh()
    window.activateWindow()
    return [uid for uid, _, _ in STUDIES]


def _shown_study(window) -> str:
    return window.model.volume.ids.study_uid


def _wait_loaded(window, qtbot, study_uid: str) -> None:
    qtbot.waitUntil(lambda: window.model.volume is not None and not window.loader.busy
                    and _shown_study(window) == study_uid, timeout=TIMEOUT_MS)


def _rows(window) -> list[tuple[str, str]]:
    table = window.worklist.table
    return [(table.item(row, 0).text(), table.item(row, 1).text()) for row in range(table.rowCount())]


def test_next_previous_by_shortcut_open_studies_and_mark_them_in_progress(window, qtbot, studies) -> None:
    assert _rows(window) == [("to do", "Alpha Ann"), ("to do", "Beta Bob"), ("to do", "Gamma Gus")]
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(window, Qt.Key_PageDown, Qt.ControlModifier)
    _wait_loaded(window, qtbot, studies[0])
    qtbot.keyClick(window, Qt.Key_PageDown, Qt.ControlModifier)
    _wait_loaded(window, qtbot, studies[1])
    assert window.catalog.status(studies[0]) == "in progress" and window.catalog.status(studies[1]) == "in progress"
    qtbot.keyClick(window, Qt.Key_PageUp, Qt.ControlModifier)
    _wait_loaded(window, qtbot, studies[0])
    assert _rows(window)[0] == ("in progress", "Alpha Ann") and _rows(window)[2] == ("to do", "Gamma Gus")
    window.docks["worklist"].raise_()
    save_artifact(window, "worklist_dock.png")


def test_filters_by_status_modality_and_text(window, studies) -> None:
    dock = window.worklist
    dock.modality.setText("mr")
    assert [name for _, name in _rows(window)] == ["Beta Bob"]
    dock.modality.setText("")
    dock.text.setText("gam")
    assert [name for _, name in _rows(window)] == ["Gamma Gus"]
    dock.text.setText("")
    window.worklist.mark_done(studies[2])
    dock.status.setCurrentText("done")
    assert _rows(window) == [("done", "Gamma Gus")]
    assert dock.counts.text() == "to do: 2 · in progress: 0 · done: 1"
    assert Worklist(window.catalog).filter.status == "done"  # the filter is part of the saved state


def test_status_and_position_survive_a_restart(window, qtbot, studies) -> None:
    window.worklist.open_study(studies[1])
    _wait_loaded(window, qtbot, studies[1])
    window.model.step_slice("axial", 2)
    crosshair = window.model.crosshair.copy()
    window.worklist.mark_current_done()
    window.worklist.save_position()
    window.show_volume(window.model.volume)  # the annotator looked elsewhere
    window.model.set_crosshair(np.zeros(3))
    restarted = Worklist(window.catalog)
    assert restarted.current.study_uid == studies[1] and restarted.current.status == "done"
    assert window.worklist.resume()
    qtbot.waitUntil(lambda: not window.loader.busy and np.allclose(window.model.crosshair, crosshair),
                    timeout=TIMEOUT_MS)
    assert _shown_study(window) == studies[1]


def test_next_series_stops_at_the_patient_boundary(window, qtbot, studies) -> None:
    first = window.catalog.series(studies[0])[0].key
    window.open_series(first)
    _wait_loaded(window, qtbot, studies[0])
    assert window.browser.series_keys().index(first) < len(window.browser.series_keys()) - 1  # another follows
    window.step_series(1)  # PgDn: the next series in the browser belongs to another patient
    assert window.current_series == first and not window.loader.busy
    assert window.statusBar().currentMessage().startswith("last series of this patient")
