"""AnalysisResult <-> result.json (+ NIfTI overlays): JSON Schema validity and exact round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.ai.result import AnalysisResult, Finding, LabelRegion, Measurement, Provenance, SimilarCase
from engine.ai.result_json import ResultFileError, load_result, result_sha256, result_to_json, save_result
from engine.geometry import Geometry
from engine.volume import CodedConcept, Heatmap, Label, LabelMap, SourceIds

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "resources/schemas/analysis_result.schema.json").read_text()
)
NODULE = CodedConcept("27925004", "SCT", "Nodule")


def make_result() -> AnalysisResult:
    direction = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # sagittal-ish, non-trivial
    geometry = Geometry(
        shape=(4, 6, 5), spacing=(0.5, 0.6, 2.0), origin=(10.0, -20.0, 30.5), direction=direction
    )
    labels = np.zeros(geometry.shape, np.uint8)
    labels[1:3, 2:4, 1:3] = 1
    labels[3, 0, 0] = 2
    label_map = LabelMap(
        labels, geometry, [Label(1, "nodule", (255, 0, 0), NODULE), Label(2, "other", (0, 9, 9))]
    )
    heat = Heatmap(
        np.linspace(0, 1, labels.size, dtype=np.float32).reshape(geometry.shape), geometry, "grad-cam"
    )
    finding = Finding.at(
        geometry,
        (1.5, 2.5, 1.5),
        "nodule",
        0.93,
        "high",
        size_mm=8.0,
        description="right upper zone nodule, 8 mm",
        box_voxel=((1, 2, 1), (2, 3, 2)),
        concept=NODULE,
    )
    return AnalysisResult(
        findings=[finding, Finding.at(geometry, (0, 0, 0), "other", 0.5, "needs_review")],
        label_map=label_map,
        label_regions=[LabelRegion("nodule or other", (1, 2), (9, 9, 255), NODULE)],
        heatmap=heat,
        measurements=[
            Measurement("Agatston score", 112.5, "1", region="LAD"),
            Measurement("Volume", 3.2, "mm3"),
        ],
        embedding=np.array([0.25, -1.5, 3.0], dtype=np.float32),
        similar_cases=[SimilarCase("case-7", 0.91, "nodule", "/lib/thumbs/7.png")],
        warnings=["FLAIR has another voxel grid than T1c: resampled"],
        provenance=Provenance(
            "chest",
            "1.0.0",
            {"detector": "a" * 64},
            "1.31.1",
            ["CPUExecutionProvider"],
            "2026-01-02T03:04:05.678+00:00",
            0.25,
            {"CT": SourceIds("1.2.3", "1.2.3.4", "1.2.3.5")},
        ),
    )


def test_finding_at_computes_patient_coordinates() -> None:
    geometry = Geometry(shape=(3, 4, 5), spacing=(0.5, 0.5, 2.0), origin=(1.0, 2.0, 3.0))
    finding = Finding.at(geometry, (1, 2, 4), "x", 0.8, "medium")
    assert finding.location_patient == (3.0, 3.0, 5.0)
    projection = Finding.at(Geometry(shape=(4, 5), spacing=(0.2, 0.3)), (2, 1), "x", 0.8, "medium")
    assert projection.location_patient == pytest.approx((0.2, 0.6, 0.0))


@pytest.mark.parametrize(
    "kwargs", [{"probability": 1.2}, {"tier": "low"}, {"size_mm": -1.0}, {"box_voxel": ((0, 0), (1, 1))}]
)
def test_invalid_findings_are_refused(kwargs: dict) -> None:
    base = dict(
        label="x", probability=0.5, tier="needs_review", location_voxel=(0, 0, 0), location_patient=(0, 0, 0)
    )
    with pytest.raises(ValueError):
        Finding(**{**base, **kwargs})


def test_result_json_follows_the_published_schema(tmp_path: Path) -> None:
    import jsonschema
    result = make_result()
    jsonschema.validate(result_to_json(result), SCHEMA)
    jsonschema.validate(result_to_json(AnalysisResult()), SCHEMA)
    save_result(result, tmp_path)
    document = json.loads((tmp_path / "result.json").read_text())
    jsonschema.validate(document, SCHEMA)
    assert document["schema_version"] == 3 and document["clinical_use"] is False
    assert document["warnings"] == ["FLAIR has another voxel grid than T1c: resampled"]
    broken = {**document, "findings": [{**document["findings"][0], "tier": "low"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)


def test_result_round_trips_through_its_folder(tmp_path: Path) -> None:
    result = make_result()
    written = save_result(result, tmp_path / "run1")
    assert sorted(p.name for p in written.values()) == ["heatmap.nii.gz", "label_map.nii.gz", "result.json"]
    back = load_result(tmp_path / "run1")
    assert back.findings == result.findings
    assert back.measurements == result.measurements and back.similar_cases == result.similar_cases
    assert back.provenance == result.provenance
    assert back.warnings == result.warnings and back.label_regions == result.label_regions
    np.testing.assert_array_equal(back.embedding, result.embedding)
    assert back.label_map.labels == result.label_map.labels
    np.testing.assert_array_equal(back.label_map.array, result.label_map.array)
    assert back.label_map.array.dtype == np.uint8
    assert back.label_map.geometry.same_grid(result.label_map.geometry)
    np.testing.assert_array_equal(back.heatmap.array, result.heatmap.array)
    assert back.heatmap.name == "grad-cam"
    assert result_sha256(back) == result_sha256(result)


def test_empty_result_round_trips(tmp_path: Path) -> None:
    save_result(AnalysisResult(), tmp_path)
    back = load_result(tmp_path / "result.json")
    assert (
        back.findings == [] and back.label_map is None and back.embedding is None and back.provenance is None
    )


def test_swapped_overlay_or_unknown_version_is_refused(tmp_path: Path) -> None:
    result = make_result()
    save_result(result, tmp_path)
    other = make_result()
    other.label_map.array[0, 0, 0] = 1
    save_result(AnalysisResult(label_map=other.label_map), tmp_path / "other")
    (tmp_path / "label_map.nii.gz").write_bytes((tmp_path / "other" / "label_map.nii.gz").read_bytes())
    with pytest.raises(ResultFileError, match="do not match the hash"):
        load_result(tmp_path)
    document = json.loads((tmp_path / "result.json").read_text())
    (tmp_path / "result.json").write_text(json.dumps({**document, "schema_version": 99}))
    with pytest.raises(ResultFileError, match="unsupported schema_version 99"):
        load_result(tmp_path)


def test_version_1_results_are_still_read_and_valid(tmp_path: Path) -> None:
    """result.json files written before warnings and label regions existed (schema 1) load with neither."""
    result = make_result()
    save_result(result, tmp_path)
    document = json.loads((tmp_path / "result.json").read_text())
    old = {key: value for key, value in document.items() if key not in ("warnings", "label_regions")}
    (tmp_path / "result.json").write_text(json.dumps({**old, "schema_version": 1}))
    back = load_result(tmp_path)
    assert back.warnings == [] and back.label_regions == []
    assert back.findings == result.findings and back.label_map.labels == result.label_map.labels
    import jsonschema
    jsonschema.validate({**old, "schema_version": 1}, SCHEMA)
    with pytest.raises(jsonschema.ValidationError, match="warnings"):
        jsonschema.validate({**old, "schema_version": 2}, SCHEMA)
    (tmp_path / "result.json").write_text(json.dumps({**old, "schema_version": 2}))
    with pytest.raises(ResultFileError, match="malformed"):
        load_result(tmp_path)
