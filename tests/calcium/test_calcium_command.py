"""`sightline calcium-score`: DICOM folder or NIfTI CT + artery label map -> table / JSON; grid checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from engine.geometry import Geometry
from engine.nifti import write_nifti
from engine.volume import Label, LabelMap, Volume
from tests.calcium.conftest import LABELS_FILE, SERIES_FOLDER


def test_dicom_series_json_matches_the_phantom_truth(small_study, capsys: pytest.CaptureFixture) -> None:
    folder, case = small_study
    code = main(["calcium-score", str(folder / SERIES_FOLDER), "--labels", str(folder / LABELS_FILE), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    for name in ("LM", "LAD", "LCX", "RCA"):
        assert round(report["arteries"][name]["agatston"], 3) == case.agatston[name]
    assert report["total"]["agatston"] == pytest.approx(case.agatston["total"], abs=2e-3)
    assert report["slice_spacing_mm"] == 3.0 and "8-connected" in report["rules"]
    assert report["risk_category"]["key"] in ("none", "minimal", "mild", "moderate", "severe")


def test_nifti_table_and_calibration(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    grid = Geometry(shape=(2, 6, 6), spacing=(0.5, 0.5, 3.0), origin=(-10.0, 5.0, 20.0))
    hu = np.full(grid.shape, 40, dtype=np.int16)
    hu[1, 2:4, 2:4] = 420  # 1 mm^2 at weight 4 -> Agatston 4, volume 3 mm^3, mass c x 420 x 3 / 1000
    labels = np.zeros(grid.shape, dtype=np.uint8)
    labels[1, 2:4, 2:4] = 4
    write_nifti(Volume(hu, grid, modality="CT"), tmp_path / "ct.nii.gz")
    write_nifti(LabelMap(labels, grid, [Label(4, "RCA")]), tmp_path / "mask.nii.gz")
    args = ["calcium-score", str(tmp_path / "ct.nii.gz"), "--labels", str(tmp_path / "mask.nii.gz")]
    assert main(args + ["--json", "--calibration", "0.8"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["arteries"]["RCA"]["agatston"] == 4.0 and report["total"]["volume_mm3"] == 3.0
    assert report["total"]["mass_mg"] == pytest.approx(0.8 * 420 * 3.0 / 1000)
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "RCA" in table and "Minimal" in table and "Rules:" in table


def test_mask_on_another_grid_is_refused_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    grid = Geometry(shape=(2, 6, 6), spacing=(0.5, 0.5, 3.0))
    write_nifti(Volume(np.zeros(grid.shape, np.int16), grid, modality="CT"), tmp_path / "ct.nii.gz")
    other = Geometry(shape=(2, 6, 6), spacing=(0.6, 0.6, 3.0))
    write_nifti(LabelMap(np.zeros(other.shape, np.uint8), other, []), tmp_path / "mask.nii.gz")
    assert main(["calcium-score", str(tmp_path / "ct.nii.gz"), "--labels", str(tmp_path / "mask.nii.gz")]) == 2
    error = capsys.readouterr().err
    assert "mask.nii.gz" in error and "not on the CT's grid" in error


def test_unknown_label_values_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    grid = Geometry(shape=(1, 4, 4), spacing=(0.5, 0.5, 3.0))
    write_nifti(Volume(np.zeros(grid.shape, np.int16), grid, modality="CT"), tmp_path / "ct.nii.gz")
    labels = np.zeros(grid.shape, np.uint8)
    labels[0, 0, 0] = 7
    write_nifti(LabelMap(labels, grid, [Label(7, "x")]), tmp_path / "mask.nii.gz")
    assert main(["calcium-score", str(tmp_path / "ct.nii.gz"), "--labels", str(tmp_path / "mask.nii.gz")]) == 2
    assert "unknown label values [7]" in capsys.readouterr().err
