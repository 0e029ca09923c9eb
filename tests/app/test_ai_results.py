"""The Qt-free AI logic: an AnalysisResult becomes viewer layers, finding rows with tiers in words,
measurement rows and a provenance line; series are matched to roles; exports say what they can do."""

from __future__ import annotations

import numpy as np
import pytest

from app.viewer_model.ai_inputs import SHOWN, Candidate, match_inputs
from app.viewer_model.ai_results import finding_rows, measurement_rows, provenance_line, result_layers
from app.viewer_model.layers import HeatmapLayer, LabelLayer, MarkerLayer
from engine.ai.manifest import InputRole
from engine.ai.result import AnalysisResult, Finding, Measurement, Provenance, SimilarCase
from engine.analysis.exports import ExportSource, why_unavailable
from engine.volume import Heatmap, Label, LabelMap
from tests.app.conftest import CUBE_LPS, cube_volume


def sample_result(volume) -> AnalysisResult:
    geometry = volume.geometry
    centre = tuple(volume.patient_to_voxel(CUBE_LPS))
    box = (tuple(v - 3 for v in centre), tuple(v + 3 for v in centre))
    findings = [Finding.at(geometry, centre, "lesion", 0.943, "high", size_mm=12.0, box_voxel=box),
                Finding.at(geometry, (32, 32, 32), "lesion", 0.8, "medium"),
                Finding.at(geometry, (20, 20, 20), "lesion", 0.5, "needs_review", description="faint")]
    labels = (volume.array == 1000).astype(np.uint8)
    return AnalysisResult(
        findings=findings,
        label_map=LabelMap(labels, geometry, [Label(1, "lesion", (255, 200, 0))]),
        heatmap=Heatmap(np.zeros(volume.array.shape, np.float32), geometry, "CAM"),
        measurements=[Measurement("nodule present probability", 0.91234, "1"),
                      Measurement("Agatston score", 112.0, "1", region="LAD")],
        similar_cases=[SimilarCase("case-7", 0.9, "phantom nodule", "/missing.png")],
        provenance=Provenance("demo", "1.0.0", {"detector": "ab" * 32}, "1.20.1", ["CPUExecutionProvider"],
                              "2024-01-02T10:00:00.000+00:00", 0.4321),
    )


def test_result_becomes_layers_and_rows() -> None:
    volume = cube_volume()
    result = sample_result(volume)
    heat, labels, markers = result_layers(result, volume.geometry, "Demo")
    assert isinstance(heat, HeatmapLayer) and isinstance(labels, LabelLayer) and isinstance(markers, MarkerLayer)
    assert heat.name == "Demo: CAM" and markers.name == "Demo: findings"
    box, point, _ = markers.markers
    assert np.allclose(box.center, CUBE_LPS) and np.allclose(box.size, (12.0, 12.0, 12.0))  # 6 voxels of 2 mm
    assert point.size is None and box.text == "1 HIGH 0.94" and point.text == "2 MEDIUM 0.80"
    rows = finding_rows(result)
    assert [row.confidence for row in rows] == ["HIGH 0.94", "MEDIUM 0.80", "NEEDS REVIEW 0.50"]
    assert len({row.color for row in rows}) == 3 and rows[0].size == "12.0 mm"
    assert np.allclose(rows[0].point, CUBE_LPS)
    assert [(m.name, m.value, m.unit, m.region) for m in measurement_rows(result)] == [
        ("nodule present probability", "0.9123", "", ""), ("Agatston score", "112", "", "LAD")]
    line = provenance_line(result)
    assert line.startswith("demo 1.0.0 · model detector abababababab ·") and "(CPU)" in line and "0.43 s" in line


def test_layers_only_for_what_the_result_has() -> None:
    volume = cube_volume()
    assert result_layers(AnalysisResult(), volume.geometry, "Demo") == []


def test_roles_are_matched_and_overrides_kept() -> None:
    manifest = type("M", (), {"inputs": [InputRole("T1", ["MR"], [r"(?i)t1"]), InputRole("T2", ["MR"], [r"(?i)t2"])]})
    candidates = [Candidate("a", None, "MR", "t2 tse"), Candidate("b", None, "MR", "T1 mprage"),
                  Candidate(SHOWN, None, "CT", "localiser")]
    assert match_inputs(manifest, candidates, {}).assignment == {"T1": "b", "T2": "a"}
    with pytest.raises(ValueError):
        match_inputs(manifest, candidates, {"T1": "a", "T2": "a"})


def test_exports_say_why_they_cannot_run() -> None:
    volume = cube_volume()
    result = sample_result(volume)
    source = ExportSource(result, volume, None, title="Demo")
    assert why_unavailable("sr", source) == "needs the DICOM series the result was computed on"
    assert why_unavailable("folder", source) == why_unavailable("nifti", source) == why_unavailable("pdf", source) == ""
    result.label_map = None
    assert why_unavailable("seg", source) == "needs the DICOM series the result was computed on"


def test_category_and_grade_units_are_not_shown_as_text() -> None:
    result = AnalysisResult(measurements=[Measurement("Risk category: Severe (> 400)", 4.0, "{category}", "total"),
                                          Measurement("CAC-DRS Agatston grade A3", 3.0, "{grade}", "total"),
                                          Measurement("Calcium volume score", 12.5, "mm3", "LAD")])
    assert [row.unit for row in measurement_rows(result)] == ["", "", "mm3"]
