"""Results belong to the study they came from (issue 14 §5), in the main window on the sample studies: every
analysis plugin runs (Run button, worker thread) on its own patient; opening another patient leaves no
finding, measurement, chart, similar case, warning, layer, enabled export or go-to-finding of the first;
opening the first again shows its result again. Another series of the same study keeps the result. A run that
ends after the switch stays with its study. The editing dock's summary and tool, and the 3D clipping box, do
not carry over to the next patient.

One window (module scope) holds the catalog of the samples and the three results, so each plugin runs once."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest

from app.viewer_model.layers import ImageLayer, LabelLayer
from app.viewer_model.model import VOLUME_3D
from app.viewer_model.orientation import AXIAL
from engine.catalog import SeriesKey
from engine.volume import SourceIds
from tests.app.conftest import cube_volume, save_artifact
from tests.app.test_ai_panel import make_plugin

CALCIUM = "coronary_calcium_ct"
STUDY_OF = {"chest_xray_nodules": "chest_xray", "brain_tumor_mri": "brain_mri", "coronary_calcium_ct": "cardiac_ct"}
PATIENT_B = "prostate_mri"  # a patient no plugin ran on
TIMEOUT_S = 240.0


class Reading(NamedTuple):
    window: object  # MainWindow
    keys: dict[str, SeriesKey]  # sample study -> the series shown when it was opened (and analysed)


def wait_until(predicate: Callable[[], bool], what: str, timeout_s: float = TIMEOUT_S) -> None:
    """Process Qt events until ``predicate`` holds (the module-scoped window has no qtbot)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        QTest.qWait(20)


def loaded(window, series_uid: str | None = None) -> bool:
    volume = window.model.volume
    return (not window.loader.busy and volume is not None and "loading" not in volume.meta
            and (series_uid is None or volume.ids.series_uid == series_uid))


def open_series(window, key: SeriesKey) -> None:
    window.open_series(key)
    wait_until(lambda: loaded(window, key.series_uid), f"series {key.series_uid}")


def run_plugin(panel, plugin_id: str) -> None:
    panel.plugins.setCurrentIndex(panel.plugins.findData(plugin_id))
    assert panel.plugin_id == plugin_id and panel.run_button.isEnabled(), panel.about.text()
    panel.run_button.click()
    wait_until(lambda: not panel.job.busy and not panel.progress.isVisible(), f"{plugin_id} to finish")
    assert panel.result is not None and panel.result.provenance.plugin_id == plugin_id, panel.status.text()


@pytest.fixture(scope="module")
def reading(qapp, samples: Path, tmp_path_factory: pytest.TempPathFactory):
    """A main window with the sample studies in its catalog and each analysis plugin run on its study."""
    from app.settings.preferences import Preferences
    from app.settings.store import qsettings
    from app.widgets.main_window import MainWindow
    from app.widgets.welcome import SHOWN_KEY
    from engine.catalog import Catalog

    folder = tmp_path_factory.mktemp("study_bound")
    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(folder / "qsettings"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SIGHTLINE_HOME", str(folder / "home"))
        catalog = Catalog(folder / "catalog.sqlite")
        preferences = Preferences(qsettings())
        preferences.store.setValue(SHOWN_KEY, True)  # no welcome dialog over the screenshots
        window = MainWindow(preferences, catalog)
        window.resize(1500, 900)
        window.show()
        QTest.qWaitForWindowExposed(window)
        window.docks["ai"].raise_()
        window.ai_panel.audit_log = folder / "audit.jsonl"
        keys = {}
        for study in (*STUDY_OF.values(), PATIENT_B):
            before = window.current_series
            window.open_path(samples / study)
            wait_until(lambda: window.current_series not in (None, before)  # noqa: B023 (waited on at once)
                       and loaded(window, window.current_series.series_uid), f"{study} to open")
            keys[study] = window.current_series
        for plugin_id, study in STUDY_OF.items():
            open_series(window, keys[study])
            run_plugin(window.ai_panel, plugin_id)
        yield Reading(window, keys)
        window.close()
        catalog.close()


def assert_shows(window, result) -> None:
    """The panel shows ``result`` completely: rows, layers, exports (and the chart of a calcium result)."""
    panel = window.ai_panel
    bound = panel.shelf.for_volume(window.model.volume)
    assert bound is not None and bound.result is result and panel.result is result
    assert panel.findings.rowCount() == len(result.findings) > 0
    assert [row.label for row in panel.findings.rows] == [finding.label for finding in result.findings]
    assert panel.measurements.rowCount() == len(result.measurements)
    overlays = [layer for layer in window.model.layers if layer.removable]
    assert overlays == bound.layers and overlays
    assert any(button.isEnabled() for button in panel.exports.values())
    calcium = result.provenance.plugin_id == CALCIUM
    chart = panel.result_view(CALCIUM)  # None with a registry that lacks the calcium plugin
    assert chart is not None or not calcium
    if chart is not None:
        assert chart.box.isVisibleTo(panel) == calcium and (chart.widget.canvas is not None) == calcium
    if calcium:
        assert "Total Agatston" in chart.widget.risk.text()


def assert_nothing_of(window, result, layers) -> None:
    """No finding, measurement, chart, similar case, warning, layer, export or status line of ``result``."""
    panel = window.ai_panel
    assert panel.result is None and panel.export_source is None
    assert panel.findings.rowCount() == 0 and panel.findings.rows == []
    assert panel.measurements.rowCount() == 0 and panel.similar.count() == 0
    assert not panel.warnings.isVisibleTo(panel) and panel.warnings.text() == ""
    chart = panel.result_view(CALCIUM)  # None with a registry that lacks the calcium plugin
    assert chart is None or (not chart.box.isVisibleTo(panel) and chart.widget.canvas is None
                             and chart.widget.risk.text() == "")
    assert not [kind for kind, button in panel.exports.items() if button.isEnabled()]
    assert result.provenance.plugin_id not in panel.status.text()
    assert [type(layer) for layer in window.model.layers] == [ImageLayer]
    assert not any(layer in list(window.model.layers) for layer in layers)
    assert window.layers_dock.list.count() == 1  # the Layers dock lists the image only


@pytest.mark.parametrize("plugin_id", list(STUDY_OF))
def test_a_result_leaves_with_its_patient_and_comes_back(reading, plugin_id) -> None:
    window, keys = reading
    panel = window.ai_panel
    open_series(window, keys[STUDY_OF[plugin_id]])
    bound = panel.shelf.for_volume(window.model.volume)
    result, layers = bound.result, list(bound.layers)
    assert_shows(window, result)
    old_row = panel.findings.rows[0]

    open_series(window, keys[PATIENT_B])
    assert window.model.volume.meta["patient"] != bound.source.volume.meta["patient"]  # really another patient
    assert_nothing_of(window, result, layers)
    crosshair = window.model.crosshair.copy()
    panel.findings.finding_chosen.emit(old_row)  # a click on a row of the old list, still queued
    panel.go_to_finding(old_row)
    assert np.array_equal(window.model.crosshair, crosshair)
    window.grid.view(window.model.views_in_layout()[0]).render_frame()
    save_artifact(window, f"study_switch_{plugin_id}_patient_b.png")
    save_artifact(panel, f"study_switch_{plugin_id}_patient_b_ai_panel.png")  # the whole panel, unscrolled

    open_series(window, keys[STUDY_OF[plugin_id]])
    assert_shows(window, result)
    assert all(new is old for new, old in zip(bound.layers, layers, strict=True))  # the same layers come back


def test_each_patient_shows_only_its_own_result(reading) -> None:
    window, keys = reading
    panel = window.ai_panel
    for plugin_id in [*STUDY_OF, next(iter(STUDY_OF))]:  # chest, brain, cardiac, then chest again
        open_series(window, keys[STUDY_OF[plugin_id]])
        result = panel.result
        assert result is not None and result.provenance.plugin_id == plugin_id
        assert {ids.study_uid for ids in result.provenance.inputs.values()} == {window.model.volume.ids.study_uid}
        assert_shows(window, result)


def test_another_series_of_the_same_study_keeps_the_result(reading) -> None:
    window, keys = reading
    panel = window.ai_panel
    open_series(window, keys["brain_mri"])
    result = panel.result
    analysed = {ids.series_uid for ids in result.provenance.inputs.values()}
    shown = keys["brain_mri"].series_uid
    other = next(key for key in window.browser.series_keys()
                 if key.series_uid != shown and key.series_uid in analysed)
    open_series(window, other)
    volume = window.model.volume
    assert volume.ids.study_uid == panel.shelf.for_volume(volume).source.volume.ids.study_uid
    assert panel.result is result and panel.findings.rowCount() == len(result.findings)
    assert result.label_map.geometry.same_grid(volume.geometry)  # the phantom's sequences share one grid
    assert any(isinstance(layer, LabelLayer) and layer.label_map is result.label_map for layer in window.model.layers)
    assert panel.exports["seg"].isEnabled()
    window.model.set_crosshair(window.model.crosshair + 30.0)
    panel.findings.cellClicked.emit(0, 1)  # same frame of reference: the crosshair goes to the finding
    point = panel.findings.rows[0].point  # the crosshair takes the voxel centre nearest the finding
    nearest = volume.voxel_to_patient(np.rint(volume.patient_to_voxel(point)))
    assert np.allclose(window.model.crosshair, nearest, atol=1e-3)


def test_a_run_ending_after_the_switch_stays_with_its_study(window, qtbot, tmp_path) -> None:
    from engine.ai.registry import discover

    make_plugin(tmp_path / "plugins", "slow_lesions", slow=True)  # about 4 s: the switch comes first
    panel = window.ai_panel
    panel.set_registry(discover([tmp_path / "plugins"], entry_points=False))
    patient_a = cube_volume()
    patient_b = dataclasses.replace(cube_volume(), ids=SourceIds("9.8.7", "9.8.7.1", "9.8.7.2"),
                                    meta={**cube_volume().meta, "patient": {"PatientName": "Other^Patient"}})
    window.show_volume(patient_a)
    qtbot.mouseClick(panel.run_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.progress.maximum() == 200, timeout=20000)  # running on patient A
    window.show_volume(patient_b)
    qtbot.waitUntil(lambda: not panel.job.busy and not panel.progress.isVisible(), timeout=60000)
    kept = panel.shelf.for_volume(patient_a)
    assert kept is not None and kept.result.provenance.plugin_id == "slow_lesions"
    assert_nothing_of(window, kept.result, kept.layers)
    assert "another study" in panel.status.text()
    window.show_volume(patient_a)
    assert_shows(window, kept.result)


def test_editing_summary_tool_and_clip_box_stay_with_their_patient(reading) -> None:
    window, keys = reading
    editing, state = window.editing, window.volume_state
    clip_panel = window.grid.view(VOLUME_3D).clip_panel
    open_series(window, keys["cardiac_ct"])
    assert editing.start_editing()
    editing.use_tool("brush")
    shape = np.array(window.model.volume.array.shape)
    assert editing.editor.press(AXIAL, (shape - 1) / 2.0)
    editing.editor.release()
    accepted = editing.accept()
    assert accepted is not None
    summary = editing.panel.summary.text()
    assert "Overall:" in summary
    clip_panel.sliders[2][1].setValue(40)  # the reader narrows the box along I-S
    assert state.clip[2].tolist() == [0.0, 0.4]

    open_series(window, keys[PATIENT_B])
    assert editing.panel.summary.text() == ""
    assert editing.editor.tool is None and not editing.editor.editing and editing.panel.labels.count() == 0
    assert not any(button.isChecked() for button in editing.panel.tool_buttons.values())
    assert not window.actions_by_id["edit.undo"].isEnabled()
    assert not any(isinstance(layer, LabelLayer) for layer in window.model.layers)
    assert np.array_equal(state.clip, [[0, 1]] * 3)
    assert [(low.value(), high.value()) for low, high in clip_panel.sliders] == [(0, 100)] * 3
    save_artifact(window, "study_switch_editing_patient_b.png")

    open_series(window, keys["cardiac_ct"])
    assert editing.panel.summary.text() == summary  # the study's own correction summary comes back
    assert editing.editor.tool is None and np.array_equal(state.clip, [[0, 1]] * 3)
