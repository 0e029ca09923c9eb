"""The Synthesis dock, end to end with the shipped CCELLA plugin (ONNX Runtime, no torch): templates fill the
prompt, Generate runs as a background job with progress, the volume opens as a new SYNTHETIC series listed in the
catalog, Cancel stops a run, saves write NIfTI / DICOM, and every generation is in the audit log."""

from __future__ import annotations

from pathlib import Path

import pydicom

from engine.ai import audit
from plugins.prostate_synthesis.form import CLASS_MODE_LABELS, describe_result
from plugins.prostate_synthesis.templates import load_fields, load_templates
from plugins.prostate_synthesis.types import CLASS_MODES
from tests.app.conftest import save_artifact

FEW_STEPS = 4  # enough to exercise the whole path; image quality is the model card's business


def _panel(window, qtbot):
    panel = window.plugin_panel("prostate_synthesis")
    window.docks["prostate_synthesis"].raise_()
    qtbot.waitUntil(lambda: panel.isVisible(), timeout=5000)
    return panel


def _generate(window, qtbot, panel, steps: int = FEW_STEPS) -> None:
    panel.steps.setValue(steps)
    with qtbot.waitSignal(window.settled, timeout=60_000):
        panel.generate_button.click()
    panel.job.wait()


def test_class_mode_labels_cover_every_mode_and_mark_the_override_as_an_extension() -> None:
    assert tuple(CLASS_MODE_LABELS) == CLASS_MODES
    assert "CCELLA" in CLASS_MODE_LABELS["auto"]
    assert all("extension" in CLASS_MODE_LABELS[mode] for mode in ("negative", "positive"))


def test_the_manifest_adds_the_synthesis_dock_behind_the_ai_tab(window, qtbot) -> None:
    """The window knows no synthesis plugin: the dock comes from the manifest's [host] dock, with its title, a
    tab beside AI and Editing (AI stays on top) and its place in the Docks menu."""
    qtbot.waitUntil(lambda: "prostate_synthesis" in window.docks, timeout=10000)  # built after the first paint
    dock = window.docks["prostate_synthesis"]
    assert dock.windowTitle() == "Synthesis" and dock.objectName() == "dock_synthesis"
    tabs = sorted(other.objectName() for other in window.tabifiedDockWidgets(window.docks["ai"]))
    assert tabs == ["dock_editing", "dock_synthesis"]
    assert not window.docks["ai"].visibleRegion().isEmpty() and dock.visibleRegion().isEmpty()
    titles = [action.text() for action in window.docks_menu.actions()]
    assert titles == ["Studies", "Layers", "Measurements", "AI", "Synthesis", "Editing", "Worklist", "Priors"]
    assert window.plugin_panel("prostate_synthesis").objectName() == "synthesis_panel"


def test_templates_fill_the_prompt_with_their_defaults_and_the_fields(window, qtbot) -> None:
    panel = _panel(window, qtbot)
    templates = load_templates()
    positive = next(i for i, t in enumerate(templates) if t.expected_class == "positive" and "side" in t.placeholders)
    panel.template.setCurrentIndex(positive)
    assert panel.prompt.toPlainText() == templates[positive].fill()
    other_side = next(s for s in load_fields()["side"].choices if s != templates[positive].defaults["side"])
    panel.field_widgets["side"].setCurrentText(other_side)
    assert f"{other_side} peripheral zone" in panel.prompt.toPlainText()
    normal = next(i for i, t in enumerate(templates) if "side" not in t.placeholders)
    panel.template.setCurrentIndex(normal)
    assert not panel.field_widgets["side"].isEnabled()
    assert panel.prompt.toPlainText() == templates[normal].fill()


def test_generate_opens_a_new_synthetic_series_and_audits_it(window, qtbot, tmp_path: Path) -> None:
    panel = _panel(window, qtbot)
    panel.template.setCurrentIndex(0)
    panel.seed.setValue(7)
    panel.guidance.setValue(1.5)
    _generate(window, qtbot, panel)
    result = panel.result
    assert result is not None and result.request.seed == 7 and result.request.steps == FEW_STEPS
    assert result.request.guidance == 1.5
    assert panel.summary.text() == describe_result(result)
    assert "Predicted from the report" in panel.summary.text()
    assert f"lesion read: side {result.predicted_side}" in panel.summary.text()
    assert f"level {result.predicted_level}" in panel.summary.text()
    volume = window.model.volume
    assert volume is not None and volume.modality == "MR"
    assert volume.array.shape == result.volume.array.shape
    assert (volume.array == result.volume.array).all()  # the series written and re-read is the generated one
    patients = [row.key.patient_id for row in window.catalog.patients()]
    assert "SYNTHETIC" in patients
    first = pydicom.dcmread(sorted(panel.series_folder.glob("*.dcm"))[0], stop_before_pixels=True)
    assert first.SeriesDescription.startswith("SYNTHETIC") and list(first.ImageType)[:2] == ["DERIVED", "SECONDARY"]
    entries = [e for e in audit.read_entries() if e["event"] == "ai_synthesis"]
    assert entries and entries[-1]["details"]["status"] == "completed" and entries[-1]["details"]["guidance"] == 1.5
    save_artifact(window, "synthesis_panel_window.png")
    nifti, sidecar = panel.save_nifti(tmp_path / "synthetic.nii.gz")
    assert nifti.exists() and sidecar.exists()
    assert len(panel.save_dicom(tmp_path / "dicom")) == result.volume.array.shape[0]


def test_cancel_stops_a_generation_and_is_audited(window, qtbot) -> None:
    panel = _panel(window, qtbot)
    panel.steps.setValue(1000)
    with qtbot.waitSignal(panel.job.cancelled, timeout=60_000):
        panel.generate_button.click()
        qtbot.waitUntil(lambda: panel.progress.value() >= 2, timeout=30_000)
        panel.cancel_button.click()
    panel.job.wait()
    assert panel.status.text() == "Generation cancelled."
    assert panel.generate_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert panel.result is None
    entries = [e for e in audit.read_entries() if e["event"] == "ai_synthesis"]
    assert entries[-1]["details"]["status"] == "cancelled"


def _wheel(widget, steps: int = 1) -> None:
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    centre = QPointF(widget.rect().center())
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, -120 * steps),
                        Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_the_wheel_changes_a_setting_only_once_it_has_the_focus(window, qtbot) -> None:
    panel = _panel(window, qtbot)
    window.activateWindow()
    panel.prompt.setFocus()
    qtbot.waitUntil(panel.prompt.hasFocus, timeout=5000)
    _wheel(panel.guidance, 4)  # scrolling the dock over the box
    _wheel(panel.seed, 3)
    assert panel.guidance.value() == 2.0 and panel.seed.value() == 0
    panel.guidance.setFocus()
    qtbot.waitUntil(panel.guidance.hasFocus, timeout=5000)
    _wheel(panel.guidance, 1)
    assert panel.guidance.value() == 1.5  # clicked into: the wheel steps it
