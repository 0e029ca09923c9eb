"""Pixel loading: decoders against SimpleITK, value policy (int16 HU, float32, MONOCHROME1, bits), errors,
multi-frame, and the loader's threading, progress, cancellation and first-slice callback."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

from engine.dicom.loader import LoadError, load_file, load_series
from engine.dicom.pixels import decode_stored_frame, load_dataset, read_instance_pixels
from engine.dicom.scanner import scan
from engine.progress import Cancelled, CancelToken
from engine.series import FileRef

CORPUS = Path(get_testdata_file("CT_small.dcm")).parent


def _compressed_images() -> list[str]:
    """Every file of pydicom's test corpus with encapsulated (compressed) pixel data."""
    names = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in sorted(CORPUS.rglob("*")):
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
            except Exception:  # not DICOM
                continue
            syntax = ds.file_meta.get("TransferSyntaxUID")
            if syntax is not None and syntax.is_compressed:
                names.append(str(path.relative_to(CORPUS)))
    return names


COMPRESSED = _compressed_images()

# Files where SimpleITK cannot be the reference; each has an independent check below.
GDCM_RLE_ORDER = (
    "GDCM (inside SimpleITK) orders the byte segments of 16/32-bit RGB RLE wrongly (red comes out as "
    "(0, 65280, 255)); pydicom's decode equals the 8-bit file scaled, see test_rle_multibyte_colour"
)
SITK_DIFFERS = {
    "SC_rgb_rle_16bit.dcm": GDCM_RLE_ORDER,
    "SC_rgb_rle_16bit_2frame.dcm": GDCM_RLE_ORDER,
    "SC_rgb_rle_32bit.dcm": GDCM_RLE_ORDER,
    "SC_rgb_rle_32bit_2frame.dcm": GDCM_RLE_ORDER,
    "rtdose_rle_1frame.dcm": "SimpleITK cannot read it (GDCM assertion on a 1-frame RT Dose); "
    "equal to the uncompressed rtdose_1frame.dcm, see test_rle_rtdose_against_uncompressed",
    "JPEG2000-embedded-sequence-delimiter.dcm": "a sequence delimiter inside the pixel data: neither "
    "SimpleITK nor any pydicom decoder reads it; we raise LoadError, see test_undecodable_file_names_it",
}
NO_PIXELS = {"UN_sequence.dcm"}  # JPEG lossless transfer syntax but no PixelData: not an image


def _stored_frames(path: Path) -> tuple[np.ndarray, tuple[float, float]]:
    """Our decode of every frame (stored values), and the file's rescale."""
    pixels = read_instance_pixels(FileRef(str(path)))
    ds = load_dataset(pixels)
    frames = np.stack([decode_stored_frame(ds, pixels, k) for k in range(pixels.frames)])
    return frames, pixels.rescales[0]


def _sitk_array(path: Path) -> np.ndarray:
    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


def test_corpus_has_the_expected_compressed_files() -> None:
    assert len(COMPRESSED) == 40
    assert set(SITK_DIFFERS) | NO_PIXELS <= set(COMPRESSED)


@pytest.mark.filterwarnings("ignore:Expected explicit VR")  # SC_rgb_jpeg.dcm is encoded with implicit VR
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=SITK_DIFFERS[n]))
        if n in SITK_DIFFERS
        else n
        for n in COMPRESSED
        if n not in NO_PIXELS
    ],
)
def test_compressed_corpus_decodes_like_simpleitk(name: str) -> None:
    """Stored values x slope + intercept (SimpleITK applies the rescale) compared as float64, exactly."""
    ours, (slope, intercept) = _stored_frames(CORPUS / name)
    theirs = _sitk_array(CORPUS / name)
    assert ours.shape == theirs.shape
    assert np.array_equal(ours.astype(np.float64) * slope + intercept, theirs.astype(np.float64))


def test_rle_multibyte_colour() -> None:
    """The 16/32-bit RLE colour files hold the 8-bit file's bars scaled to the full range."""
    eight, _ = _stored_frames(CORPUS / "SC_rgb_rle.dcm")
    for name, scale in (("SC_rgb_rle_16bit.dcm", 257), ("SC_rgb_rle_32bit.dcm", 16843009)):
        ours, _ = _stored_frames(CORPUS / name)
        assert np.array_equal(ours, eight.astype(np.uint64) * scale)


def test_rle_rtdose_against_uncompressed() -> None:
    ours, _ = _stored_frames(CORPUS / "rtdose_rle_1frame.dcm")
    reference, _ = _stored_frames(CORPUS / "rtdose_1frame.dcm")
    assert np.array_equal(ours, reference)


def test_undecodable_file_names_it() -> None:
    path = CORPUS / "JPEG2000-embedded-sequence-delimiter.dcm"
    with pytest.raises(LoadError) as error:
        load_file(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    "name", ["JPGExtended.dcm", "693_J2KI.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_RLE.dcm"]
)
def test_load_file_of_compressed_monochrome_matches_simpleitk(name: str) -> None:
    volume = load_file(CORPUS / name)
    theirs = _sitk_array(CORPUS / name)
    assert np.array_equal(volume.array.reshape(theirs.shape).astype(np.float64), theirs.astype(np.float64))


# --- synthetic series --------------------------------------------------------------------------------


def _write_ct(
    folder: Path,
    stored: np.ndarray,
    *,
    signed: bool = False,
    bits_stored: int = 12,
    slope: float | None = 1.0,
    intercepts: list[float] | None = None,
    photometric: str = "MONOCHROME2",
    implicit: bool = False,
) -> Path:
    """One file per slice of ``stored`` (z, y, x) with positions 2 mm apart; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    series, study, frame = generate_uid(), generate_uid(), generate_uid()
    for z, plane in enumerate(stored):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality, ds.PatientID, ds.InstanceNumber = "CT", "P1", z + 1
        ds.ImagePositionPatient = [-10.0, -20.0, 5.0 + 2.0 * z]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [0.5, 0.75]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
        ds.Rows, ds.Columns = plane.shape
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits_stored, bits_stored - 1
        ds.PixelRepresentation = int(signed)
        if slope is not None:
            ds.RescaleSlope = f"{slope:g}"
            ds.RescaleIntercept = f"{(intercepts or [-1024.0] * len(stored))[z]:g}"
        ds.WindowCenter, ds.WindowWidth = "40", "400"
        ds.PixelData = plane.astype(np.int16 if signed else np.uint16).tobytes()
        ds.save_as(folder / f"s{z:03d}.dcm", enforce_file_format=True)
    return folder


def _series(folder: Path):
    result = scan(folder)
    assert not result.errors and len(result.series) == 1
    return result.series[0]


@pytest.fixture
def ct_stored() -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 4096, size=(6, 12, 10)).astype(np.uint16)


def test_ct_is_int16_hounsfield_units(tmp_path: Path, ct_stored: np.ndarray) -> None:
    series = _series(_write_ct(tmp_path, ct_stored))
    volume = load_series(series)
    assert volume.array.dtype == np.int16
    assert np.array_equal(volume.array, ct_stored.astype(np.int32) - 1024)
    assert volume.meta["values"] == "int16-exact"
    assert volume.geometry is series.geometry
    assert volume.modality == "CT" and volume.ids.series_uid == series.series_uid
    assert volume.meta["window"] == (40.0, 400.0)


def test_matches_simpleitk_series_reader(tmp_path: Path, ct_stored: np.ndarray) -> None:
    series = _series(_write_ct(tmp_path, ct_stored, implicit=True))
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([i.ref.path for i in series.instances])
    image = reader.Execute()
    volume = load_series(series)
    assert np.array_equal(volume.array, sitk.GetArrayFromImage(image))
    assert np.allclose(volume.geometry.origin, image.GetOrigin())
    assert np.allclose(volume.geometry.spacing, image.GetSpacing())


def test_unused_high_bits_are_masked_or_sign_extended(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    values = rng.integers(-2048, 2048, size=(3, 8, 8))
    garbage = (values.astype(np.int64) & 0x0FFF) | 0x5000  # 12-bit two's complement, junk above bit 11
    series = _series(
        _write_ct(tmp_path / "s", garbage.astype(np.uint16).view(np.int16), signed=True, slope=None)
    )
    volume = load_series(series)
    assert volume.array.dtype == np.int16 and np.array_equal(volume.array, values)
    unsigned = rng.integers(0, 4096, size=(3, 8, 8)).astype(np.uint16)
    series = _series(_write_ct(tmp_path / "u", unsigned | 0xA000, slope=None))
    volume = load_series(series)
    assert volume.array.dtype == np.uint16 and np.array_equal(volume.array, unsigned)
    ds = pydicom.dcmread(series.instances[0].ref.path)
    assert np.array_equal(volume.array[0], ds.pixel_array)  # as pydicom does


def test_signed_hounsfield_with_checked_range_and_float_fallback(tmp_path: Path) -> None:
    fits = np.full((2, 4, 4), 3000, dtype=np.int64)
    fits[0, 0, 0] = -2000
    series = _series(_write_ct(tmp_path / "fits", fits, signed=True, bits_stored=16))
    volume = load_series(series)
    assert volume.array.dtype == np.int16 and np.array_equal(volume.array, fits - 1024)
    overflow = fits.copy()
    overflow[1, 2, 2] = -32768  # -32768 - 1024 does not fit int16
    series = _series(_write_ct(tmp_path / "overflow", overflow, signed=True, bits_stored=16))
    volume = load_series(series)
    assert volume.array.dtype == np.float32 and np.array_equal(
        volume.array, (overflow - 1024).astype(np.float32)
    )


def test_non_integer_rescale_gives_float32(tmp_path: Path, ct_stored: np.ndarray) -> None:
    series = _series(_write_ct(tmp_path, ct_stored, slope=0.5, intercepts=[-10.25] * 6))
    volume = load_series(series)
    assert volume.array.dtype == np.float32
    assert np.array_equal(volume.array, (ct_stored * 0.5 - 10.25).astype(np.float32))
    assert volume.meta["values"] == "float32"


def test_rescale_that_differs_between_files(tmp_path: Path, ct_stored: np.ndarray) -> None:
    """The plan from the first file does not fit the others: all headers are read and the plan redone."""
    intercepts = [0.0, 0.0, -1024.0, -1024.0, 0.5, 0.0]
    series = _series(_write_ct(tmp_path, ct_stored, intercepts=intercepts))
    volume = load_series(series)
    assert volume.array.dtype == np.float32
    expected = ct_stored.astype(np.float64) + np.array(intercepts)[:, None, None]
    assert np.array_equal(volume.array, expected.astype(np.float32))


def test_monochrome1_is_inverted_about_the_stored_range(tmp_path: Path, ct_stored: np.ndarray) -> None:
    series = _series(_write_ct(tmp_path, ct_stored, slope=None, photometric="MONOCHROME1"))
    volume = load_series(series)
    assert volume.array.dtype == np.uint16
    assert np.array_equal(volume.array, 4095 - ct_stored)
    assert volume.meta["inverted_monochrome1"] is True
    assert volume.meta["window"] == (4095 - 40.0, 400.0)


def test_monochrome1_radiograph_against_simpleitk() -> None:
    """A 12-bit MONOCHROME1 CR with a float rescale. SimpleITK 2.5 (ITK's GDCMImageIO) inverts MONOCHROME1
    too, so both give (4095 - stored) x slope + intercept."""
    path = CORPUS / "dicomdirtests" / "77654033" / "CR1" / "6154"
    volume = load_file(path)
    stored, (slope, intercept) = _stored_frames(path)
    expected = (4095 - stored[0].astype(np.float64)) * slope + intercept
    assert volume.array.ndim == 2 and volume.meta["photometric"] == "MONOCHROME1"
    assert volume.meta["inverted_monochrome1"] is True
    assert volume.array.dtype == np.float32
    assert np.array_equal(volume.array, expected.astype(np.float32))
    assert np.array_equal(_sitk_array(path)[0], expected)


def test_truncated_file_is_named(tmp_path: Path, ct_stored: np.ndarray) -> None:
    series = _series(_write_ct(tmp_path, ct_stored))
    bad = Path(series.instances[3].ref.path)
    bad.write_bytes(bad.read_bytes()[:-100])  # truncated after the scan
    with pytest.raises(LoadError) as error:
        load_series(series)
    assert error.value.path == str(bad)
    assert "PixelData has 140 bytes, expected 240 for 10x12x1 16-bit" in str(error.value)


def test_allow_missing_fills_and_warns(tmp_path: Path, ct_stored: np.ndarray) -> None:
    series = _series(_write_ct(tmp_path, ct_stored))
    bad = Path(series.instances[2].ref.path)
    bad.write_bytes(bad.read_bytes()[:-100])
    volume = load_series(series, allow_missing=True)
    others = np.delete(ct_stored.astype(np.int32) - 1024, 2, axis=0)
    assert np.array_equal(np.delete(volume.array, 2, axis=0), others)
    assert np.all(volume.array[2] == others.min())
    assert any(str(bad) in w and "slice 2" in w for w in volume.meta["warnings"])


def test_truncated_corpus_file() -> None:
    """pydicom's MR_truncated.dcm: the scanner refuses it; a hand-made stack gets the loader's message."""
    path = CORPUS / "MR_truncated.dcm"
    with pytest.raises(LoadError) as error:
        load_series(_hand_made_series(path))
    assert str(error.value) == f"{path}: PixelData has 8130 bytes, expected 8192 for 64x64x1 16-bit"


def _hand_made_series(path: Path):
    from engine.series import InstanceHeader, SeriesInfo

    ds = pydicom.dcmread(path, stop_before_pixels=True)
    header = InstanceHeader(FileRef(str(path)), ds.SOPInstanceUID, ds.SOPClassUID, "", ds.Rows, ds.Columns)
    return SeriesInfo(series_uid="1.2", study_uid="1.3", instances=[header], shape=(ds.Rows, ds.Columns))


def test_progress_first_slice_and_threads(tmp_path: Path, ct_stored: np.ndarray) -> None:
    series = _series(_write_ct(tmp_path, ct_stored))
    calls: list[tuple[int, int, str]] = []
    seen: dict[int, np.ndarray] = {}
    volume = load_series(
        series,
        progress=lambda *a: calls.append(a),
        on_slice=lambda z, s: seen.setdefault(z, s.copy()),
        workers=3,
    )
    assert calls[-1][:2] == (6, 6)
    assert [c[0] for c in calls if c[2] == "loading slices"] == list(range(7))
    assert sorted(seen) == list(range(6))
    assert all(np.array_equal(seen[z], volume.array[z]) for z in seen)
    single = load_series(series, workers=1)
    assert np.array_equal(single.array, volume.array)


def test_cancel_between_slices(tmp_path: Path, ct_stored: np.ndarray) -> None:
    series = _series(_write_ct(tmp_path, ct_stored))
    token = CancelToken()
    slices: list[int] = []

    def first_slice(z: int, _: np.ndarray) -> None:
        slices.append(z)
        token.cancel()

    with pytest.raises(Cancelled):
        load_series(series, cancel=token, on_slice=first_slice, workers=1)
    assert len(slices) == 1


# --- multi-frame -------------------------------------------------------------------------------------


def test_enhanced_multiframe_ct_with_per_frame_rescale(tmp_path: Path, ct_stored: np.ndarray) -> None:
    """A Legacy Converted Enhanced CT (per-frame functional groups) loads like its single-frame source."""
    from highdicom.legacy import LegacyConvertedEnhancedCTImage

    intercepts = [-1024.0, -1000.0, -1024.0, -990.0, -1024.0, -1024.0]
    folder = _write_ct(tmp_path / "single", ct_stored, intercepts=intercepts)
    sources = [pydicom.dcmread(p) for p in sorted(folder.glob("*.dcm"))]
    enhanced = LegacyConvertedEnhancedCTImage(sources[::-1], generate_uid(), 9, generate_uid(), 1)
    (tmp_path / "enhanced").mkdir()
    enhanced.save_as(tmp_path / "enhanced" / "mf.dcm")
    groups = enhanced.PerFrameFunctionalGroupsSequence
    assert len({g.PixelValueTransformationSequence[0].RescaleIntercept for g in groups}) == 3

    series = _series(tmp_path / "enhanced")
    assert len(series.instances) == 1 and len(series.frame_order) == 6
    volume = load_series(series)
    reference = load_series(_series(folder))
    assert volume.array.dtype == np.int16
    assert np.array_equal(volume.array, reference.array)
    assert volume.geometry.same_grid(reference.geometry)


@pytest.mark.parametrize("name", ["examples_ybr_color.dcm", "SC_rgb_jpeg_dcmtk.dcm", "SC_rgb_small_odd.dcm"])
def test_colour_loads_as_rgb_like_simpleitk(name: str) -> None:
    """Colour keeps a trailing samples axis; YBR is converted to RGB as GDCM does (30 cine frames here)."""
    volume = load_file(CORPUS / name)
    theirs = _sitk_array(CORPUS / name)
    assert volume.is_colour and volume.array.dtype == np.uint8
    assert np.array_equal(volume.array, theirs.reshape(volume.array.shape))


def test_worker_count_default_is_sane() -> None:
    from engine.dicom.loader import default_workers

    assert 2 <= default_workers() <= 4
