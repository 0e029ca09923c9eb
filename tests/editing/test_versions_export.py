"""Original (AI, read-only) and final (annotator) versions with provenance, the change summary, and the
accepted correction's exports: DICOM SEG (dciodvfy-clean, same voxels back) and NIfTI, plus audit entry."""

from __future__ import annotations

import getpass
import shutil
import subprocess
from pathlib import Path

import highdicom as hd
import numpy as np
import pytest

from engine.ai import audit
from engine.ai.dicom_common import ExportError, slice_order
from engine.ai.dicom_seg import seg_to_label_map
from engine.ai.hashing import sha256_file
from engine.ai.result import LabelRegion, Provenance
from engine.editing.accept import AUDIT_EVENT, accept_correction
from engine.editing.summary import change_summary
from engine.editing.versions import FINAL, ORIGINAL, VersionError, VersionStore
from engine.nifti import read_nifti
from engine.volume import CodedConcept, Label, LabelMap

MODEL_SHA = "ab" * 32


def _provenance() -> Provenance:
    return Provenance("brain_tumour", "1.2.0", {"segmenter": MODEL_SHA}, "1.18.0", ["CPUExecutionProvider"],
                      "2024-03-01T09:30:00+00:00", 2.5)


def _dciodvfy_errors(path: Path) -> list[str]:
    if shutil.which("dciodvfy") is None:
        pytest.fail("dciodvfy (Debian dicom3tools) is missing: `make test` installs it")
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=120)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


def _correct(label_map: LabelMap) -> None:
    label_map.array[3, 0:4, 0:4] = 1  # 16 voxels of lesion added
    label_map.array[4, 11:13, 11:13] = 0  # 4 voxels of lesion removed
    label_map.array[5, 8:20, 8:20] = 0  # 144 - 36 = 108 voxels of oedema and 36 of lesion removed


def test_change_summary_counts_volumes_and_dice(ct_series, ai_label_map) -> None:
    _, geometry = ct_series
    original = ai_label_map(geometry)
    final = LabelMap(original.array.copy(), geometry, list(original.labels))
    _correct(final)
    summary = change_summary(original, final)
    lesion, oedema = summary.label(1), summary.label(2)
    assert (lesion.voxels_original, lesion.added, lesion.removed, lesion.voxels_final) == (144, 16, 40, 120)
    assert (oedema.voxels_original, oedema.added, oedema.removed, oedema.voxels_final) == (432, 0, 108, 324)
    voxel_ml = 0.8 * 0.6 * 2.5 / 1000
    assert summary.voxel_volume_ml == pytest.approx(voxel_ml)
    assert lesion.volume_change_ml == pytest.approx(-24 * voxel_ml)
    assert lesion.dice == pytest.approx(2 * 104 / (144 + 120))
    assert oedema.dice == pytest.approx(2 * 324 / (432 + 324))
    assert summary.dice_overall == pytest.approx(2 * 428 / (576 + 444))
    assert summary.voxels_changed == 16 + 4 + 144
    manual = change_summary(None, final)
    assert manual.label(1).added == 120 and manual.label(1).dice == 0.0
    assert change_summary(None, LabelMap(np.zeros_like(final.array), geometry)).dice_overall is None


def test_original_is_kept_read_only_and_final_records_what_it_corrects(ct_series, ai_label_map) -> None:
    _, geometry = ct_series
    store = VersionStore.for_key("1.2.826.0.1.3680043.1")
    store.save_original(ai_label_map(geometry), _provenance())
    with pytest.raises(VersionError, match="never replaced"):
        store.save_original(ai_label_map(geometry), _provenance())
    original = store.load(ORIGINAL)
    assert not original.array.flags.writeable
    assert (store.folder / "original.json").stat().st_mode & 0o222 == 0

    work = store.working_copy()
    _correct(work)
    info = store.save_final(work, change_summary(original, work))
    assert info.user == getpass.getuser() and info.time_utc.endswith("+00:00")
    assert (info.plugin_id, info.plugin_version) == ("brain_tumour", "1.2.0")
    assert info.models == {"segmenter": MODEL_SHA}
    assert info.based_on_sha256 == store.info(ORIGINAL).array_sha256 and info.summary["voxels_changed"] == 164
    assert np.array_equal(store.load(FINAL).array, work.array)
    assert np.array_equal(store.load(ORIGINAL).array, ai_label_map(geometry).array)  # untouched
    assert np.array_equal(store.working_copy().array, work.array)
    assert store.load(FINAL).geometry.same_grid(geometry, tolerance_mm=1e-9)


def test_a_final_whose_voxels_do_not_match_their_record_is_refused(ct_series, ai_label_map, tmp_path) -> None:
    _, geometry = ct_series
    store = VersionStore(tmp_path / "labels")
    store.save_final(ai_label_map(geometry))
    other = VersionStore(tmp_path / "other")
    other.save_final(LabelMap(np.zeros(geometry.shape, np.uint8), geometry))
    shutil.copy(other.folder / "final.nii.gz", store.folder / "final.nii.gz")
    with pytest.raises(VersionError, match="do not match"):
        store.load(FINAL)


def test_accepting_writes_final_seg_nifti_and_an_audit_entry(ct_series, ai_label_map, tmp_path) -> None:
    sources, geometry = ct_series
    store = VersionStore.for_key("study-accept")
    store.save_original(ai_label_map(geometry), _provenance())
    final = store.working_copy()
    _correct(final)
    log = tmp_path / "audit.jsonl"
    accepted = accept_correction(store, final, tmp_path / "export", sources, audit_log=log)

    assert _dciodvfy_errors(accepted.seg_path) == []
    seg = hd.seg.segread(accepted.seg_path)
    assert seg.SegmentationType == "BINARY" and seg.ContentLabel == "CORRECTED"
    assert "brain_tumour 1.2.0" in seg.SeriesDescription
    assert str(seg.ContentCreatorName) == f"{getpass.getuser()}^"
    for number in (1, 2):
        description = seg.get_segment_description(number)
        assert description.algorithm_type == hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC
        assert description.algorithm_identification[0].AlgorithmName == "brain_tumour"
    assert {s.SeriesInstanceUID for s in seg.ReferencedSeriesSequence} == {sources[0].SeriesInstanceUID}
    back = seg_to_label_map(seg, sources, geometry)
    assert np.array_equal(back.array, final.array)
    assert [(lb.value, lb.name) for lb in back.labels] == [(1, "lesion"), (2, "oedema")]

    nifti = read_nifti(accepted.nifti_path)
    assert np.array_equal(nifti.array, final.array) and nifti.geometry.same_grid(geometry)
    assert np.array_equal(store.load(FINAL).array, final.array)

    (entry,) = audit.read_entries(log)
    assert entry["event"] == AUDIT_EVENT and entry["details"]["models"] == {"segmenter": MODEL_SHA}
    assert entry["details"]["summary"]["voxels_changed"] == 164
    assert entry["details"]["files"][str(accepted.seg_path.resolve())] == sha256_file(accepted.seg_path)
    assert audit.verify(log).ok


def test_the_plugins_label_regions_are_kept_with_the_original_and_recomputed_in_the_corrected_seg(
        ct_series, ai_label_map, tmp_path) -> None:
    sources, geometry = ct_series
    lesion_area = LabelRegion("lesion area (1 + 2)", (1, 2), (255, 150, 40),
                              CodedConcept("52988006", "SCT", "Lesion"))
    store = VersionStore(tmp_path / "labels")
    store.save_original(ai_label_map(geometry), _provenance(), [lesion_area])
    final = store.working_copy()
    _correct(final)
    accepted = accept_correction(store, final, tmp_path / "export", sources, audit_log=tmp_path / "audit.jsonl")

    assert store.info(FINAL).label_regions() == [lesion_area]
    assert _dciodvfy_errors(accepted.seg_path) == []
    seg = hd.seg.segread(accepted.seg_path)
    assert list(seg.segment_numbers) == [1, 2, 3]
    assert seg.get_segment_description(3).segment_label == lesion_area.name
    ordered = slice_order(sources, geometry)  # the label map's slice order
    region = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=[s.SOPInstanceUID for s in ordered], segment_numbers=[3], combine_segments=True)
    assert np.array_equal(np.asarray(region) > 0, np.isin(final.array, (1, 2)))
    back = seg_to_label_map(seg, sources, geometry)
    assert np.array_equal(back.array, final.array)  # the region segment is not read back as a label


def test_a_manual_segmentation_exports_as_manual(ct_series, ai_label_map, tmp_path) -> None:
    sources, geometry = ct_series
    store = VersionStore(tmp_path / "labels")
    accepted = accept_correction(store, ai_label_map(geometry), tmp_path / "export", sources,
                                 audit_log=tmp_path / "audit.jsonl")
    assert _dciodvfy_errors(accepted.seg_path) == []
    seg = hd.seg.segread(accepted.seg_path)
    description = seg.get_segment_description(1)
    assert description.algorithm_type == hd.seg.SegmentAlgorithmTypeValues.MANUAL
    assert "SegmentAlgorithmName" not in description and seg.SeriesDescription.startswith("Manual")
    assert accepted.final.based_on_sha256 is None and accepted.summary.label(1).added == 144


def test_a_label_without_a_coded_concept_is_refused_before_anything_is_written(
    ct_series, ai_label_map, tmp_path
) -> None:
    sources, geometry = ct_series
    store = VersionStore(tmp_path / "labels")
    final = ai_label_map(geometry)
    final.labels.append(Label(3, "scribble"))
    final.array[0, 0, 0] = 3
    with pytest.raises(ExportError, match="coded concept"):
        accept_correction(store, final, tmp_path / "export", sources, audit_log=tmp_path / "audit.jsonl")
    assert store.info(FINAL) is None and not (tmp_path / "export").exists()
    accepted = accept_correction(store, final, tmp_path / "nifti-only", audit_log=tmp_path / "audit.jsonl")
    assert accepted.seg_path is None and accepted.nifti_path.exists()
