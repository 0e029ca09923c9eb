"""File > Query / retrieve and Preferences > PACS nodes against Orthanc on loopback, clicked as a reader
does: search by patient ID, the results table, "Retrieve priors" of the open patient into the catalog (the
Priors dock then lists them), retrieve selected rows, and Echo of a node."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from engine.catalog import SeriesKey
from engine.net.pacs_config import save_pacs
from engine.net.send import send
from tests.app.comparison_phantoms import write_ct_study
from tests.app.conftest import save_artifact
from tests.net.conftest import OrthancServer, clean_orthanc, orthanc  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.network, pytest.mark.timeout(240)]


def _study(root: Path, name: str, date: str, n: int = 4):
    return write_ct_study(root / name, date=date, shift=(0, 0, 0), slice_mm=5.0, n_slices=n, z_first=0.0, size=32)


@pytest.fixture
def reading(window, qtbot, clean_orthanc: OrthancServer, tmp_path: Path):  # noqa: F811
    studies = {name: _study(tmp_path / "src", name, date) for name, date in
               (("current", "20250310"), ("prior", "20230905"), ("older", "20200101"))}
    for study in studies.values():
        assert send(clean_orthanc.pacs(), sorted(study.folder.glob("*.dcm"))).ok
    save_pacs([clean_orthanc.pacs()])  # the per-user pacs.json (SIGHTLINE_HOME is per test session)
    with qtbot.waitSignal(window.settled, timeout=60000):
        window.open_path(studies["current"].folder)
    with qtbot.waitSignal(window.settled, timeout=60000):
        window.open_series(SeriesKey(studies["current"].series_uid))
    return window, studies


def test_search_and_retrieve_priors_from_the_dialog(reading, qtbot) -> None:
    window, studies = reading
    assert window.comparison.priors_panel.list.count() == 0
    window.registry.run("file.query_retrieve")
    dialog = window.pacs_dialog
    qtbot.waitExposed(dialog)
    assert dialog.node.count() == 1 and dialog.priors_button.isEnabled()
    dialog.fields["patient_id"].setText("CMP-001")
    dialog.fields["date_from"].setText("2021-01-01")
    qtbot.mouseClick(dialog.search_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.status.text().endswith("found"), timeout=60000)
    assert dialog.table.rowCount() == 2
    assert [dialog.table.item(r, 2).text() for r in range(2)] == ["2025-03-10", "2023-09-05"]
    save_artifact(dialog, "pacs_dialog_search.png")

    qtbot.mouseClick(dialog.priors_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.status.text().startswith(("Retrieved", "Retrieve incomplete", "Failed")),
                    timeout=120000)
    assert dialog.status.text().startswith("Retrieved: 2 studies, 8 new file(s)"), dialog.status.text()
    assert {dialog.table.item(r, 2).text() for r in range(2)} == {"2023-09-05", "2020-01-01"}
    assert window.catalog.study(studies["prior"].study_uid) is not None
    assert window.comparison.priors_panel.list.count() == 2  # the Priors dock lists them, newest first
    assert "2023-09-05" in window.comparison.priors_panel.list.item(0).text()
    save_artifact(dialog, "pacs_dialog_priors_retrieved.png")
    save_artifact(window, "pacs_priors_dock.png")

    qtbot.mouseClick(dialog.priors_button, Qt.LeftButton)  # nothing left to fetch
    qtbot.waitUntil(lambda: "No prior" in dialog.status.text(), timeout=60000)
    dialog.close()


def test_retrieve_selected_rows_by_wado(reading, qtbot) -> None:
    window, studies = reading
    window.show_query_retrieve()
    dialog = window.pacs_dialog
    dialog.fields["patient_name"].setText("compare")
    dialog.fields["accession"].setText("ACC20200101")
    dialog.dicomweb.setChecked(True)
    qtbot.mouseClick(dialog.search_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.status.text().endswith("found"), timeout=60000)
    assert dialog.table.rowCount() == 1
    dialog.table.selectRow(0)
    dialog.method.setCurrentIndex(dialog.method.findData("wado"))
    qtbot.mouseClick(dialog.retrieve_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.status.text().startswith(("Retrieved", "Retrieve incomplete", "Failed")),
                    timeout=120000)
    assert dialog.status.text().startswith("Retrieved: 1 study, 4 new file(s)"), dialog.status.text()
    assert window.catalog.study(studies["older"].study_uid) is not None
    dialog.close()


def test_preferences_pacs_nodes_echo_and_checks(window, qtbot, orthanc: OrthancServer) -> None:  # noqa: F811
    from app.widgets.preferences_dialog import PreferencesDialog

    save_pacs([orthanc.pacs()])
    dialog = PreferencesDialog(window.preferences, window)
    qtbot.addWidget(dialog)
    form = dialog.pacs_nodes
    dialog.tabs.setCurrentWidget(form)
    dialog.show()
    assert form.table.rowCount() == 1 and form.row_values(0)[0] == "orthanc"
    form.table.setCurrentCell(0, 0)
    qtbot.mouseClick(form.echo_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: "OK" in form.status.text() or "failed" in form.status.text(), timeout=60000)
    assert form.status.text().startswith("Echo orthanc: OK"), form.status.text()
    save_artifact(dialog, "preferences_pacs_nodes.png")
    form.add_row(["backup", "127.0.0.1", "not-a-port", "BACKUP", "SIGHTLINE", "11112", ""])
    assert form.problems() == ["row 2: port 'not-a-port' is not a number"]
    form.table.item(1, 2).setText("4242")
    assert form.problems() == []
    assert form.save() is not None
    from engine.net.pacs_config import load_pacs

    saved = load_pacs()
    assert [n.name for n in saved] == ["orthanc", "backup"]
    assert saved[0].auth == orthanc.pacs().auth  # the credentials of an existing node are kept
    dialog.reject()
