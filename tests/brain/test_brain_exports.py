"""A four-series DICOM phantom study through role matching, the plugin and the exports (SEG, SR, PDF)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import highdicom as hd
import numpy as np
import pytest

from engine.ai.dicom_common import slice_order
from engine.ai.dicom_seg import seg_to_label_map
from engine.analysis.headers import read_headers
from engine.analysis.service import analyze_study
from engine.dicom.scanner import scan
from engine.nifti import read_nifti
from training.phantoms.brain_mri import make_brain_mri
from training.phantoms.export import write_brain_mri_study


def _dciodvfy_errors(path: Path) -> list[str]:
    if shutil.which("dciodvfy") is None:
        pytest.fail("dciodvfy (Debian dicom3tools) is missing: `make test` installs it")
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=120)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


@pytest.fixture(scope="module")
def analysed(plugin, tmp_path_factory) -> tuple[Path, Path]:
    study = tmp_path_factory.mktemp("study")
    write_brain_mri_study(make_brain_mri(21, (54, 64, 54)), study)  # 3 mm: the coarsest pixels the plugin takes
    out = tmp_path_factory.mktemp("out")
    analyze_study(study, plugin.id, out, audit_log=out / "audit.jsonl")
    return study, out


def test_every_output_is_written(analysed) -> None:
    _, out = analysed
    for name in ("result.json", "label_map.nii.gz", "heatmap.nii.gz", "sr.dcm", "seg.dcm", "report.pdf"):
        assert (out / name).is_file(), name
    document = json.loads((out / "result.json").read_text())
    assert document["clinical_use"] is False
    assert {m["region"] for m in document["measurements"]} == {"WT", "TC", "ET", "NCR", "ED"}


def test_seg_round_trip_lands_on_the_same_voxels_with_snomed_segments(analysed) -> None:
    study, out = analysed
    labels = read_nifti(out / "label_map.nii.gz")
    t1c = next(info for info in scan(study).series if info.description == "T1c")
    seg = hd.seg.segread(out / "seg.dcm")
    back = seg_to_label_map(seg, read_headers(t1c), labels.geometry)
    assert np.array_equal(back.array, labels.array.astype(np.uint8))
    codes = {label.name: label.concept.value for label in back.labels}
    assert codes == {"necrosis": "6574001", "oedema": "79654002", "enhancing tumour": "108369006"}
    assert _dciodvfy_errors(out / "seg.dcm") == []


def test_seg_region_segments_are_the_unions_of_the_labels(analysed) -> None:
    """Segments 4-6 are WT (1+2+3), TC (1+3) and ET (3), SNOMED-coded; every segment reads back exactly."""
    study, out = analysed
    labels = read_nifti(out / "label_map.nii.gz").array
    t1c = next(info for info in scan(study).series if info.description == "T1c")
    seg = hd.seg.segread(out / "seg.dcm")
    assert seg.segment_numbers == [1, 2, 3, 4, 5, 6]
    described = [seg.get_segment_description(number) for number in seg.segment_numbers[3:]]
    assert [(d.segment_label, d.segmented_property_type.value, d.segmented_property_type.scheme_designator,
             d.segmented_property_category.value, d.SegmentDescription) for d in described] == [
        ("whole tumour (WT = necrosis + oedema + enhancing)", "52988006", "SCT", "49755003",
         "union of segments 1, 2, 3"),
        ("tumour core (TC = necrosis + enhancing)", "108369006", "SCT", "49755003", "union of segments 1, 3"),
        ("enhancing tumour (ET)", "108369006", "SCT", "49755003", "union of segments 3"),
    ]
    ordered = slice_order(read_headers(t1c), read_nifti(out / "label_map.nii.gz").geometry)
    masks = seg.get_pixels_by_source_instance([d.SOPInstanceUID for d in ordered], combine_segments=False)
    expected = [labels == 1, labels == 2, labels == 3, labels > 0, (labels == 1) | (labels == 3), labels == 3]
    assert masks.shape[-1] == len(expected) and labels.any()
    for index, mask in enumerate(expected):
        assert np.array_equal(masks[..., index], mask), f"segment {index + 1}"
    document = json.loads((out / "result.json").read_text())
    assert [region["values"] for region in document["label_regions"]] == [[1, 2, 3], [1, 3], [3]]


def test_sr_is_valid(analysed) -> None:
    _, out = analysed
    assert _dciodvfy_errors(out / "sr.dcm") == []


def test_a_study_without_flair_is_refused_naming_the_role(plugin, analysed, tmp_path) -> None:
    study, _ = analysed
    partial = tmp_path / "partial"
    shutil.copytree(study, partial)
    shutil.rmtree(partial / "FLAIR")
    with pytest.raises(ValueError, match="FLAIR"):
        analyze_study(partial, plugin.id, tmp_path / "out", audit_log=tmp_path / "audit.jsonl")
