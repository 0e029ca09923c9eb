"""The AI dock's wiring, end to end with a tiny real plugin (manifest + logic.py + an ONNX model built with
onnx.helper) in a temporary plugins folder: Run as a background job, overlays and findings appear, a finding
click centres the views, exports write files, Cancel stops a run, a tampered model is refused. The chest
X-ray plugin runs on the phantom radiograph when it has landed with its model."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from app.viewer_model.layers import HeatmapLayer, LabelLayer, MarkerLayer
from engine.ai.domain import Domain, save_reference
from engine.ai.manifest import SCHEMA_VERSION, Code, InputRole, Manifest, ModelFile, OutputLabel
from engine.ai.registry import discover
from tests.app.conftest import CUBE_LPS, cube_volume, save_artifact


def manifest(plugin_id: str, sha256: str, domain: Domain) -> Manifest:
    """The test plugins' manifest (written with Manifest.to_toml)."""
    return Manifest(
        schema_version=SCHEMA_VERSION, id=plugin_id, name="Bright lesion finder", version="0.0.1", kind="detection",
        modalities=["CT"], entry_point="logic:run", intended_use="Tests of the viewer's AI panel.",
        training_data="None: the model is a fixed scaling.", clinical_use=False,
        inputs=[InputRole(role="CT", modalities=["CT"])],
        models=[ModelFile(name="scaler", path="model.onnx", sha256=sha256)],
        labels=[OutputLabel(value=1, name="lesion", color=(255, 200, 0), code=Code("SCT", "52988006", "Lesion"))],
        domain=domain,
    )


LOGIC = """
import time

import numpy as np

from engine.ai.result import AnalysisResult, Finding, Measurement, SimilarCase
from engine.volume import Heatmap, LabelMap

SLOW = {slow}


def run(context):
    volume = context.inputs["CT"]
    for step in range(200 if SLOW else 1):
        context.report(step, 200 if SLOW else 2, "scaling")
        time.sleep(0.02 if SLOW else 0)
    (scaled,) = context.session().run(None, {{"image": volume.array.astype(np.float32)[None, None]}})
    context.report(1, 2, "finding the brightest voxels")
    bright = volume.array == volume.array.max()
    centre = tuple(float(v) for v in np.argwhere(bright).mean(axis=0))
    box = (tuple(v - 3 for v in centre), tuple(v + 3 for v in centre))
    findings = [
        Finding.at(volume.geometry, centre, "lesion", 0.96, "high", size_mm=12.0, box_voxel=box,
                   description="bright cube"),
        Finding.at(volume.geometry, (32.0, 32.0, 32.0), "lesion", 0.8, "medium"),
        Finding.at(volume.geometry, (20.0, 24.0, 28.0), "lesion", 0.4, "needs_review"),
    ]
    return AnalysisResult(
        findings=findings,
        heatmap=Heatmap(np.clip(scaled[0, 0], 0, 1).astype(np.float32), volume.geometry, "scaled HU"),
        label_map=LabelMap(bright.astype(np.uint8), volume.geometry, context.labels),
        measurements=[Measurement("lesion volume", float(bright.sum()) * 8.0, "mm3")],
        similar_cases=[SimilarCase("case-007", 0.91, "phantom cube, 12 mm", {thumbnail!r})],
        domain_features=np.array([1.0, 0.5], dtype=np.float32),
    )
"""


def scale_model(path: Path, factor: float) -> str:
    """A one-node ONNX graph multiplying a (1, 1, z, y, x) image by ``factor``; returns its SHA-256."""
    import onnx  # noqa: F401 - needed by the test
    from onnx import TensorProto, helper

    shape = ["N", 1, "z", "y", "x"]
    graph = helper.make_graph(
        [helper.make_node("Mul", ["image", "factor"], ["scaled"])], "scale",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("scaled", TensorProto.FLOAT, shape)],
        initializer=[helper.make_tensor("factor", TensorProto.FLOAT, [], [factor])])
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def make_plugin(root: Path, plugin_id: str, slow: bool = False, tamper: bool = False) -> None:
    folder = root / plugin_id
    folder.mkdir(parents=True)
    sha = scale_model(folder / "model.onnx", 0.001)
    thumbnail = root / "case-007.png"
    if not thumbnail.exists():
        from PySide6.QtGui import QColor, QImage

        image = QImage(64, 64, QImage.Format_RGB32)
        image.fill(QColor(90, 90, 90))
        image.save(str(thumbnail))
    reference = save_reference(folder / "domain.npz", np.array([[1.0, 0.5], [1.0, 0.52]], dtype=np.float32))
    domain = Domain(reference="domain.npz", sha256=reference, threshold=0.01, k=1)
    (folder / "manifest.toml").write_text(manifest(plugin_id, "0" * 64 if tamper else sha, domain).to_toml())
    (folder / "logic.py").write_text(LOGIC.format(slow=slow, thumbnail=str(thumbnail)))


@pytest.fixture
def panel(window, tmp_path: Path):
    make_plugin(tmp_path / "plugins", "bright_lesions")
    make_plugin(tmp_path / "plugins", "slow_lesions", slow=True)
    make_plugin(tmp_path / "plugins", "tampered_lesions", tamper=True)
    window.docks["ai"].raise_()
    panel = window.ai_panel
    panel.audit_log = tmp_path / "audit.jsonl"
    panel.set_registry(discover([tmp_path / "plugins"], entry_points=False))
    window.show_volume(cube_volume())
    return panel


def choose(panel, plugin_id: str) -> None:
    panel.plugins.setCurrentIndex(panel.plugins.findData(plugin_id))


def run_and_wait(panel, qtbot) -> None:
    """Click Run and wait for the panel's own slots to have shown the outcome (waiting on the job's
    cross-thread signals themselves would race the panel's queued slots)."""
    qtbot.mouseClick(panel.run_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not panel.job.busy and not panel.progress.isVisible(), timeout=60000)


def test_run_shows_overlays_findings_and_provenance(window, panel, qtbot, tmp_path, monkeypatch) -> None:
    choose(panel, "bright_lesions")
    assert "Bright lesion finder 0.0.1 (detection)" in panel.about.text() and "hash ok" in panel.about.text()
    assert "NOT FOR CLINICAL USE" in panel.notice.text()
    assert panel.findChild(type(panel.plugins), "ai_role_CT").currentText() == "CT synthetic cube"
    run_and_wait(panel, qtbot)
    kinds = [type(layer) for layer in window.model.layers]
    assert kinds[-3:] == [HeatmapLayer, LabelLayer, MarkerLayer]
    texts = [panel.findings.item(row, 2).text() for row in range(panel.findings.rowCount())]
    # the plain-language text is in the list itself; a finding without one shows its label
    assert [panel.findings.item(row, 1).text() for row in range(3)] == ["bright cube", "lesion", "lesion"]
    assert texts == ["HIGH 0.96", "MEDIUM 0.80", "NEEDS REVIEW 0.40"]
    assert panel.measurements.item(0, 0).text() == "lesion volume"
    assert panel.similar.count() == 1
    assert panel.status.text().startswith("bright_lesions 0.0.1 · model scaler ")
    assert not panel.exports["sr"].isEnabled() and "DICOM series" in panel.exports["sr"].toolTip()
    axial = window.grid.view("axial")
    axial.render_frame()
    save_artifact(window, "ai_result_1x3.png")

    window.model.zoom("axial", 3.0)
    panel.findings.cellClicked.emit(0, 1)
    assert np.allclose(window.model.crosshair, CUBE_LPS, atol=1.0)  # the voxel centre nearest the finding
    assert np.allclose(window.model.cameras["axial"].center, panel.findings.rows[0].point)
    rgb = axial.render_rgb()
    x, y = axial.plane.patient_to_pixel(CUBE_LPS)
    assert abs(x - axial.width() / 2) < 2 and abs(y - axial.height() / 2) < 2
    assert rgb[round(y), round(x), 0] > rgb[round(y), round(x), 2] + 60  # the yellow label over the cube
    save_artifact(window, "ai_finding_centred.png")

    dialog = panel.show_case(panel.similar.item(0).data(Qt.UserRole))
    assert "phantom cube, 12 mm" in dialog.details.text()
    save_artifact(dialog, "ai_similar_case.png")
    dialog.close()

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args: str(tmp_path / "out"))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (str(tmp_path / "labels.nii.gz"), ""))
    panel.exports["folder"].click()
    assert (tmp_path / "out" / "result.json").is_file()
    assert json.loads((tmp_path / "out" / "result.json").read_text())["findings"][0]["tier"] == "high"
    panel.exports["nifti"].click()
    assert (tmp_path / "labels.nii.gz").is_file() and "Saved" in panel.status.text()
    audit = (tmp_path / "audit.jsonl").read_text()
    assert '"ai_run"' in audit and '"export"' in audit


def test_cancel_stops_a_running_plugin(panel, qtbot) -> None:
    choose(panel, "slow_lesions")
    qtbot.mouseClick(panel.run_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.progress.maximum() == 200, timeout=20000)  # the plugin reports progress
    assert panel.cancel_button.isEnabled() and not panel.run_button.isEnabled()
    qtbot.mouseClick(panel.cancel_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.status.text() == "Cancelled.", timeout=20000)
    assert panel.run_button.isEnabled()
    assert panel.findings.rowCount() == 0


def test_tampered_model_is_refused_before_running(panel) -> None:
    choose(panel, "tampered_lesions")
    assert "HASH MISMATCH" in panel.about.text()
    assert not panel.run_button.isEnabled()


def test_chest_xray_plugin_on_the_phantom_radiograph(window, qtbot, samples, tmp_path, monkeypatch) -> None:
    registry = discover()
    assert registry.get("chest_xray_nodules").hash_status()["detector"][0] == "ok", "shipped model altered"
    panel = window.ai_panel
    panel.audit_log = tmp_path / "audit.jsonl"
    panel.set_registry(registry)
    with qtbot.waitSignal(window.settled, timeout=60000):
        window.open_path(samples / "chest_xray")
    choose(panel, "chest_xray_nodules")
    assert panel.run_button.isEnabled()
    run_and_wait(panel, qtbot)
    assert panel.status.text().startswith("chest_xray_nodules ")
    assert any(isinstance(layer, HeatmapLayer) for layer in window.model.layers)
    save_artifact(window, "ai_chest_xray.png")
    if panel.similar.count():
        dialog = panel.show_case(panel.similar.item(0).data(Qt.UserRole))
        save_artifact(dialog, "ai_chest_similar_case.png")
        dialog.close()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (str(tmp_path / "report.pdf"), ""))
    panel.exports["pdf"].click()
    assert (tmp_path / "report.pdf").read_bytes()[:4] == b"%PDF"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (str(tmp_path / "sr.dcm"), ""))
    panel.exports["sr"].click()
    assert (tmp_path / "sr.dcm").is_file(), panel.status.text()
