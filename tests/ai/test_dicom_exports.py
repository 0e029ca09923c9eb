"""DICOM SR (TID 1500) and SEG exports: dciodvfy-clean, and what we wrote reads back the same."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from engine.ai import audit
from engine.ai.dicom_common import ExportError
from engine.ai.dicom_seg import build_seg, seg_to_label_map
from engine.ai.dicom_sr import PROBABILITY, TIER, build_sr, measurement_concept
from engine.ai.exports import export_nifti, export_result_folder, export_seg, export_sr
from engine.ai.result import AnalysisResult, Finding, LabelRegion, Measurement, Provenance
from engine.geometry import Geometry
from engine.nifti import read_nifti
from engine.volume import CodedConcept, Label, LabelMap, SourceIds

LESION = CodedConcept("52988006", "SCT", "Lesion")
OEDEMA = CodedConcept("79654002", "SCT", "Edema")
MODEL_SHA = "ab" * 32


def _provenance() -> Provenance:
    return Provenance(
        "brain_test",
        "2.0.1",
        {"segmenter": MODEL_SHA},
        "1.31.1",
        ["CPUExecutionProvider"],
        "2026-01-01T00:00:00.000+00:00",
        1.5,
        {"CT": SourceIds("1.2", "1.2.3", "1.2.4")},
    )


def _result(geometry: Geometry) -> AnalysisResult:
    array = np.zeros(geometry.shape, np.uint8)
    array[1:3, 3:6, 2:5] = 1
    array[3, 5:8, 5:8] = 2
    labels = [Label(1, "lesion", (255, 0, 0), LESION), Label(2, "oedema", (0, 255, 0), OEDEMA)]
    findings = [
        Finding.at(
            geometry,
            (1.5, 4.0, 3.0),
            "lesion",
            0.93,
            "high",
            size_mm=3.5,
            description="left frontal lesion, 3.5 mm",
            concept=LESION,
        ),
        Finding.at(
            geometry,
            (1.5, 4.0, 3.0),
            "lesion",
            0.75,
            "medium",
            box_voxel=((1, 3, 2), (2, 5, 4)),
            concept=LESION,
        ),
        Finding.at(geometry, (3, 6, 6), "oedema", 0.5, "needs_review", box_voxel=((3, 5, 5), (3, 7, 7))),
    ]
    return AnalysisResult(
        findings=findings,
        label_map=LabelMap(array, geometry, labels),
        measurements=[
            Measurement("Agatston score", 12.5, "1", "LAD"),
            Measurement("Total volume", 3.25, "mm3"),
        ],
        provenance=_provenance(),
    )


def _dciodvfy_errors(path: Path) -> list[str]:
    if shutil.which("dciodvfy") is None:
        pytest.fail("dciodvfy (Debian dicom3tools) is missing: `make test` installs it")
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=120)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


@pytest.fixture
def series(make_ct_series) -> tuple[list[Dataset], Geometry]:
    return make_ct_series()


def _groups(sr: Dataset) -> list:
    return list(sr.content.get_planar_roi_measurement_groups()) + list(
        sr.content.get_volumetric_roi_measurement_groups()
    )


def test_sr_is_valid_and_findings_round_trip(series, tmp_path: Path) -> None:
    sources, geometry = series
    result = _result(geometry)
    path = tmp_path / "sr.dcm"
    build_sr(result, sources, geometry).save_as(path, enforce_file_format=True)
    assert _dciodvfy_errors(path) == []

    sr = hd.sr.srread(path)
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    planar = sr.content.get_planar_roi_measurement_groups()
    volumetric = sr.content.get_volumetric_roi_measurement_groups()
    assert len(planar) == 2 and len(volumetric) == 1
    by_identifier = {group.tracking_identifier: group for group in planar + volumetric}

    point = by_identifier["left frontal lesion, 3.5 mm"]
    assert point.finding_type.value == LESION.value
    assert point.get_measurements(name=PROBABILITY)[0].value == pytest.approx(0.93)
    assert point.get_measurements(name=codes.SCT.Diameter)[0].value == pytest.approx(3.5)
    assert point.get_qualitative_evaluations(name=TIER)[0].value.meaning == "High"
    region = point.roi
    assert region.graphic_type == hd.sr.GraphicTypeValues3D.POINT
    assert region.frame_of_reference_uid == sources[0].FrameOfReferenceUID
    np.testing.assert_allclose(region.value[0], result.findings[0].location_patient, atol=1e-3)

    flat_box = by_identifier["finding 3: oedema"]
    assert flat_box.roi.graphic_type == hd.sr.GraphicTypeValues3D.POLYGON
    corners = geometry.patient_to_voxel(flat_box.roi.value)
    np.testing.assert_allclose(corners[[0, 2]], [(3, 5, 5), (3, 7, 7)], atol=1e-3)
    assert flat_box.get_qualitative_evaluations(name=TIER)[0].value.meaning == "Needs review"

    (box,) = volumetric
    assert box.get_measurements(name=PROBABILITY)[0].value == pytest.approx(0.75)
    surface = box.roi
    assert surface.graphic_type == hd.sr.GraphicTypeValues3D.POLYGON
    slices = [geometry.patient_to_voxel(polygon)[:, 0] for polygon in surface.graphic_data]
    np.testing.assert_allclose([s.mean() for s in slices], [1, 2], atol=1e-3)

    texts = [e.value for e in pydicom.dcmread(path).iterall() if e.keyword == "TextValue"]
    # TID 4019 algorithm identification (name, version, model hash) in every finding group
    assert texts.count("brain_test") >= 3 and texts.count("2.0.1") >= 3
    assert texts.count(f"model segmenter sha256={MODEL_SHA}") >= 3


def test_sr_carries_the_measurements_per_region(series, tmp_path: Path) -> None:
    sources, geometry = series
    sr_dataset = build_sr(_result(geometry), sources, geometry)
    sr_dataset.save_as(tmp_path / "sr.dcm", enforce_file_format=True)
    sr = hd.sr.srread(tmp_path / "sr.dcm")
    groups = {g.tracking_identifier: g for g in sr.content.get_image_measurement_groups()}
    assert set(groups) == {"measurements: LAD", "measurements: overall"}
    (agatston,) = groups["measurements: LAD"].get_measurements(name=measurement_concept("Agatston score"))
    assert agatston.value == pytest.approx(12.5) and agatston.unit.value == "1"
    (volume,) = groups["measurements: overall"].get_measurements(name=measurement_concept("Total volume"))
    assert volume.value == pytest.approx(3.25) and volume.unit.value == "mm3"


def test_sr_for_a_projection_radiograph_uses_image_coordinates(make_ct_series, tmp_path: Path) -> None:
    sources, _ = make_ct_series(n_slices=1)
    image = sources[0]
    geometry = Geometry(shape=(image.Rows, image.Columns), spacing=(0.7, 0.8))
    finding = Finding.at(
        geometry,
        (4.0, 3.0),
        "nodule",
        0.95,
        "high",
        box_voxel=((2, 1), (6, 5)),
        description="right upper zone nodule, 8 mm",
        size_mm=8.0,
    )
    point = Finding.at(geometry, (4.0, 3.0), "nodule", 0.8, "medium")
    build_sr(AnalysisResult(findings=[finding, point]), [image], geometry).save_as(tmp_path / "sr.dcm")
    assert _dciodvfy_errors(tmp_path / "sr.dcm") == []
    groups = hd.sr.srread(tmp_path / "sr.dcm").content.get_planar_roi_measurement_groups()
    rectangle = groups[0].roi
    assert rectangle.graphic_type == hd.sr.GraphicTypeValues.POLYLINE
    np.testing.assert_allclose(rectangle.value[[0, 2]], [(1.5, 2.5), (5.5, 6.5)])  # (column, row) + 0.5
    np.testing.assert_allclose(groups[1].roi.value[0], (3.5, 4.5))


def test_seg_is_valid_and_lands_on_the_same_voxels(series, tmp_path: Path) -> None:
    sources, geometry = series
    result = _result(geometry)
    path = tmp_path / "seg.dcm"
    build_seg(result.label_map, sources, result.provenance).save_as(path)
    assert _dciodvfy_errors(path) == []

    seg = hd.seg.segread(path)
    assert seg.SegmentationType == "BINARY"
    assert {s.SeriesInstanceUID for s in seg.ReferencedSeriesSequence} == {sources[0].SeriesInstanceUID}
    first = seg.get_segment_description(1)
    assert first.segment_label == "lesion" and first.segmented_property_type.value == LESION.value
    assert first.segmented_property_type.scheme_designator == "SCT"
    assert first.algorithm_type == hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC
    algorithm = first.algorithm_identification[0]
    assert (algorithm.AlgorithmName, algorithm.AlgorithmVersion) == ("brain_test", "2.0.1")
    assert MODEL_SHA in algorithm.AlgorithmParameters

    back = seg_to_label_map(seg, list(reversed(sources)), geometry)
    np.testing.assert_array_equal(back.array, result.label_map.array)
    assert [(label.value, label.name, label.concept) for label in back.labels] == [
        (1, "lesion", LESION),
        (2, "oedema", OEDEMA),
    ]
    assert back.labels[1].color == pytest.approx((0, 255, 0), abs=2)


def test_seg_renumbers_sparse_label_values(series) -> None:
    sources, geometry = series
    array = np.zeros(geometry.shape, np.uint8)
    array[0, 0, :3] = 4
    array[2, 1, :2] = 9
    label_map = LabelMap(array, geometry, [Label(9, "b", concept=OEDEMA), Label(4, "a", concept=LESION)])
    seg = build_seg(label_map, sources)
    back = seg_to_label_map(seg, sources, geometry)
    assert [label.name for label in back.labels] == ["a", "b"]
    np.testing.assert_array_equal(back.array, np.select([array == 4, array == 9], [1, 2], 0))


def test_exports_refuse_inputs_that_do_not_fit(series, make_ct_series) -> None:
    sources, geometry = series
    result = _result(geometry)
    with pytest.raises(ExportError, match="no source image for slice"):
        build_seg(result.label_map, sources[:-1])
    with pytest.raises(ExportError, match="is not on a slice"):
        shifted = Geometry(geometry.shape, geometry.spacing, (0.0, 0.0, 0.0), geometry.direction)
        build_sr(result, sources, shifted)
    unlabeled = LabelMap(result.label_map.array, geometry, [Label(1, "x"), Label(2, "y")])
    with pytest.raises(ExportError, match="has no coded concept"):
        build_seg(unlabeled, sources)
    wrong_size = make_ct_series(rows=8)[0]
    with pytest.raises(ExportError, match="is 8x10"):
        build_seg(result.label_map, wrong_size)


def test_every_export_is_written_and_audited(series, tmp_path: Path) -> None:
    sources, geometry = series
    result = _result(geometry)
    export_sr(result, sources, geometry, tmp_path / "out" / "sr.dcm")
    export_seg(result, sources, tmp_path / "out" / "seg.dcm")
    export_nifti(result, "label_map", tmp_path / "out" / "labels.nii.gz")
    export_result_folder(result, tmp_path / "out" / "result")
    assert pydicom.dcmread(tmp_path / "out" / "sr.dcm").Modality == "SR"
    np.testing.assert_array_equal(
        read_nifti(tmp_path / "out" / "labels.nii.gz").array, result.label_map.array
    )
    entries = audit.read_entries()
    assert [e["details"]["kind"] for e in entries] == [
        "DICOM SR",
        "DICOM SEG",
        "NIfTI label_map",
        "result folder",
    ]
    assert str((tmp_path / "out" / "sr.dcm").resolve()) in entries[0]["details"]["files"]
    assert len(entries[3]["details"]["files"]) == 2 and audit.verify().ok
    with pytest.raises(ExportError, match="no heatmap"):
        export_nifti(result, "heatmap", tmp_path / "h.nii.gz")


def test_seg_label_regions_are_extra_overlapping_segments(series, tmp_path: Path) -> None:
    sources, geometry = series
    result = _result(geometry)
    result.label_regions = [LabelRegion("lesion or oedema", (1, 2), (0, 0, 255), LESION),
                            LabelRegion("oedema again", (2,), (0, 255, 255), OEDEMA)]
    path = export_seg(result, sources, tmp_path / "seg.dcm")
    assert _dciodvfy_errors(path) == []

    seg = hd.seg.segread(path)
    assert seg.segment_numbers == [1, 2, 3, 4]
    union = seg.get_segment_description(3)
    assert union.segment_label == "lesion or oedema" and union.segmented_property_type.value == LESION.value
    assert union.SegmentDescription == "union of segments 1, 2"
    uids = [dataset.SOPInstanceUID for dataset in sorted(sources, key=lambda d: d.ImagePositionPatient[2])]
    masks = seg.get_pixels_by_source_instance(uids, combine_segments=False)
    labels = result.label_map.array
    for index, expected in enumerate([labels == 1, labels == 2, labels > 0, labels == 2]):
        np.testing.assert_array_equal(masks[..., index], expected)
    back = seg_to_label_map(seg, sources, geometry)  # the labels alone: region segments left out
    np.testing.assert_array_equal(back.array, labels)
    assert [label.name for label in back.labels] == ["lesion", "oedema"]


def test_seg_refuses_a_region_of_unknown_labels(series) -> None:
    sources, geometry = series
    result = _result(geometry)
    with pytest.raises(ExportError, match="region 'x' names label values \\[1, 7\\]"):
        build_seg(result.label_map, sources, regions=[LabelRegion("x", (1, 7), (0, 0, 0), LESION)])


def test_sr_carries_the_warnings_as_qualitative_evaluations(series, tmp_path: Path) -> None:
    sources, geometry = series
    result = _result(geometry)
    result.warnings = ["FLAIR has another voxel grid than T1c: resampled", "second warning"]
    path = export_sr(result, sources, geometry, tmp_path / "sr.dcm")
    assert _dciodvfy_errors(path) == []
    root = pydicom.dcmread(path).ContentSequence
    (container,) = [item for item in root if item.ConceptNameCodeSequence[0].CodeValue == "C0034375"]
    assert container.ConceptNameCodeSequence[0].CodingSchemeDesignator == "UMLS"
    assert [(item.ValueType, item.ConceptNameCodeSequence[0].CodeMeaning, item.TextValue)
            for item in container.ContentSequence] == [("TEXT", "AI analysis warning", text)
                                                       for text in result.warnings]
    assert len(_groups(hd.sr.srread(path))) == 3  # the findings still read back through highdicom
    quiet = build_sr(_result(geometry), sources, geometry)
    assert not [item for item in quiet.ContentSequence if item.ConceptNameCodeSequence[0].CodeValue == "C0034375"]
