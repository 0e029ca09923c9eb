"""Decoding that goes beyond the stored values, against pydicom's reference transforms on the public corpora:
palette colour to RGB, the Modality LUT Sequence, uncompressed YBR_FULL_422, and files without preamble
or file meta."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_color_lut, apply_modality_lut, convert_color_space, pixel_array
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

from engine.dicom.loader import LoadError, load_file, load_series
from engine.dicom.pixels import PixelError, decode_stored_frame, load_dataset, read_instance_pixels
from engine.dicom.scanner import scan
from engine.series import FileRef

PYDICOM = Path(get_testdata_file("CT_small.dcm")).parent


def _package_root(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.submodule_search_locations, f"{name} is not installed"
    return Path(next(iter(spec.submodule_search_locations)))


DATA_STORE = _package_root("data_store") / "data"
CORPORA = (PYDICOM, DATA_STORE, _package_root("deid_data"))


def _headers() -> dict[Path, Dataset]:
    """The header of every DICOM file of the public corpora (pydicom, pydicom-data, deid-data)."""
    headers = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for root in CORPORA:
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                try:
                    headers[path.resolve()] = pydicom.dcmread(path, stop_before_pixels=True, force=True)
                except Exception:  # noqa: BLE001 - not DICOM
                    continue
    return headers


HEADERS = _headers()
PALETTE_FILES = sorted(p for p, ds in HEADERS.items() if ds.get("PhotometricInterpretation") == "PALETTE COLOR")


def _reference_dataset(path: Path) -> Dataset:
    """pydicom's full read of ``path``; a file without file meta gets the transfer syntax it was read with."""
    ds = pydicom.dcmread(path, force=True)
    if "TransferSyntaxUID" not in ds.file_meta:
        implicit = ds.original_encoding[0]
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    return ds


def _palette_reference(path: Path) -> np.ndarray:
    """pydicom's apply_color_lut as uint8 (16-bit entries keep their high byte).

    pydicom reads unsegmented 16-bit palette data little-endian whatever the file's byte order, so for the
    big-endian copies (``*_expb*``) the reference is their little-endian twin, whose pixels are checked equal.
    """
    ds = _reference_dataset(path)
    twin = path.with_name(path.name.replace("_expb", ""))
    if ds.original_encoding[1] is False and "RedPaletteColorLookupTableData" in ds:
        assert np.array_equal(ds.pixel_array, pydicom.dcmread(twin).pixel_array)
        ds = pydicom.dcmread(twin)
    rgb = apply_color_lut(ds.pixel_array, ds)
    return (rgb >> 8).astype(np.uint8) if rgb.dtype == np.uint16 else rgb


def test_corpora_hold_the_palette_files() -> None:
    """Ten palette files (nine series and a copy without file meta), segmented and big-endian among them."""
    names = {p.name for p in PALETTE_FILES}
    assert len(names) == 10, names
    assert {"gdcm-US-ALOKA-16.dcm", "OBXXXX1A_expb_2frame.dcm", "OT-PAL-8-face.dcm"} <= names


@pytest.mark.parametrize("path", PALETTE_FILES, ids=lambda p: p.name)
def test_palette_colour_is_rgb_like_pydicom(path: Path) -> None:
    volume = load_file(path)
    theirs = _palette_reference(path)
    assert volume.is_colour and volume.array.dtype == np.uint8
    assert volume.meta["values"] == "palette"
    assert np.array_equal(volume.array, theirs.reshape(volume.array.shape))
    assert volume.array.max() > 128  # not the near-black result of a byte-swapped 16-bit palette


def test_damaged_palette_is_a_plain_error(tmp_path: Path) -> None:
    ds = pydicom.dcmread(DATA_STORE / "OBXXXX1A.dcm")
    del ds.GreenPaletteColorLookupTableData
    ds.save_as(tmp_path / "palette.dcm")
    with pytest.raises(LoadError, match="its palette colour lookup table is missing or damaged"):
        load_file(tmp_path / "palette.dcm")


def test_modality_lut_like_pydicom() -> None:
    """mlut_18.dcm: the LUT, not the stored values (they differ by up to 63,488)."""
    path = DATA_STORE / "mlut_18.dcm"
    volume = load_file(path)
    ds = pydicom.dcmread(path)
    theirs = apply_modality_lut(ds.pixel_array, ds)
    assert volume.array.dtype == theirs.dtype == np.uint16
    assert volume.meta["values"] == "modality LUT"
    assert np.array_equal(volume.array, theirs)
    assert np.abs(theirs.astype(np.int64) - ds.pixel_array).max() == 63488


def _mlut_copy(folder: Path, name: str, z: float, keep_lut: bool = True, **changes: str) -> Path:
    """mlut_18.dcm as slice ``z`` of a series of its own, with header ``changes``."""
    ds = pydicom.dcmread(DATA_STORE / "mlut_18.dcm")
    ds.SOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = "1.2.3.4.5"
    ds.ImagePositionPatient = [0.0, 0.0, z]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [1.0, 1.0]
    if not keep_lut:
        del ds.ModalityLUTSequence
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    folder.mkdir(exist_ok=True)
    ds.save_as(folder / name)
    return folder / name


def test_modality_lut_monochrome1_is_inverted_on_its_output(tmp_path: Path) -> None:
    path = _mlut_copy(tmp_path / "m1", "a.dcm", 0.0, PhotometricInterpretation="MONOCHROME1",
                      WindowCenter="1000", WindowWidth="400")
    ds = pydicom.dcmread(path)
    lut = apply_modality_lut(np.arange(-2048, 2048, dtype=np.int32), ds)
    low, high = int(lut.min()), int(lut.max())
    volume = load_file(path)
    theirs = low + high - apply_modality_lut(ds.pixel_array, ds).astype(np.int64)
    assert np.array_equal(volume.array, theirs.reshape(volume.array.shape))
    assert volume.meta["inverted_monochrome1"]
    assert volume.meta["window"] == (low + high - 1000.0, 400.0)


def test_stack_mixing_modality_lut_and_rescale_is_refused(tmp_path: Path) -> None:
    _mlut_copy(tmp_path / "mixed", "a.dcm", 0.0)
    other = _mlut_copy(tmp_path / "mixed", "b.dcm", 1.0, keep_lut=False)
    (series,) = scan(str(tmp_path / "mixed")).series
    with pytest.raises(LoadError, match="go through no lookup table where those of .* go through a modality LUT"):
        load_series(series)
    for instance in series.instances:
        instance.pixels = None  # the loader reads the headers itself: the same refusal after its replan
    with pytest.raises(LoadError) as error:
        load_series(series)
    assert error.value.path == str(other)


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
