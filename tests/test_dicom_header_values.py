"""The scanner's fast value reader (engine.dicom.header._get) gives pydicom's values, on every header of the
public corpora: it decodes plain ASCII and US values from the raw bytes (pydicom's conversion cost more
than the parse on a 400-slice scan) and must never give another value than pydicom would."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from engine.dicom.header import _get, _int, _text

KEYWORDS = (
    "SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID", "FrameOfReferenceUID", "Modality",
    "SeriesDescription", "SeriesNumber", "InstanceNumber", "PatientID", "PatientName", "PatientBirthDate",
    "PatientSex", "StudyDate", "StudyTime", "StudyDescription", "AccessionNumber", "ImageType",
    "PatientOrientation", "PixelSpacing", "ImagerPixelSpacing", "SliceThickness", "SpacingBetweenSlices",
    "RescaleSlope", "RescaleIntercept", "GantryDetectorTilt", "FrameTime", "ImagePositionPatient",
    "ImageOrientationPatient", "Rows", "Columns", "BitsAllocated", "BitsStored", "SamplesPerPixel",
    "NumberOfFrames", "PhotometricInterpretation", "ConcatenationUID",
)


def _corpus() -> list[Path]:
    roots = [Path(get_testdata_file("CT_small.dcm")).parent]
    for name in ("data_store", "deid_data"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            root = Path(next(iter(spec.submodule_search_locations)))
            roots.append(root / "data" if name == "data_store" else root)
    return sorted(p for root in roots for p in root.rglob("*") if p.is_file() and p.suffix != ".py")


def _read(path: Path) -> Dataset | None:
    try:
        return pydicom.dcmread(path, stop_before_pixels=True, force=True)
    except Exception:  # noqa: BLE001 - not DICOM
        return None


def _normal(value: object) -> object:
    """Values compared as the scanner uses them: numbers as floats, text stripped, lists element-wise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, MultiValue | list | tuple):
        return [_normal(v) for v in value]
    if isinstance(value, int | float):
        return float(value)
    return str(value).strip() or None  # an empty PersonName is not a str


def test_fast_values_equal_pydicom_values_on_the_public_corpora() -> None:
    compared = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in _corpus():
            fast, reference = _read(path), _read(path)
            if fast is None or reference is None or "SOPClassUID" not in reference:
                continue
            for keyword in KEYWORDS:
                try:
                    expected = reference.get(keyword)
                except Exception:  # noqa: BLE001 - pydicom cannot convert it: the scanner cannot either
                    with pytest.raises(Exception):  # noqa: B017
                        _get(fast, keyword)
                    continue
                assert _normal(_get(fast, keyword)) == _normal(expected), (path.name, keyword)
                compared += 1
    assert compared > 5000, compared


def test_values_come_from_the_raw_bytes_without_converting_them() -> None:
    header = pydicom.dcmread(get_testdata_file("CT_small.dcm"), stop_before_pixels=True)
    reference = pydicom.dcmread(get_testdata_file("CT_small.dcm"), stop_before_pixels=True)
    assert _text(header, "SeriesInstanceUID") == reference.SeriesInstanceUID
    assert _int(header, "Rows") == reference.Rows == 128
    assert _get(header, "PixelSpacing") == pytest.approx([float(v) for v in reference.PixelSpacing])
    assert _get(header, "ImageType") == list(reference.ImageType)
    assert _text(header, "PatientName") == str(reference.PatientName)
    assert _get(header, "BodyPartExamined") is None
    # the fast reads left the elements raw: pydicom did not convert (and cache) them
    assert all(type(header.get_item(t)).__name__ == "RawDataElement" for t in (0x00280010, 0x00280030, 0x00100010))
