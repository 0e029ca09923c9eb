"""The result's warnings on both one-page PDF reports (calcium, and the key-image page of `sightline analyze`),
read back from the PDF's own text."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np
import pytest

from engine.ai.result import AnalysisResult, Measurement
from engine.geometry import Geometry
from engine.reports.key_image import key_slice, write_key_image_pdf
from engine.volume import Label, LabelMap, Volume
from plugins.coronary_calcium_ct.report import write_calcium_pdf

WARNING = ("FLAIR has another voxel grid than T1c: resampled onto the T1c grid (linear) by patient coordinates; "
           "check that the sequences are co-registered")


def pdf_text(path: Path) -> bytes:
    """The PDF's decompressed content streams (text is plain with matplotlib's 14 core fonts)."""
    data = path.read_bytes()
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S)
    return b"".join(zlib.decompress(stream) for stream in streams if stream[:1] == b"x")


@pytest.fixture
def core_fonts():
    import matplotlib
    with matplotlib.rc_context({"pdf.use14corefonts": True}):
        yield


def _calcium(warnings: list[str]) -> tuple[AnalysisResult, Volume]:
    geometry = Geometry((4, 32, 32), (0.5, 0.5, 3.0))
    hu = np.full(geometry.shape, 40, np.int16)
    labels = np.zeros(geometry.shape, np.uint8)
    labels[2, 10:13, 10:13] = 2
    hu[labels > 0] = 300
    table = [Label(value, f"{name} calcium", (40 * value, 100, 100)) for value, name in
             enumerate(("LM", "LAD", "LCX", "RCA"), start=1)]
    scores = {"LM": 0.0, "LAD": 6.75, "LCX": 0.0, "RCA": 0.0, "total": 6.75}
    result = AnalysisResult(label_map=LabelMap(labels, geometry, table), warnings=warnings,
                            measurements=[Measurement("Agatston score", value, "1", region)
                                          for region, value in scores.items()])
    return result, Volume(hu, geometry, "CT")


def test_calcium_report_states_the_warnings(core_fonts, tmp_path: Path) -> None:
    result, volume = _calcium([WARNING])
    text = pdf_text(write_calcium_pdf(result, volume, tmp_path / "report.pdf", "Coronary calcium"))
    assert b"WARNING: FLAIR has another voxel grid than T1c" in text
    assert b"check that the sequences are co-registered" in text  # the wrapped remainder
    assert b"Risk category: Minimal \\(1-10\\)" in text
    quiet, _ = _calcium([])
    assert b"WARNING" not in pdf_text(write_calcium_pdf(quiet, volume, tmp_path / "quiet.pdf", "Coronary calcium"))


def test_key_image_report_states_the_warnings(core_fonts, tmp_path: Path) -> None:
    result, volume = _calcium([WARNING])
    page, flat = key_slice(AnalysisResult(warnings=result.warnings), volume)
    text = pdf_text(write_key_image_pdf(page, flat, tmp_path / "report.pdf", "Brain tumour segmentation (MRI)"))
    assert b"WARNING: FLAIR has another voxel grid than T1c" in text


def test_a_result_without_agatston_scores_has_no_calcium_report(tmp_path: Path) -> None:
    _, volume = _calcium([])
    with pytest.raises(ValueError, match="no total Agatston score"):
        write_calcium_pdf(AnalysisResult(), volume, tmp_path / "report.pdf", "Coronary calcium")


def test_every_report_names_the_patient_and_the_study(core_fonts, tmp_path: Path) -> None:
    result, volume = _calcium([])
    volume.meta.update(patient={"PatientName": "Doe^Jane", "PatientID": "P-0042"},
                       study={"StudyDate": "20240102", "StudyDescription": "CALCIUM SCORE"})
    calcium = pdf_text(write_calcium_pdf(result, volume, tmp_path / "calcium.pdf", "Coronary calcium"))
    page, flat = key_slice(result, volume)
    key = pdf_text(write_key_image_pdf(page, flat, tmp_path / "key.pdf", "Key image"))
    for text in (calcium, key):
        assert b"Patient: Doe Jane" in text and b"ID P-0042" in text and b"study 2024-01-02" in text
    anonymous = pdf_text(write_key_image_pdf(page, Volume(flat.array, flat.geometry, "CT"), tmp_path / "a.pdf",
                                             "Key image"))
    assert b"patient name not in the header" in anonymous
