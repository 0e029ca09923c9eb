"""Readers for CT + artery-mask case folders (orCaScore-like), on tiny fixtures written here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from engine.geometry import Geometry
from engine.nifti import write_nifti
from engine.volume import Label, LabelMap, Volume
from plugins.coronary_calcium_ct.io import CalciumInputError
from tests.sitk_reference import to_sitk
from training.calcium.readers import iter_cases, read_case, records
from training.phantoms.cardiac_ct import make_cardiac_ct
from training.phantoms.export import write_cardiac_ct_study

GRID = Geometry(shape=(3, 32, 32), spacing=(0.5, 0.5, 3.0), origin=(-8.0, -8.0, 0.0))


def _nifti_case(folder: Path, name: str = "image.nii.gz", grid: Geometry = GRID) -> np.ndarray:
    folder.mkdir(parents=True)
    hu = np.full(GRID.shape, 40, dtype=np.int16)
    hu[1, 10:14, 10:14] = 450
    labels = np.zeros(GRID.shape, dtype=np.uint8)
    labels[1, 10:14, 10:14] = 2
    image = Volume(hu, grid, modality="CT")
    if name.endswith(".mha"):
        sitk.WriteImage(to_sitk(image), str(folder / name))
    else:
        write_nifti(image, folder / name)
    write_nifti(LabelMap(labels, GRID, [Label(2, "LAD")]), folder / "mask.nii.gz")
    return labels


def test_reads_image_file_and_dicom_folder_cases(tmp_path: Path) -> None:
    labels = _nifti_case(tmp_path / "case_a")
    phantom = make_cardiac_ct(2, size=96, slices=8)
    write_cardiac_ct_study(phantom, tmp_path / "case_b")
    (tmp_path / "case_b" / "calcium_labels.nii.gz").rename(tmp_path / "case_b" / "mask.nii.gz")
    cases = list(iter_cases(tmp_path))
    assert [case.case_id for case in cases] == ["case_a", "case_b"]
    np.testing.assert_array_equal(cases[0].labels, labels)
    np.testing.assert_array_equal(cases[1].labels, phantom.labels)
    np.testing.assert_array_equal(cases[1].volume.array, phantom.hu)


def test_records_target_the_labelled_artery(tmp_path: Path) -> None:
    _nifti_case(tmp_path / "case_a", name="image.mha")
    (record,) = records(tmp_path)
    assert record.target.tolist() == [2]  # one 16-pixel LAD lesion, 4 mm^2 x weight 4
    assert record.cand_scores[0, 0] == 16.0 and record.truth_scores[1, 0] == 16.0
    assert np.isnan(record.baseline_agatston).all()  # no heart centre: no baseline


def test_mask_on_another_grid_names_the_file(tmp_path: Path) -> None:
    _nifti_case(tmp_path / "case_a", grid=Geometry(shape=GRID.shape, spacing=(0.6, 0.6, 3.0)))
    with pytest.raises(CalciumInputError, match="mask.nii.gz: the label map is not on the CT's grid"):
        read_case(tmp_path / "case_a")


def test_missing_mask_is_reported(tmp_path: Path) -> None:
    (tmp_path / "case_x").mkdir()
    with pytest.raises(CalciumInputError, match="case_x: no mask file"):
        read_case(tmp_path / "case_x")
