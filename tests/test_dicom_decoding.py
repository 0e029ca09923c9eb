"""Decoding of files the plain path refuses: files without preamble or file meta."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import FileMetaDataset

from engine.dicom.loader import load_file
from engine.dicom.pixels import load_dataset, read_instance_pixels
from engine.series import FileRef

PYDICOM = Path(get_testdata_file("CT_small.dcm")).parent


def test_file_without_preamble_or_file_meta(tmp_path: Path) -> None:
    """Scanned with force, and read with force by the loader too, through the scan's facts or its own."""
    ds = pydicom.dcmread(PYDICOM / "CT_small.dcm")
    expected = load_file(PYDICOM / "CT_small.dcm").array
    ds.preamble = None
    ds.file_meta = FileMetaDataset()
    bare = tmp_path / "bare.dcm"
    pydicom.dcmwrite(bare, ds, implicit_vr=True, little_endian=True, enforce_file_format=False)
    assert bare.read_bytes()[128:132] != b"DICM"
    assert np.array_equal(load_file(bare).array, expected)
    instance = read_instance_pixels(FileRef(str(bare)))
    assert instance.transfer_syntax == pydicom.uid.ImplicitVRLittleEndian
    assert load_dataset(instance).file_meta.TransferSyntaxUID == pydicom.uid.ImplicitVRLittleEndian
