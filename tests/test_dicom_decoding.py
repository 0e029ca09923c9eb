"""Decoding of files the plain path refuses: uncompressed YBR_FULL_422, against pydicom, and files without
preamble or file meta."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import FileMetaDataset
from pydicom.pixels import convert_color_space, pixel_array

from engine.dicom.loader import load_file
from engine.dicom.pixels import PixelError, decode_stored_frame, load_dataset, read_instance_pixels
from engine.series import FileRef

PYDICOM = Path(get_testdata_file("CT_small.dcm")).parent


def test_uncompressed_ybr_full_422_is_rgb_like_pydicom() -> None:
    path = PYDICOM / "SC_ybr_full_422_uncompressed.dcm"
    volume = load_file(path)
    ybr = pixel_array(pydicom.dcmread(path), as_rgb=False)  # 4:2:2 expanded to full YBR
    assert volume.is_colour and volume.array.dtype == np.uint8
    assert np.array_equal(volume.array, convert_color_space(ybr, "YBR_FULL", "RGB"))


def test_short_ybr_full_422_names_its_length(tmp_path: Path) -> None:
    ds = pydicom.dcmread(PYDICOM / "SC_ybr_full_422_uncompressed.dcm")
    ds.PixelData = ds.PixelData[:-200]
    ds.save_as(tmp_path / "short.dcm")
    instance = read_instance_pixels(FileRef(str(tmp_path / "short.dcm")))
    with pytest.raises(PixelError, match="PixelData has 19800 bytes, expected 20000"):
        decode_stored_frame(load_dataset(instance), instance, 0)


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
