"""NIfTI export keeps every voxel at its patient point: checked with SimpleITK and nibabel (RAS)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from engine.geometry import Geometry, direction_from_image_orientation
from engine.nifti import read_nifti, write_nifti
from engine.volume import LabelMap, Volume

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


@pytest.fixture
def oblique_volume() -> Volume:
    direction = direction_from_image_orientation([0.96, 0.28, 0.0, 0.0952, -0.3264, -0.94043])
    geometry = Geometry((9, 12, 15), (0.9, 1.1, 3.0), (-80.0, 20.0, 130.0), direction)
    array = np.arange(np.prod(geometry.shape), dtype=np.int16).reshape(geometry.shape)
    return Volume(array, geometry, modality="MR")


def test_marked_voxel_lands_on_same_patient_point(tmp_path, oblique_volume: Volume) -> None:
    marked = (4, 7, 11)
    path = write_nifti(oblique_volume, tmp_path / "oblique.nii.gz")
    expected_lps = oblique_volume.voxel_to_patient(marked)

    itk = sitk.ReadImage(str(path))
    itk_lps = itk.TransformIndexToPhysicalPoint(marked[::-1])
    np.testing.assert_allclose(itk_lps, expected_lps, atol=1e-4)
    assert sitk.GetArrayFromImage(itk)[marked] == oblique_volume.array[marked]

    nifti = nib.load(str(path))
    ras = nifti.affine @ np.array([*marked[::-1], 1.0])  # nibabel indexes (i, j, k) = (x, y, z)
    np.testing.assert_allclose(LPS_TO_RAS @ ras[:3], expected_lps, atol=1e-4)


def test_round_trip_keeps_array_and_geometry(tmp_path, oblique_volume: Volume) -> None:
    back = read_nifti(write_nifti(oblique_volume, tmp_path / "v.nii"))
    np.testing.assert_array_equal(back.array, oblique_volume.array)
    assert back.geometry.same_grid(oblique_volume.geometry, tolerance_mm=1e-4)


def test_label_map_round_trip(tmp_path, oblique_volume: Volume) -> None:
    labels = LabelMap(np.zeros(oblique_volume.geometry.shape, np.uint8), oblique_volume.geometry)
    labels.array[2:4, 3:5, 6:9] = 3
    back = read_nifti(write_nifti(labels, tmp_path / "labels.nii.gz"))
    assert back.array.dtype == np.uint8
    np.testing.assert_array_equal(back.array, labels.array)


def test_bad_file_names_the_file(tmp_path) -> None:
    bogus = tmp_path / "broken.nii.gz"
    bogus.write_bytes(b"not a nifti")
    with pytest.raises(ValueError, match="broken.nii.gz"):
        read_nifti(bogus)
    with pytest.raises(ValueError, match="must end in"):
        write_nifti(Volume(np.zeros((2, 2, 2), np.int16), Geometry((2, 2, 2))), tmp_path / "x.mha")
