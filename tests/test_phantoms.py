"""Phantom generators: determinism, ground-truth consistency, orientation, DICOM round trip, dciodvfy."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest

from engine.nifti import read_nifti
from training.phantoms import (
    agatston_scores,
    make_brain_mri,
    make_cardiac_ct,
    make_chest_xray,
    make_prostate_mri,
)
from training.phantoms.export import (
    write_brain_mri_study,
    write_cardiac_ct_study,
    write_chest_xray_study,
    write_prostate_mri_study,
)
from training.phantoms.identity import make_study_context

BRAIN_SHAPE = (48, 56, 48)
PROSTATE_SHAPE = (16, 64, 64)


@pytest.fixture(scope="module")
def chest():
    return make_chest_xray(5, size=512, nodules=3)


@pytest.fixture(scope="module")
def brain():
    return make_brain_mri(5, shape=BRAIN_SHAPE)


@pytest.fixture(scope="module")
def cardiac():
    return make_cardiac_ct(5, size=160, slices=44)


@pytest.fixture(scope="module")
def prostate():
    return make_prostate_mri(5, positive=True, shape=PROSTATE_SHAPE)


def _arrays(case) -> list[np.ndarray]:
    for name in ("image", "hu"):
        if hasattr(case, name):
            return [getattr(case, name)] + ([case.labels] if hasattr(case, "labels") else [])
    return [*case.sequences.values(), case.labels]


@pytest.mark.parametrize("make", [
    lambda seed: make_chest_xray(seed, size=256),
    lambda seed: make_brain_mri(seed, shape=(24, 28, 24)),
    lambda seed: make_cardiac_ct(seed, size=96, slices=12),
    lambda seed: make_prostate_mri(seed, shape=(12, 48, 48)),
], ids=["chest", "brain", "cardiac", "prostate"])
def test_same_seed_same_case_other_seed_differs(make) -> None:
    first, again, other = make(3), make(3), make(4)
    for a, b in zip(_arrays(first), _arrays(again), strict=True):
        assert np.array_equal(a, b)
    assert first.truth() == again.truth()
    assert not np.array_equal(_arrays(first)[0], _arrays(other)[0])


def test_study_identifiers_are_deterministic_and_phi_like() -> None:
    one, same, other = (make_study_context("brain_mri", s, "MR") for s in (1, 1, 2))
    assert one == same
    assert one.study_uid != other.study_uid and one.patient_id != other.patient_id
    assert "^" in one.patient_name and len(one.birth_date) == 8 and one.accession and one.institution
    assert make_study_context("chest_xray", 1, "XR").study_uid != one.study_uid


def test_chest_nodules_are_where_the_truth_says(chest) -> None:
    image, spacing = chest.image.astype(float), chest.geometry.spacing[0]
    assert len(chest.nodules) == 3
    rows, cols = np.indices(image.shape)
    for nodule in chest.nodules:
        row, col = nodule.centre_px
        radius = nodule.diameter_mm / 2 / spacing
        distance = np.hypot(rows - row, cols - col)
        core = image[distance <= max(radius * 0.5, 1.0)].mean()
        ring = image[(distance >= radius * 1.5 + 1) & (distance <= radius * 2.5 + 3)].mean()
        assert core > ring, nodule
        assert 4 <= nodule.diameter_mm <= 30 and nodule.contrast > 0
        r0, c0, r1, c1 = nodule.bbox_px
        assert r0 <= row < r1 and c0 <= col < c1
        assert chest.lung_mask[int(round(row)), int(round(col))]
        assert nodule.side == ("left" if col > chest.midline_col else "right")
        assert nodule.location == f"{nodule.side} {nodule.zone} zone"
        lps = chest.geometry.voxel_to_patient(np.array([row, col]))
        assert np.allclose(nodule.centre_lps, lps, atol=1e-2)


def test_chest_orientation_heart_on_patient_left(chest) -> None:
    heart_col = np.argwhere(chest.heart_mask)[:, 1].mean()
    assert heart_col > chest.midline_col  # image right = patient left in a PA view
    assert chest.geometry.orientation_letters()[:2] == ("L", "I")
    assert chest.image.dtype == np.uint16 and chest.image.max() < 4096


def test_brain_label_volumes_and_contrasts(brain) -> None:
    voxel_ml = float(np.prod(brain.geometry.spacing)) / 1000
    counts = np.bincount(brain.labels.ravel(), minlength=4)
    assert set(np.unique(brain.labels)) <= {0, 1, 2, 3} and counts[2] > 0 and counts[3] > 0
    for value, name in ((1, "NCR"), (2, "ED"), (3, "ET")):
        assert brain.volumes_ml[name] == pytest.approx(counts[value] * voxel_ml, abs=1e-3)
    assert brain.volumes_ml["WT"] == pytest.approx(counts[1:].sum() * voxel_ml, abs=1e-3)
    seq = {name: array.astype(float) for name, array in brain.sequences.items()}
    head = seq["T1"] > 0.3 * seq["T1"].max()
    normal = head & (brain.labels == 0)
    assert seq["T1c"][brain.labels == 3].mean() > 1.15 * seq["T1c"][normal].mean()
    assert seq["FLAIR"][brain.labels == 2].mean() > 1.2 * np.median(seq["FLAIR"][normal])
    assert seq["T2"][brain.labels == 2].mean() > np.median(seq["T2"][normal])
    if counts[1]:
        assert seq["T1c"][brain.labels == 1].mean() < seq["T1c"][brain.labels == 3].mean()
    centroid_x = brain.geometry.voxel_to_patient(np.argwhere(brain.labels > 0).mean(axis=0))[0]
    assert brain.side == ("left" if centroid_x > 0 else "right") or abs(centroid_x) < 3


def test_agatston_truth_function_on_a_hand_built_example() -> None:
    hu = np.zeros((2, 8, 8), dtype=np.int16)
    labels = np.zeros_like(hu, dtype=np.uint8)
    hu[0, 1:3, 1:3] = 250  # 4 px x 0.5 mm^2 = 2 mm^2, weight 2 -> 4
    labels[0, 1:3, 1:3] = 2
    hu[0, 5, 5] = 900  # 1 px = 0.5 mm^2 < 1 mm^2: ignored
    labels[0, 5, 5] = 2
    hu[1, 4:6, 4:7] = 150  # 6 px = 3 mm^2, peak 450 -> weight 4 -> 12
    hu[1, 5, 6] = 450
    labels[1, 4:6, 4:7] = 4
    hu[1, 0, 0:4] = 120  # below 130 HU: not calcium
    labels[1, 0, 0:4] = 1
    scores = agatston_scores(hu, labels, pixel_area_mm2=0.5)
    assert scores == {"LM": 0.0, "LAD": 4.0, "LCX": 0.0, "RCA": 12.0, "total": 16.0}


def test_cardiac_plaques_truth_and_orientation(cardiac) -> None:
    assert cardiac.plaques, "seed 5 has calcium"
    assert set(np.unique(cardiac.labels)) <= {0, 1, 2, 3, 4}
    for plaque in cardiac.plaques:
        assert 130 <= plaque.peak_hu <= 1000
        assert abs(plaque.measured_peak_hu - plaque.peak_hu) < 120
        assert cardiac.labels[plaque.centre_voxel] == plaque.artery
        assert plaque.voxels > 0
    pixel_area = cardiac.geometry.spacing[0] * cardiac.geometry.spacing[1]
    assert cardiac.agatston == agatston_scores(cardiac.hu, cardiac.labels, pixel_area)
    assert cardiac.agatston["total"] > 0
    heart, spine = np.array(cardiac.heart_centre_lps), np.array(cardiac.spine_centre_lps)
    assert heart[0] > spine[0] + 10  # heart on the patient's left
    assert spine[1] > heart[1] + 40  # spine posterior
    spine_voxel = np.rint(cardiac.geometry.patient_to_voxel(spine)).astype(int)
    assert cardiac.hu[tuple(spine_voxel)] > 150  # bone where the truth puts the vertebra
    assert cardiac.geometry.spacing[2] == 3.0


def test_cardiac_some_plaques_lie_close_to_bone() -> None:
    distances = [p.distance_to_bone_mm for seed in range(3)
                 for p in make_cardiac_ct(seed, size=128, slices=44).plaques]
    assert distances and min(distances) < 10


def test_prostate_class_pirads_report_consistency(prostate) -> None:
    assert prostate.label_class == 1 and prostate.pirads in (4, 5)
    lesion = prostate.lesion
    assert (lesion["size_mm"] >= 15) == (prostate.pirads == 5)
    assert lesion["side"] in prostate.report.lower()
    assert re.search(rf"PI-RADS (category )?{prostate.pirads}\b", prostate.report)
    image = prostate.image.astype(float)
    assert image[prostate.labels == 3].mean() < 0.7 * image[prostate.labels == 1].mean()
    centre_x = prostate.geometry.voxel_to_patient(np.array(lesion["centre_voxel"], dtype=float))[0]
    assert lesion["side"] == ("left" if centre_x > 0 else "right")
    for seed in range(6):
        negative = make_prostate_mri(seed, positive=False, shape=(12, 48, 48))
        assert negative.label_class == 0 and negative.pirads <= 3
        assert (negative.lesion is None) == (negative.pirads < 3)


def _series(folder: Path) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(path) for path in sorted(folder.glob("*.dcm"))]


def _check_stack(datasets: list[pydicom.Dataset], pixels: np.ndarray, spacing: float) -> None:
    datasets.sort(key=lambda ds: int(ds.InstanceNumber))
    assert np.array_equal(np.stack([ds.pixel_array for ds in datasets]), pixels)
    normal = np.cross(*np.asarray(datasets[0].ImageOrientationPatient, dtype=float).reshape(2, 3))
    along = [float(np.dot(normal, np.asarray(ds.ImagePositionPatient, dtype=float))) for ds in datasets]
    assert np.allclose(np.diff(along), spacing, atol=1e-3)
    assert len({ds.SOPInstanceUID for ds in datasets}) == len(datasets)
    assert datasets[0].file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber", "InstitutionName",
                    "ReferringPhysicianName", "StationName", "StudyID"):
        assert str(datasets[0].get(keyword, "")), keyword
    assert datasets[0].Manufacturer == "Sightline Phantoms"


def _dciodvfy_errors(path: Path) -> list[str]:
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]




@pytest.fixture(scope="module")
def written(tmp_path_factory, chest, brain, cardiac, prostate) -> Path:
    root = tmp_path_factory.mktemp("phantom_studies")
    write_chest_xray_study(chest, root / "chest")
    write_brain_mri_study(brain, root / "brain")
    write_cardiac_ct_study(cardiac, root / "cardiac")
    write_prostate_mri_study(prostate, root / "prostate")
    return root


def test_chest_dicom_round_trip(written, chest) -> None:
    (ds,) = _series(written / "chest" / "DX_PA")
    assert np.array_equal(ds.pixel_array, chest.image)
    assert ds.Modality == "DX" and ds.ViewPosition == "PA" and list(ds.PatientOrientation) == ["L", "F"]
    assert ds.PhotometricInterpretation == "MONOCHROME2" and ds.BitsStored == 12
    assert ds.BurnedInAnnotation == "NO"
    assert float(ds.ImagerPixelSpacing[0]) == pytest.approx(chest.geometry.spacing[1])
    truth = json.loads((written / "chest" / "ground_truth.json").read_text())
    assert truth["phantom"] is True and len(truth["nodules"]) == len(chest.nodules)


def test_brain_dicom_round_trip_and_label_nifti(written, brain) -> None:
    series = {name: _series(written / "brain" / name) for name in ("T1", "T1c", "T2", "FLAIR")}
    for name, datasets in series.items():
        _check_stack(datasets, brain.sequences[name], brain.geometry.spacing[2])
        assert datasets[0].SeriesDescription == name and datasets[0].Modality == "MR"
    assert len({s[0].StudyInstanceUID for s in series.values()}) == 1
    assert len({s[0].FrameOfReferenceUID for s in series.values()}) == 1
    assert len({s[0].SeriesInstanceUID for s in series.values()}) == 4
    assert "ContrastBolusAgent" in series["T1c"][0] and "InversionTime" in series["FLAIR"][0]
    labels = read_nifti(written / "brain" / "labels.nii.gz")
    assert np.array_equal(labels.array, brain.labels) and labels.geometry.same_grid(brain.geometry)


def test_cardiac_dicom_round_trip(written, cardiac) -> None:
    datasets = _series(written / "cardiac" / "CT_calcium_3mm")
    _check_stack(datasets, cardiac.pixels(), 3.0)
    ds = datasets[0]
    assert float(ds.RescaleIntercept) == -1024 and float(ds.RescaleSlope) == 1 and float(ds.KVP) == 120
    hu = np.stack([d.pixel_array.astype(np.int16) for d in datasets]) - 1024
    assert np.array_equal(hu, cardiac.hu)
    labels = read_nifti(written / "cardiac" / "calcium_labels.nii.gz")
    assert np.array_equal(labels.array, cardiac.labels)


def test_prostate_dicom_round_trip(written, prostate) -> None:
    _check_stack(_series(written / "prostate" / "T2_axial"), prostate.image, prostate.geometry.spacing[2])
    truth = json.loads((written / "prostate" / "ground_truth.json").read_text())
    assert truth["class"] == 1 and truth["report"] == prostate.report


@pytest.mark.parametrize("relative", ["chest/DX_PA", "brain/T1c", "brain/FLAIR", "cardiac/CT_calcium_3mm",
                                      "prostate/T2_axial"])
def test_dciodvfy_reports_no_errors(written, relative) -> None:
    first = sorted((written / relative).glob("*.dcm"))[0]
    assert _dciodvfy_errors(first) == []
