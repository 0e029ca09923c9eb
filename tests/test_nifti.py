"""The engine's own NIfTI-1 / MetaImage / NRRD I/O against SimpleITK (the reference) and nibabel (RAS).

Both directions, on oblique (double-tilted, left- and right-handed) and anisotropic grids, 2D and 3D, for
int16 / uint8 / float32 (and the other NIfTI voxel types): files the engine writes read in SimpleITK to the
same voxels and patient geometry, and files SimpleITK writes read in the engine to the same. Tolerance of
the geometry: 1e-5 mm / 1e-6 (the header stores float32).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from engine.geometry import Geometry, direction_from_image_orientation
from engine.image_files import read_image_file
from engine.nifti import quaternion_to_rotation, read_nifti, rotation_to_quaternion, write_nifti
from engine.volume import LabelMap, Volume
from tests.sitk_reference import geometry_from_sitk, sitk_2d, to_sitk

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])
DTYPES = [np.int16, np.uint8, np.float32]


def _rotation(a_deg: float, b_deg: float, c_deg: float) -> np.ndarray:
    a, b, c = np.radians([a_deg, b_deg, c_deg])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


GRIDS = {
    "oblique": Geometry((9, 12, 15), (0.9, 1.1, 3.0), (-80.0, 20.0, 130.0),
                        direction_from_image_orientation([0.96, 0.28, 0.0, 0.0952, -0.3264, -0.94043])),
    "double_oblique": Geometry((7, 11, 13), (0.7, 0.8, 2.5), (-120.0, 35.5, 210.0), _rotation(20, 10, 0)),
    "left_handed": Geometry((5, 6, 8), (0.5, 0.6, 4.0), (3.0, -7.5, 11.0), _rotation(5, 30, 60) @ np.diag([1, 1, -1])),
    "sagittal_180": Geometry((4, 10, 6), (1.2, 0.4, 0.4), (1.0, 2.0, 3.0),
                             direction_from_image_orientation([0, 1, 0, 0, 0, -1])),
    "axial": Geometry((3, 5, 7), (0.5, 0.5, 2.0), (0.0, 0.0, 0.0)),
    "flipped_xy": Geometry((3, 5, 7), (0.5, 0.7, 2.0), (10.0, 20.0, -5.0), np.diag([-1.0, -1.0, 1.0])),
}


def _image(grid: Geometry, dtype) -> Volume:
    rng = np.random.default_rng(7)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if info is None:
        array = rng.normal(0, 1000, grid.shape).astype(dtype)
    else:
        array = rng.integers(info.min, info.max, grid.shape, endpoint=True).astype(dtype)
    return Volume(array, grid, modality="MR")


def _assert_same_geometry(ours: Geometry, theirs: Geometry) -> None:
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours.spacing, theirs.spacing, rtol=1e-6)
    np.testing.assert_allclose(ours.origin, theirs.origin, atol=1e-5)
    np.testing.assert_allclose(ours.direction, theirs.direction, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("grid", sorted(GRIDS))
@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_what_we_write_simpleitk_reads_identically(tmp_path: Path, grid: str, dtype, suffix: str) -> None:
    image = _image(GRIDS[grid], dtype)
    path = write_nifti(image, tmp_path / f"ours{suffix}")
    itk = sitk.ReadImage(str(path))
    theirs = sitk.GetArrayFromImage(itk)
    assert theirs.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(theirs, image.array)
    _assert_same_geometry(geometry_from_sitk(itk), image.geometry)
    # and every voxel lands on its patient point in both
    for index in [(0, 0, 0), tuple(n - 1 for n in image.geometry.shape), (1, 2, 3)]:
        np.testing.assert_allclose(itk.TransformIndexToPhysicalPoint(tuple(int(i) for i in index[::-1])),
                                   image.voxel_to_patient(index), atol=1e-4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("grid", sorted(GRIDS))
@pytest.mark.parametrize("suffix", [".nii", ".nii.gz", ".mha", ".nrrd"])
def test_what_simpleitk_writes_we_read_identically(tmp_path: Path, grid: str, dtype, suffix: str) -> None:
    image = _image(GRIDS[grid], dtype)
    path = tmp_path / f"theirs{suffix}"
    sitk.WriteImage(to_sitk(image), str(path), useCompression=suffix == ".nii.gz")
    array, geometry = read_image_file(path)
    assert array.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(array, image.array)
    _assert_same_geometry(geometry, geometry_from_sitk(sitk.ReadImage(str(path))))


@pytest.mark.parametrize("suffix", [".mha", ".mhd", ".nrrd"])
def test_compressed_and_detached_itk_formats(tmp_path: Path, suffix: str) -> None:
    image = _image(GRIDS["double_oblique"], np.int16)
    path = tmp_path / f"theirs{suffix}"
    sitk.WriteImage(to_sitk(image), str(path), useCompression=True)
    array, geometry = read_image_file(path)
    np.testing.assert_array_equal(array, image.array)
    _assert_same_geometry(geometry, image.geometry)


@pytest.mark.parametrize("dtype", DTYPES)
def test_2d_both_ways(tmp_path: Path, dtype) -> None:
    tilt = np.eye(3)
    tilt[:2, :2] = [[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]]
    grid = Geometry((20, 30), (0.15, 0.2), (-12.0, 40.0, 0.0), tilt)
    image = _image(grid, dtype)
    # ours -> SimpleITK: a projection is written as one slice of a 3D file, as before
    itk = sitk.ReadImage(str(write_nifti(image, tmp_path / "ours.nii.gz")))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(itk)[0], image.array)
    np.testing.assert_allclose(itk.TransformIndexToPhysicalPoint((29, 19, 0)), image.voxel_to_patient((19, 29)),
                               atol=1e-4)
    # SimpleITK 2D -> ours: a 2D image
    sitk.WriteImage(sitk_2d(image.array, grid), str(tmp_path / "theirs.nii.gz"))
    back = read_nifti(tmp_path / "theirs.nii.gz")
    assert back.geometry.is_projection
    np.testing.assert_array_equal(back.array, image.array)
    _assert_same_geometry(back.geometry, geometry_from_sitk(sitk.ReadImage(str(tmp_path / "theirs.nii.gz"))))


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int32, np.uint32, np.int64, np.float64])
def test_other_voxel_types_round_trip_through_simpleitk(tmp_path: Path, dtype) -> None:
    image = _image(GRIDS["oblique"], dtype)
    itk = sitk.ReadImage(str(write_nifti(image, tmp_path / "ours.nii")))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(itk), image.array)
    back = read_nifti(tmp_path / "ours.nii")
    assert back.array.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back.array, image.array)


def test_marked_voxel_lands_on_same_patient_point_in_nibabel(tmp_path: Path) -> None:
    volume = _image(GRIDS["oblique"], np.int16)
    marked = (4, 7, 11)
    path = write_nifti(volume, tmp_path / "oblique.nii.gz")
    nifti = nib.load(str(path))
    ras = nifti.affine @ np.array([*marked[::-1], 1.0])  # nibabel indexes (i, j, k) = (x, y, z)
    np.testing.assert_allclose(LPS_TO_RAS @ ras[:3], volume.voxel_to_patient(marked), atol=1e-4)
    np.testing.assert_allclose(nifti.get_qform(), nifti.get_sform(), atol=1e-5)
    assert nifti.get_fdata()[marked[::-1]] == volume.array[marked]


def test_round_trip_keeps_array_and_geometry(tmp_path: Path) -> None:
    volume = _image(GRIDS["double_oblique"], np.int16)
    back = read_nifti(write_nifti(volume, tmp_path / "v.nii"))
    np.testing.assert_array_equal(back.array, volume.array)
    assert back.geometry.same_grid(volume.geometry, tolerance_mm=1e-4)


def test_label_map_round_trip(tmp_path: Path) -> None:
    grid = GRIDS["oblique"]
    labels = LabelMap(np.zeros(grid.shape, np.uint8), grid)
    labels.array[2:4, 3:5, 6:9] = 3
    back = read_nifti(write_nifti(labels, tmp_path / "labels.nii.gz"))
    assert back.array.dtype == np.uint8
    np.testing.assert_array_equal(back.array, labels.array)


def test_gzip_output_is_deterministic(tmp_path: Path) -> None:
    volume = _image(GRIDS["axial"], np.int16)
    first = write_nifti(volume, tmp_path / "a.nii.gz").read_bytes()
    assert first == write_nifti(volume, tmp_path / "b.nii.gz").read_bytes()
    assert gzip.decompress(first)[344:348] == b"n+1\0"


@pytest.mark.parametrize("seed", range(20))
def test_quaternion_round_trip(seed: int) -> None:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    (b, c, d), qfac = rotation_to_quaternion(q)
    np.testing.assert_allclose(quaternion_to_rotation(b, c, d, qfac), q, atol=1e-12)


def test_scaled_and_big_endian_files_read_like_simpleitk(tmp_path: Path) -> None:
    volume = _image(GRIDS["oblique"], np.int16)
    image = nib.Nifti1Image(volume.array.T.astype(">i2"), np.diag([-0.9, -1.1, 3.0, 1.0]))
    image.header.set_slope_inter(0.5, -100.0)
    nib.save(image, str(tmp_path / "scaled.nii"))
    ours = read_nifti(tmp_path / "scaled.nii").array
    theirs = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "scaled.nii")))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    np.testing.assert_allclose(ours, volume.array * 0.5 - 100.0, rtol=1e-6)


def test_file_without_transforms_reads_like_simpleitk(tmp_path: Path) -> None:
    image = nib.Nifti1Image(np.zeros((4, 5, 6), np.int16), np.diag([0.5, 0.6, 2.0, 1.0]))
    image.set_qform(None, code=0)
    image.set_sform(None, code=0)
    image.header["pixdim"][1:4] = [0.5, 0.6, 2.0]
    nib.save(image, str(tmp_path / "bare.nii"))
    _assert_same_geometry(read_nifti(tmp_path / "bare.nii").geometry,
                          geometry_from_sitk(sitk.ReadImage(str(tmp_path / "bare.nii"))))


def test_bad_files_name_the_file_and_the_reason(tmp_path: Path) -> None:
    bogus = tmp_path / "broken.nii.gz"
    bogus.write_bytes(b"not a nifti")
    with pytest.raises(ValueError, match="broken.nii.gz"):
        read_nifti(bogus)
    with pytest.raises(ValueError, match="must end in"):
        write_nifti(Volume(np.zeros((2, 2, 2), np.int16), Geometry((2, 2, 2))), tmp_path / "x.mha")
    good = write_nifti(_image(GRIDS["axial"], np.int16), tmp_path / "good.nii").read_bytes()
    (tmp_path / "cut.nii").write_bytes(good[:400])
    with pytest.raises(ValueError, match=r"cut.nii: the file is truncated"):
        read_nifti(tmp_path / "cut.nii")
    (tmp_path / "cut.nii.gz").write_bytes(gzip.compress(good)[:300])
    with pytest.raises(ValueError, match=r"cut.nii.gz"):
        read_nifti(tmp_path / "cut.nii.gz")
    four_d = nib.Nifti1Image(np.zeros((3, 3, 3, 2), np.float32), np.eye(4))
    nib.save(four_d, str(tmp_path / "four.nii"))
    with pytest.raises(ValueError, match="four.nii: only single-channel 2D/3D"):
        read_nifti(tmp_path / "four.nii")
    huge = bytearray(good)
    huge[42:48] = np.array([30000, 30000, 30000], "<i2").tobytes()
    (tmp_path / "huge.nii").write_bytes(bytes(huge))
    with pytest.raises(ValueError, match="huge.nii: the image needs"):
        read_nifti(tmp_path / "huge.nii")
    (tmp_path / "escape.mhd").write_text("NDims = 3\nDimSize = 2 2 2\nElementType = MET_SHORT\n"
                                         "ElementDataFile = ../outside.raw\n")
    with pytest.raises(ValueError, match="escape.mhd: its data file"):
        read_image_file(tmp_path / "escape.mhd")


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
@pytest.mark.parametrize("grid", ["oblique", "left_handed"])
def test_rgb_is_written_as_rgb24_that_nibabel_reads_back(tmp_path: Path, grid: str, suffix: str) -> None:
    geometry = GRIDS[grid]
    rng = np.random.default_rng(3)
    volume = Volume(rng.integers(0, 256, (*geometry.shape, 3), dtype=np.uint8), geometry)
    path = write_nifti(volume, tmp_path / f"rgb{suffix}")
    nifti = nib.load(str(path))
    header = nifti.header
    # what dcm2niix writes for colour DICOM: RGB24, 24 bits, no intent, dim[0] = 3
    assert int(header["datatype"]) == 128 and int(header["bitpix"]) == 24 and int(header["intent_code"]) == 0
    assert [int(n) for n in header["dim"][:4]] == [3, *geometry.shape[::-1]]
    raw = np.asarray(nifti.dataobj.get_unscaled())  # (x, y, z) of a structured (R, G, B) dtype
    channels = np.stack([raw[name] for name in ("R", "G", "B")], axis=-1)
    np.testing.assert_array_equal(channels.transpose(2, 1, 0, 3), volume.array)
    expected = np.eye(4)
    expected[:3, :3] = LPS_TO_RAS @ geometry.direction * np.asarray(geometry.spacing)[None, :]
    expected[:3, 3] = LPS_TO_RAS @ np.asarray(geometry.origin)
    np.testing.assert_allclose(nifti.affine, expected, atol=1e-4)
    back = read_nifti(path, allow_rgb=True)
    np.testing.assert_array_equal(back.array, volume.array)
    assert back.is_colour and back.geometry.same_grid(geometry, tolerance_mm=1e-4)
    with pytest.raises(ValueError, match=f"rgb{suffix}: an RGB colour image"):
        read_nifti(path)


def test_rgb_read_from_nibabel_and_2d_rgb(tmp_path: Path) -> None:
    rgb_dtype = np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")])
    rng = np.random.default_rng(4)
    channels = rng.integers(0, 256, (6, 5, 4, 3), dtype=np.uint8)  # (x, y, z, c)
    structured = np.empty((6, 5, 4), rgb_dtype)
    for index, name in enumerate("RGB"):
        structured[name] = channels[..., index]
    affine = np.diag([-0.5, -0.7, 2.0, 1.0])
    affine[:3, 3] = [10.0, 20.0, -5.0]
    nib.save(nib.Nifti1Image(structured, affine), str(tmp_path / "theirs.nii"))
    back = read_nifti(tmp_path / "theirs.nii", allow_rgb=True)
    np.testing.assert_array_equal(back.array, channels.transpose(2, 1, 0, 3))
    np.testing.assert_allclose(back.geometry.origin, [-10.0, -20.0, -5.0], atol=1e-6)
    flat = Volume(rng.integers(0, 256, (7, 9, 3), dtype=np.uint8), Geometry((7, 9), (0.2, 0.3, 1.0)))
    nifti = nib.load(str(write_nifti(flat, tmp_path / "flat.nii")))
    assert [int(n) for n in nifti.header["dim"][:4]] == [3, 9, 7, 1]
    with pytest.raises(ValueError, match="deep.nii: NIfTI holds colour only as 8-bit RGB"):
        write_nifti(Volume(np.zeros((2, 2, 2, 3), np.uint16), Geometry((2, 2, 2))), tmp_path / "deep.nii")
