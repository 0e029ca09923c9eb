"""SYNTHETIC DICOM series and NIfTI output, the lesion-side check and the report templates (no torch)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pydicom
import pytest

from engine.dicom.loader import load_series
from engine.dicom.scanner import scan
from engine.geometry import Geometry
from engine.nifti import read_nifti
from engine.volume import Volume
from plugins.prostate_synthesis.export import write_synthetic_dicom, write_synthetic_nifti
from plugins.prostate_synthesis.lesion import darkest_pz_lesion
from plugins.prostate_synthesis.templates import load_templates
from plugins.prostate_synthesis.types import SynthesisRequest, SynthesisResult

SPACING = (2.0, 2.0, 2.25)


def _result(array: np.ndarray | None = None) -> SynthesisResult:
    geometry = Geometry((32, 64, 64), SPACING, origin=(-63.0, -63.0, -34.875))
    if array is None:
        array = np.random.default_rng(0).integers(0, 2000, size=(32, 64, 64)).astype(np.uint16)
    return SynthesisResult(request=SynthesisRequest("a report", seed=5), volume=Volume(array, geometry, "MR"),
                           predicted_class="positive", probabilities={"negative": 0.2, "positive": 0.8},
                           class_used="positive", model_name="CCELLA",
                           side_probabilities={"none": 0.05, "right": 0.15, "left": 0.8},
                           level_probabilities={"none": 0.1, "apex": 0.7, "mid": 0.1, "base": 0.1})


def test_dicom_series_is_marked_synthetic_and_reloads(tmp_path: Path) -> None:
    result = _result()
    paths = write_synthetic_dicom(result, tmp_path / "series")
    assert len(paths) == 32
    first = pydicom.dcmread(paths[0])
    assert first.PatientID == "SYNTHETIC" and "SYNTHETIC" in str(first.PatientName)
    assert first.SeriesDescription.startswith("SYNTHETIC")
    assert list(first.ImageType) == ["DERIVED", "SECONDARY"]
    assert "CCELLA" in str(first.ContentCreatorName)
    assert "NOT FOR CLINICAL USE" in first.ImageComments
    assert "Lesion read in the prompt: side left, level apex." in first.ImageComments
    assert "guidance 2" in first.DerivationDescription
    uids = {pydicom.dcmread(p).SOPInstanceUID for p in paths}
    assert len(uids) == 32
    again = pydicom.dcmread(write_synthetic_dicom(result, tmp_path / "again")[0])
    assert again.SeriesInstanceUID != first.SeriesInstanceUID and again.StudyInstanceUID != first.StudyInstanceUID
    report = scan(tmp_path / "series")
    assert len(report.series) == 1
    volume = load_series(report.series[0])
    assert np.array_equal(volume.array, result.volume.array)
    assert volume.geometry.same_grid(result.volume.geometry)


def test_nifti_with_sidecar(tmp_path: Path) -> None:
    result = _result()
    image, sidecar = write_synthetic_nifti(result, tmp_path / "syn.nii.gz")
    assert sidecar.name == "syn.json"
    facts = json.loads(sidecar.read_text())
    assert facts["synthetic"] is True and facts["predicted_class"] == "positive" and facts["seed"] == 5
    assert facts["predicted_side"] == "left" and facts["side_probabilities"]["left"] == 0.8
    assert facts["predicted_level"] == "apex" and facts["level_probabilities"]["apex"] == 0.7
    assert facts["guidance"] == 2.0
    loaded = read_nifti(image)
    assert np.array_equal(loaded.array, result.volume.array)
    assert loaded.geometry.same_grid(result.volume.geometry)


def test_predicted_side_and_level_are_the_most_probable_or_empty() -> None:
    result = _result()
    assert result.predicted_side == "left" and result.predicted_level == "apex"
    result.side_probabilities = result.level_probabilities = {}
    assert result.predicted_side == "" and result.predicted_level == ""


def test_lesion_check_finds_the_darker_side() -> None:
    z, y, x = np.mgrid[0:32, 0:64, 0:64]
    array = np.full((32, 64, 64), 1000.0)
    for side, value in ((1, 300.0), (-1, 1000.0)):  # +x of the grid is the patient's left
        blob = (z - 16) ** 2 / 4 + (y - 36) ** 2 + (x - (31.5 + side * 7)) ** 2 < 9
        array[blob] = value
    volume = Volume(array.astype(np.uint16), Geometry((32, 64, 64), SPACING))
    call = darkest_pz_lesion(volume)
    assert call.side == "left" and call.depth > 0.5 and call.level == "mid"
    assert darkest_pz_lesion(Volume(volume.array[:, :, ::-1].copy(), volume.geometry)).side == "right"


def test_lesion_check_names_the_level_from_the_craniocaudal_offset() -> None:
    z, y, x = np.mgrid[0:32, 0:64, 0:64]
    for centre_z, level in ((11, "apex"), (16, "mid"), (20, "base")):  # +z (higher slice index) is superior
        array = np.full((32, 64, 64), 1000.0)
        array[(z - centre_z) ** 2 / 2 + (y - 36) ** 2 + (x - 38.5) ** 2 < 9] = 300.0
        assert darkest_pz_lesion(Volume(array.astype(np.uint16), Geometry((32, 64, 64), SPACING))).level == level


def test_templates_fill_and_name_missing_fields() -> None:
    templates = {t.id: t for t in load_templates()}
    text = templates["pirads5_pz"].fill(side="right")
    assert "right peripheral zone" in text and "PI-RADS 5" in text
    assert templates["no_report"].fill() == ""
    assert {t.expected_class for t in templates.values()} >= {"positive", "negative"}
    with pytest.raises(KeyError, match="side"):
        type(templates["pirads4_pz"])(id="t", title="t", expected_class="positive", text="{side}").fill()


def test_library_folders_are_new_and_named_by_seed_and_class(tmp_path) -> None:
    from plugins.prostate_synthesis.export import library_folder

    result = SimpleNamespace(request=SimpleNamespace(seed=42), class_used="positive")
    first, second = library_folder(result, tmp_path), library_folder(result, tmp_path)
    assert first != second and first.is_dir() and second.is_dir()
    assert first.name.endswith("_seed42_positive") and first.parent == tmp_path
