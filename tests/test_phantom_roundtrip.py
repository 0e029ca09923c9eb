"""Acceptance round trips: phantom -> DICOM -> scan -> load gives the identical array and geometry, and a
label map written as NIfTI lands on the same patient points as the loaded DICOM volume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from engine.dicom.loader import load_series
from engine.dicom.scanner import scan
from engine.volume import Volume
from training.phantoms.brain_mri import make_brain_mri
from training.phantoms.cardiac_ct import make_cardiac_ct
from training.phantoms.chest_xray import make_chest_xray
from training.phantoms.export import (
    write_brain_mri_study,
    write_cardiac_ct_study,
    write_chest_xray_study,
    write_prostate_mri_study,
)
from training.phantoms.prostate_mri import make_prostate_mri


def _loaded_by_description(folder: Path) -> dict[str, Volume]:
    result = scan(folder)
    assert result.errors == []
    return {series.description: load_series(series) for series in result.series}


def _assert_same_image(loaded: Volume, expected: Volume) -> None:
    np.testing.assert_array_equal(loaded.array, expected.array)
    assert loaded.geometry.same_grid(expected.geometry, tolerance_mm=1e-3), (loaded.geometry, expected.geometry)
    np.testing.assert_allclose(loaded.geometry.direction, expected.geometry.direction, atol=1e-6)


def test_cardiac_ct_round_trip_keeps_hu_and_geometry(tmp_path: Path) -> None:
    case = make_cardiac_ct(3, size=128, slices=12)
    write_cardiac_ct_study(case, tmp_path)
    (loaded,) = _loaded_by_description(tmp_path).values()
    assert loaded.array.dtype == np.int16  # CT kept as int16 HU
    _assert_same_image(loaded, case.volume())
    assert loaded.geometry.orientation_letters() == ("L", "P", "S")


def test_brain_mri_four_sequences_share_one_grid(tmp_path: Path) -> None:
    case = make_brain_mri(5, shape=(24, 32, 28))
    write_brain_mri_study(case, tmp_path)
    loaded = _loaded_by_description(tmp_path)
    assert sorted(loaded) == sorted(case.sequences)
    for name, volume in loaded.items():
        _assert_same_image(volume, case.volume(name))
    frames = {v.ids.frame_of_reference_uid for v in loaded.values()}
    assert len(frames) == 1 and "" not in frames


def test_prostate_round_trip(tmp_path: Path) -> None:
    case = make_prostate_mri(7, positive=True, shape=(8, 64, 64))
    write_prostate_mri_study(case, tmp_path)
    (loaded,) = _loaded_by_description(tmp_path).values()
    _assert_same_image(loaded, case.volume())


def test_chest_radiograph_round_trip_is_2d_with_detector_spacing(tmp_path: Path) -> None:
    case = make_chest_xray(9, size=256, nodules=2)
    write_chest_xray_study(case, tmp_path)
    (loaded,) = _loaded_by_description(tmp_path).values()
    assert loaded.geometry.is_projection and loaded.modality == "DX"
    np.testing.assert_array_equal(loaded.array, case.image)
    np.testing.assert_allclose(loaded.spacing[:2], case.geometry.spacing[:2])
    # PatientOrientation L\F: columns run to the patient's left, rows to the feet
    np.testing.assert_allclose(loaded.direction, case.geometry.direction)
    assert loaded.geometry.orientation_letters()[:2] == ("L", "I")


@pytest.mark.parametrize("kind", ["cardiac_ct", "brain_mri"])
def test_nifti_label_map_lands_on_the_dicom_voxels(tmp_path: Path, kind: str) -> None:
    if kind == "cardiac_ct":
        case = make_cardiac_ct(4, size=128, slices=12)
        write_cardiac_ct_study(case, tmp_path)
        nifti_name, volume = "calcium_labels.nii.gz", case.volume()
    else:
        case = make_brain_mri(6, shape=(24, 32, 28))
        write_brain_mri_study(case, tmp_path)
        nifti_name, volume = "labels.nii.gz", case.volume("T1c")
    (nifti_path,) = tmp_path.rglob(nifti_name)
    labels = sitk.ReadImage(str(nifti_path))
    array = sitk.GetArrayFromImage(labels)
    marked = tuple(int(v) for v in np.argwhere(array > 0)[0])  # a labelled voxel, (z, y, x)
    loaded = next(iter(_loaded_by_description(tmp_path).values()))
    expected = volume.voxel_to_patient(marked)
    np.testing.assert_allclose(labels.TransformIndexToPhysicalPoint(marked[::-1]), expected, atol=1e-3)
    np.testing.assert_allclose(loaded.patient_to_voxel(expected), marked, atol=1e-3)
