"""`sightline synthesize` headless: NIfTI and DICOM outputs, printed class and probabilities."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest

from app.cli import main

PROMPT = "FINDINGS: Prostate volume approximately 30 mL. No focal suspicious lesion. IMPRESSION: PI-RADS 1."


def test_synthesize_to_nifti_prints_the_class(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "syn.nii.gz"
    assert main(["synthesize", "--prompt", PROMPT, "--seed", "2", "--steps", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "predicted class:" in printed and "positive" in printed and "negative" in printed
    assert "lesion side read in the prompt: none" in printed and "left" in printed and "right" in printed
    assert "lesion level read in the prompt: none" in printed and "apex" in printed
    assert out.exists() and (tmp_path / "syn.json").exists()


def test_synthesize_to_dicom_folder_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "series"
    code = main(["synthesize", "--prompt", PROMPT, "--class", "positive", "--seed", "2", "--steps", "3",
                 "--guidance", "1.5", "--out", str(out), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["class_used"] == "positive" and summary["shape"] == [32, 64, 64] and summary["guidance"] == 1.5
    # the report names no lesion; the class override does not change what the model read
    assert summary["predicted_side"] == "none" and summary["predicted_level"] == "none"
    assert sum(summary["side_probabilities"].values()) == pytest.approx(1.0)
    files = sorted(out.glob("*.dcm"))
    assert len(files) == 32 and pydicom.dcmread(files[0]).PatientID == "SYNTHETIC"


def test_bad_arguments_exit_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["synthesize", "--prompt", "x", "--steps", "0", "--out", str(tmp_path / "a.nii.gz")]) == 2
    assert "steps" in capsys.readouterr().err
    assert main(["synthesize", "--prompt", "x", "--guidance", "-1", "--out", str(tmp_path / "a.nii.gz")]) == 2
    assert "guidance" in capsys.readouterr().err
    code = main(["synthesize", "--prompt", "x", "--out", str(tmp_path / "a.nii.gz"), "--plugin-folder",
                 str(tmp_path)])
    assert code == 1
