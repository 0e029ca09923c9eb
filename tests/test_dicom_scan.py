"""The header-only DICOM scanner: sources, stacking, geometry checks, multi-frame, errors, CLI."""

from __future__ import annotations

import json
import math
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from engine.dicom.scanner import ScanReport, scan, scan_files
from engine.progress import Cancelled, CancelToken
from engine.series import FileRef, SeriesInfo

CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"
US_MULTIFRAME_STORAGE = "1.2.840.10008.5.1.4.1.1.3.1"
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
SAGITTAL = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
ROWS, COLUMNS = 6, 8


def corpus_dir() -> Path:
    return Path(pydicom.data.get_testdata_file("CT_small.dcm")).parent


def make_slice(
    position: tuple[float, float, float] | None,
    number: int,
    series_uid: str,
    orientation: tuple[float, ...] | None = AXIAL,
    modality: str = "CT",
    rows: int = ROWS,
    columns: int = COLUMNS,
    **attributes: object,
) -> Dataset:
    """A small single-frame image with int16 pixels whose value is its InstanceNumber."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = {"CT": CT_STORAGE, "MR": MR_STORAGE, "DX": DX_STORAGE}[modality]
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = modality
    ds.PatientID, ds.PatientName = "SYN001", "Synthetic^Patient"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.2"
    ds.SeriesNumber, ds.InstanceNumber = 3, number
    ds.SeriesDescription = "synthetic"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    if position is not None:
        ds.ImagePositionPatient = [f"{v:.4f}" for v in position]
    if orientation is not None:
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in orientation]
    if modality != "DX":
        ds.PixelSpacing = [0.7, 0.8]
        ds.SliceThickness = 2.5
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    ds.PixelData = np.full((rows, columns), number, np.int16).tobytes()
    return ds


def write_series(folder: Path, datasets: list[Dataset], names: list[str] | None = None) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, ds in enumerate(datasets):
        path = folder / (names[index] if names else f"IM{index:04d}.dcm")
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def axial_series(folder: Path, z_values: list[float], **attributes: object) -> tuple[str, list[Path]]:
    uid = generate_uid()
    datasets = [make_slice((-100.0, -120.0, z), i + 1, uid, **attributes) for i, z in enumerate(z_values)]
    return uid, write_series(folder, datasets)


def only(result: ScanReport) -> SeriesInfo:
    assert len(result.series) == 1, [s.to_json() for s in result.series]
    return result.series[0]


def tags(info: SeriesInfo) -> list[str]:
    return [w.split(":", 1)[0] for w in info.warnings]


def rotation(ax: float, az: float) -> np.ndarray:
    """Rotation about x by ``ax`` then about z by ``az`` degrees."""
    a, c = math.radians(ax), math.radians(az)
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return rz @ rx


# --- stacking and geometry ---------------------------------------------------------------------------


def test_axial_series_in_reversed_file_order(tmp_path: Path) -> None:
    uid = generate_uid()
    z_values = [10.0, 12.5, 15.0, 17.5, 20.0]
    datasets = [make_slice((-100.0, -120.0, z), i + 1, uid) for i, z in enumerate(z_values)]
    write_series(tmp_path, datasets[::-1], names=[f"IM{i}" for i in range(5)])  # IM0 holds the top slice
    info = only(scan(tmp_path))
    assert info.warnings == []
    assert info.shape == (5, ROWS, COLUMNS)
    assert [i.position[2] for i in info.instances] == z_values
    assert info.geometry.origin == (-100.0, -120.0, 10.0)
    assert info.geometry.spacing == pytest.approx((0.8, 0.7, 2.5))
    assert np.allclose(info.geometry.direction, np.eye(3))
    assert info.frame_order == []
    assert info.extra["kind"] == "volume"
    assert info.extra["rescale"] == [[1.0, -1024.0]] * 5
    assert (info.patient["PatientID"], info.series_number, info.description) == ("SYN001", 3, "synthetic")


def test_spacing_comes_from_positions_not_slice_thickness(tmp_path: Path) -> None:
    axial_series(tmp_path, [0.0, 3.0, 6.0, 9.0], SliceThickness=5.0)
    assert only(scan(tmp_path)).geometry.spacing[2] == pytest.approx(3.0)


def oblique_series(folder: Path) -> list[Path]:
    matrix = rotation(30, 20)
    row, column, normal = matrix[:, 0], matrix[:, 1], matrix[:, 2]
    uid = generate_uid()
    origin = np.array([-50.0, 20.0, 35.0])
    datasets = [
        make_slice(tuple(origin + k * 3.0 * normal), k + 1, uid, orientation=(*row, *column), modality="MR")
        for k in range(6)
    ]
    return write_series(folder, datasets[::2] + datasets[1::2])


def test_oblique_series_keeps_its_direction(tmp_path: Path) -> None:
    oblique_series(tmp_path)
    info = only(scan(tmp_path))
    assert info.warnings == []
    assert np.allclose(info.geometry.direction, rotation(30, 20), atol=1e-5)
    assert info.geometry.spacing == pytest.approx((0.8, 0.7, 3.0), abs=1e-3)
    assert [i.instance_number for i in info.instances] == [1, 2, 3, 4, 5, 6]


def test_missing_slice_is_reported_where_and_how_many(tmp_path: Path) -> None:
    axial_series(tmp_path, [0.0, 2.0, 4.0, 6.0, 10.0, 12.0])
    info = only(scan(tmp_path))
    assert tags(info) == ["missing slices"]
    assert "1 slice(s) missing" in info.warnings[0] and "slices 3 and 4" in info.warnings[0]
    assert info.extra["gaps"] == [{"after_slice": 3, "missing": 1}]
    assert info.geometry.spacing[2] == pytest.approx(2.0)


def test_non_uniform_spacing_is_reported(tmp_path: Path) -> None:
    axial_series(tmp_path, [0.0, 2.0, 4.0, 6.2, 8.2, 10.2])
    info = only(scan(tmp_path))
    assert tags(info) == ["non-uniform spacing"]
    assert "2.000 to 2.200 mm" in info.warnings[0]


def test_tiny_spacing_jitter_is_tolerated(tmp_path: Path) -> None:
    axial_series(tmp_path, [0.0, 2.0, 4.004, 6.0, 8.0])
    assert only(scan(tmp_path)).warnings == []


def test_tilted_ct_stack_reports_angle_and_gantry_tilt(tmp_path: Path) -> None:
    uid = generate_uid()
    step, shift = 2.0, math.tan(math.radians(15)) * 2.0  # each slice moves 15 degrees off the normal
    datasets = [make_slice((0.0, k * shift, k * step), k + 1, uid, GantryDetectorTilt=15.0) for k in range(5)]
    write_series(tmp_path, datasets)
    info = only(scan(tmp_path))
    assert tags(info) == ["gantry tilt"]
    assert "15.0 degrees from the slice normal" in info.warnings[0]
    assert "GantryDetectorTilt 15 degrees" in info.warnings[0]
    assert info.extra["tilt_deg"] == pytest.approx(15.0, abs=0.01)
    assert info.geometry.spacing[2] == pytest.approx(2.0)


def test_two_orientations_become_two_stacks(tmp_path: Path) -> None:
    uid = generate_uid()
    axial = [make_slice((0.0, 0.0, 2.0 * k), k + 1, uid, modality="MR") for k in range(4)]
    sagittal = [
        make_slice((3.0 * k, 0.0, 0.0), k + 10, uid, orientation=SAGITTAL, modality="MR") for k in range(3)
    ]
    write_series(tmp_path, axial + sagittal)
    first, second = scan(tmp_path).series
    assert (first.stack_index, second.stack_index) == (0, 1)
    assert (first.shape[0], second.shape[0]) == (4, 3)
    assert tags(first) == tags(second) == ["mixed orientations"]
    assert second.extra["split"] == "sagittal"
    assert np.allclose(second.geometry.direction[:, 2], [-1.0, 0.0, 0.0])  # row x column


def test_two_echoes_at_the_same_positions_are_split_by_echo_number(tmp_path: Path) -> None:
    uid = generate_uid()
    datasets = [
        make_slice((0.0, 0.0, 2.0 * k), 10 * echo + k, uid, modality="MR", EchoNumbers=echo)
        for echo in (1, 2)
        for k in range(4)
    ]
    write_series(tmp_path, datasets)
    stacks = scan(tmp_path).series
    assert [s.extra["split"] for s in stacks] == ["EchoNumbers=1", "EchoNumbers=2"]
    assert all(s.shape == (4, ROWS, COLUMNS) and tags(s) == ["duplicate positions"] for s in stacks)
    assert [i.instance_number for i in stacks[1].instances] == [20, 21, 22, 23]


def test_unexplained_duplicate_positions_split_by_instance_order(tmp_path: Path) -> None:
    uid = generate_uid()
    datasets = [make_slice((0.0, 0.0, 2.0 * (k % 3)), k + 1, uid, modality="MR") for k in range(6)]
    write_series(tmp_path, datasets)
    stacks = scan(tmp_path).series
    assert [s.extra["split"] for s in stacks] == ["occurrence 1", "occurrence 2"]
    assert "no attribute" in stacks[0].warnings[0]
    assert [i.instance_number for i in stacks[0].instances] == [1, 2, 3]


def test_localizer_image_type_becomes_its_own_stack(tmp_path: Path) -> None:
    uid = generate_uid()
    slices = [make_slice((0.0, 0.0, 2.0 * k), k + 2, uid) for k in range(4)]
    scout = make_slice((0.0, -50.0, 0.0), 1, uid, orientation=(1, 0, 0, 0, 0, -1), rows=10)
    scout.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    write_series(tmp_path, [scout, *slices])
    main, localizer = scan(tmp_path).series
    assert main.shape == (4, ROWS, COLUMNS) and "localizer" not in tags(main)
    assert localizer.extra["split"] == "localizer" and "localizer" in tags(localizer)


def test_single_slice_of_another_orientation_in_mr_is_a_localizer(tmp_path: Path) -> None:
    uid = generate_uid()
    slices = [make_slice((0.0, 0.0, 2.0 * k), k + 2, uid, modality="MR") for k in range(4)]
    other = make_slice((0.0, 0.0, 0.0), 1, uid, orientation=SAGITTAL, modality="MR")
    write_series(tmp_path, [other, *slices])
    main, localizer = scan(tmp_path).series
    assert main.warnings == [] and main.shape[0] == 4
    assert tags(localizer) == ["localizer", "single slice"]


def test_series_with_two_image_sizes_is_split(tmp_path: Path) -> None:
    uid = generate_uid()
    small = [make_slice((0.0, 0.0, 2.0 * k), k + 1, uid) for k in range(3)]
    large = [make_slice((0.0, 0.0, 2.0 * k), k + 4, uid, rows=10, columns=10) for k in range(3)]
    write_series(tmp_path, small + large)
    stacks = scan(tmp_path).series
    assert sorted(s.shape for s in stacks) == [(3, ROWS, COLUMNS), (3, 10, 10)]
    assert all(tags(s) == ["mixed sizes"] for s in stacks)
    assert len({s.stack_index for s in stacks}) == 2


def test_missing_positions_fall_back_to_instance_number(tmp_path: Path) -> None:
    uid = generate_uid()
    datasets = [make_slice(None, n, uid, orientation=None, SliceThickness=3.0) for n in (3, 1, 2)]
    write_series(tmp_path, datasets)
    info = only(scan(tmp_path))
    assert tags(info) == ["no position"]
    assert [i.instance_number for i in info.instances] == [1, 2, 3]
    assert info.geometry.spacing == pytest.approx((0.8, 0.7, 3.0))


def test_single_slice_volume_warns(tmp_path: Path) -> None:
    axial_series(tmp_path, [5.0])
    info = only(scan(tmp_path))
    assert info.shape == (1, ROWS, COLUMNS) and tags(info) == ["single slice"]
    assert info.geometry.spacing[2] == pytest.approx(2.5)


def test_projection_views_are_separate_2d_stacks(tmp_path: Path) -> None:
    uid = generate_uid()
    views = [
        make_slice(None, n, uid, orientation=None, modality="DX", ImagerPixelSpacing=[0.15, 0.15])
        for n in (1, 2)
    ]
    write_series(tmp_path, views)
    stacks = scan(tmp_path).series
    assert [(s.stack_index, s.shape) for s in stacks] == [(0, (ROWS, COLUMNS)), (1, (ROWS, COLUMNS))]
    assert all(s.geometry.is_projection and tags(s) == ["detector spacing", "no patient orientation"] for s in stacks)
    assert stacks[0].geometry.spacing[:2] == (0.15, 0.15)
    assert stacks[0].extra == {"kind": "projection", "pixel_spacing_source": "ImagerPixelSpacing"}


def test_multiframe_without_positions_is_a_2d_plus_time_stack(tmp_path: Path) -> None:
    ds = make_slice(None, 1, generate_uid(), orientation=None, modality="CT")
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = US_MULTIFRAME_STORAGE
    ds.Modality, ds.NumberOfFrames, ds.FrameTime = "US", 5, 33.3
    ds.PixelData = np.zeros((5, ROWS, COLUMNS), np.int16).tobytes()
    write_series(tmp_path, [ds])
    info = only(scan(tmp_path))
    assert info.shape == (5, ROWS, COLUMNS) and info.extra["kind"] == "cine"
    assert info.frame_order == [(0, f) for f in range(5)]
    assert "2D+time" in tags(info) and info.extra["frame_time_ms"] == pytest.approx(33.3)


# --- enhanced multi-frame ------------------------------------------------------------------------------


def enhanced_ct(folder: Path) -> tuple[list[Dataset], Path]:
    """A legacy-converted enhanced CT (highdicom) whose frames are stored top slice first."""
    from highdicom.legacy import LegacyConvertedEnhancedCTImage

    uid = generate_uid()
    slices = [make_slice((-10.0, -20.0, 2.0 * k), k + 1, uid) for k in range(5)]
    for ds in slices:  # attributes the converter requires
        ds.AccessionNumber = ds.ReferringPhysicianName = ds.StudyID = ds.Manufacturer = ""
        ds.PatientBirthDate = ds.PatientSex = ""
        ds.StudyDate, ds.StudyTime = "20240101", "120000"
    enhanced = LegacyConvertedEnhancedCTImage(
        legacy_datasets=slices[::-1],
        series_instance_uid=generate_uid(),
        series_number=4,
        sop_instance_uid=generate_uid(),
        instance_number=1,
    )
    for frame, group in enumerate(enhanced.PerFrameFunctionalGroupsSequence):
        transform = Dataset()
        transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = 1, -1000 - frame, "HU"
        group.PixelValueTransformationSequence = [transform]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "enhanced.dcm"
    enhanced.save_as(path, enforce_file_format=True)
    return slices, path


def test_enhanced_multiframe_is_sorted_by_frame_positions(tmp_path: Path) -> None:
    slices, path = enhanced_ct(tmp_path / "enhanced")
    info = only(scan(path))
    assert info.shape == (5, ROWS, COLUMNS) and info.warnings == []
    assert info.frame_order == [(0, 4), (0, 3), (0, 2), (0, 1), (0, 0)]
    assert info.geometry.origin == (-10.0, -20.0, 0.0)
    assert info.geometry.spacing == pytest.approx((0.8, 0.7, 2.0))
    assert info.extra["rescale"] == [[1.0, -1000.0 - f] for f in (4, 3, 2, 1, 0)]
    write_series(tmp_path / "single", slices)
    assert only(scan(tmp_path / "single")).geometry.same_grid(info.geometry)


def test_enhanced_multiframe_with_two_stacks_at_the_same_positions(tmp_path: Path) -> None:
    _, path = enhanced_ct(tmp_path)
    ds = pydicom.dcmread(path)
    frames = ds.PerFrameFunctionalGroupsSequence
    for group in frames:
        group.FrameContentSequence[0].StackID = "1"
    doubled = [Dataset.from_json(g.to_json_dict()) for g in frames]
    for group in doubled:
        group.FrameContentSequence[0].StackID = "2"
    ds.PerFrameFunctionalGroupsSequence = list(frames) + doubled
    ds.NumberOfFrames = 10
    ds.PixelData = ds.PixelData * 2
    ds.save_as(path, enforce_file_format=True)
    stacks = scan(path).series
    assert [s.extra["split"] for s in stacks] == ["StackID=1", "StackID=2"]
    assert stacks[1].frame_order == [(0, 9), (0, 8), (0, 7), (0, 6), (0, 5)]


# --- sources: zip, DICOMDIR, errors -------------------------------------------------------------------


def test_zip_members_are_scanned_without_extracting(tmp_path: Path) -> None:
    _, paths = axial_series(tmp_path / "series", [0.0, 2.0, 4.0])
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in paths:
            zipped.write(path, f"DICOM/{path.name}")
        zipped.writestr("DICOM/notes.txt", "hello")
    result = scan(archive)
    info = only(result)
    assert info.instances[0].ref == FileRef(str(archive), "DICOM/IM0000.dcm")
    assert info.geometry.same_grid(only(scan(tmp_path / "series")).geometry)
    assert [e.reason for e in result.skipped] == ["not DICOM (.txt sidecar file, ignored)"]
    assert result.errors == []


def test_dicomdir_folder_and_file_give_the_same_series(tmp_path: Path) -> None:
    shutil.copytree(corpus_dir() / "dicomdirtests", tmp_path / "cd")
    (tmp_path / "cd" / "77654033" / "CR1").rename(tmp_path / "cd" / "77654033" / "cr1")  # CD copied to Linux
    via_folder = scan(tmp_path / "cd")
    via_file = scan(tmp_path / "cd" / "DICOMDIR")
    key = [(s.series_uid, s.stack_index, len(s.instances)) for s in via_folder.series]
    assert key == [(s.series_uid, s.stack_index, len(s.instances)) for s in via_file.series]
    assert sum(len(s.instances) for s in via_file.series) == 31
    assert via_file.errors == via_folder.errors == []
    reasons = {Path(s.path).name: s.reason for s in via_folder.skipped}
    assert reasons["DICOMDIR"].startswith("DICOMDIR") and reasons["README"].startswith("not DICOM")


def test_file_missing_from_a_dicomdir_is_an_error(tmp_path: Path) -> None:
    shutil.copytree(corpus_dir() / "dicomdirtests" / "TINY_ALPHA", tmp_path / "cd")
    (tmp_path / "cd" / "PT000000" / "ST000000" / "SE000000" / "IM000000").unlink()
    [error] = scan(tmp_path / "cd" / "DICOMDIR").errors
    assert error.path.endswith("IM000000") and "but missing" in error.reason


def test_broken_files_are_errors_non_dicom_is_skipped_and_the_rest_still_scans(tmp_path: Path) -> None:
    _, paths = axial_series(tmp_path, [0.0, 2.0, 4.0, 6.0])
    data = paths[-1].read_bytes()
    paths[-1].write_bytes(data[: len(data) - 20])  # cut into the pixel data
    (tmp_path / "viewer.exe").write_bytes(os.urandom(300))
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "series.json").write_text("{}")
    (tmp_path / "volume.nii.gz").write_bytes(b"\x1f\x8b")
    result = scan(tmp_path)
    assert only(result).shape[0] == 3
    reasons = {Path(e.path).name: e.reason for e in result.errors}
    assert list(reasons) == ["IM0003.dcm"]
    assert reasons["IM0003.dcm"].startswith("truncated file: pixel data needs 96 bytes")
    skipped = {Path(s.path).name: s.reason for s in result.skipped}
    assert set(skipped) == {"viewer.exe", "empty", "series.json", "volume.nii.gz"}
    assert skipped["viewer.exe"] == skipped["empty"] == "not a DICOM file"


def test_pixel_data_shorter_than_the_header_says_is_an_error(tmp_path: Path) -> None:
    uid = generate_uid()
    ds = make_slice((0.0, 0.0, 0.0), 1, uid)
    ds.PixelData = ds.PixelData[:-16]
    write_series(tmp_path, [ds])
    [error] = scan(tmp_path).errors
    assert error.reason == "pixel data too short: 80 bytes, the header describes 96"


def test_non_image_dicom_and_duplicates_are_skipped(tmp_path: Path) -> None:
    _, paths = axial_series(tmp_path, [0.0, 2.0])
    shutil.copy(paths[0], tmp_path / "copy_of_first.dcm")
    shutil.copy(corpus_dir() / "test-SR.dcm", tmp_path / "report.dcm")
    result = scan(tmp_path)
    assert only(result).shape[0] == 2 and result.errors == []
    reasons = sorted(s.reason for s in result.skipped)
    assert reasons[0].startswith("duplicate of ") and reasons[1] == "no pixel data (Comprehensive SR Storage)"


def test_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        scan(tmp_path / "absent")


# --- progress and cancellation -------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 3])
def test_progress_is_reported_per_file(tmp_path: Path, workers: int) -> None:
    _, paths = axial_series(tmp_path, [0.0, 2.0, 4.0, 6.0])
    calls: list[tuple[int, int]] = []
    scan_files(
        [FileRef(str(p)) for p in paths], progress=lambda d, t, m: calls.append((d, t)), workers=workers
    )
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


@pytest.mark.parametrize("workers", [1, 3])
def test_cancel_stops_the_scan(tmp_path: Path, workers: int) -> None:
    axial_series(tmp_path, [float(z) for z in range(8)])
    token = CancelToken()
    seen: list[int] = []

    def progress(done: int, total: int, message: str) -> None:
        seen.append(done)
        if done == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        scan(tmp_path, progress=progress, cancel=token, workers=workers)
    assert seen == [1, 2]


# --- agreement with SimpleITK (GDCM) -------------------------------------------------------------------


def sitk_geometry(folder: Path) -> tuple[tuple[float, ...], tuple[float, ...], np.ndarray, tuple[int, ...]]:
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    image = reader.Execute()
    direction = np.array(image.GetDirection()).reshape(3, 3)
    return image.GetOrigin(), image.GetSpacing(), direction, image.GetSize()[::-1]


@pytest.mark.parametrize("source", ["oblique", "corpus CT5N"])
def test_geometry_matches_simpleitk(tmp_path: Path, source: str) -> None:
    if source == "oblique":
        folder = tmp_path / "oblique"
        oblique_series(folder)
    else:
        folder = corpus_dir() / "dicomdirtests" / "98892001" / "CT5N"
    info = only(scan(folder))
    origin, spacing, direction, shape = sitk_geometry(folder)
    assert info.shape == shape
    assert info.geometry.origin == pytest.approx(origin, abs=1e-3)
    assert info.geometry.spacing == pytest.approx(spacing, abs=1e-3)
    assert np.allclose(info.geometry.direction, direction, atol=1e-4)


# --- the command line ----------------------------------------------------------------------------------


def run_cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    from app.cli import main

    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_scan_command_on_the_pydicom_corpus(capsys: pytest.CaptureFixture) -> None:
    corpus = corpus_dir()
    code, out, err = run_cli(["scan", str(corpus), "--json"], capsys)
    assert code == 0 and "Traceback" not in err
    listing = json.loads(out)
    assert set(listing) == {"series", "errors", "skipped"}
    assert {"series_uid", "modality", "description", "n_instances", "shape", "spacing", "warnings"} <= set(
        listing["series"][0]
    )
    result = scan(corpus)
    assert result.to_json() == listing
    used = [i.ref.path for s in result.series for i in s.instances]
    left_out = [e.path for e in result.errors + result.skipped]
    every_file = {str(p) for p in corpus.rglob("*") if p.is_file()}
    assert sorted(used + left_out) == sorted(every_file)  # each file exactly once
    assert {Path(e.path).name for e in result.errors} >= {"MR_truncated.dcm", "badVR.dcm"}
    skipped = {Path(s.path).name: s.reason for s in result.skipped}
    assert skipped["zipMR.gz"] == "not a DICOM file (gzip-compressed: unpack it first)"
    assert skipped["crayons.icc"] == skipped["rtplan.dump"] == "not a DICOM file"


def test_scan_command_table_and_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    axial_series(tmp_path / "study", [0.0, 2.0, 5.0, 7.0])
    code, out, _ = run_cli(["scan", str(tmp_path / "study")], capsys)
    assert code == 0
    assert out.splitlines()[0] == "1 stack(s), 0 error(s), 0 skipped"
    assert "4 x 6 x 8" in out and "! non-uniform spacing" in out
    code, _, err = run_cli(["scan", str(tmp_path / "absent")], capsys)
    assert code == 2 and "no such file or folder" in err


@pytest.mark.parametrize("broken_name", ["a.dcm", "b.dcm"])
@pytest.mark.parametrize("name", ["MR_small_RLE.dcm", "CT_small.dcm"])
def test_duplicate_keeps_the_readable_copy(tmp_path: Path, name: str, broken_name: str) -> None:
    """A valid file and a truncated copy under the same SOPInstanceUID, whichever sorts first: the valid one
    is used and the broken one is reported with a reason (a truncated native copy fails the scan itself)."""
    from engine.dicom.loader import load_file, load_series

    data = (corpus_dir() / name).read_bytes()
    valid = tmp_path / ("b.dcm" if broken_name == "a.dcm" else "a.dcm")
    broken = tmp_path / broken_name
    valid.write_bytes(data)
    broken.write_bytes(data[:-2000])
    result = scan(str(tmp_path))
    (series,) = result.series
    assert [i.ref.path for i in series.instances] == [str(valid)]
    assert np.array_equal(load_series(series).array, load_file(corpus_dir() / name).array)
    reasons = {e.path: e.reason for e in result.errors + result.skipped}
    assert set(reasons) == {str(broken)}
    if name == "MR_small_RLE.dcm":  # the scan reads no compressed pixel data: the duplicate check does
        assert str(valid) in reasons[str(broken)]
    swapped = [w for w in series.warnings if w.startswith("duplicate: ")]
    if name == "MR_small_RLE.dcm" and broken_name == "a.dcm":
        assert swapped == [f"duplicate: {broken} is unreadable (its compressed pixel data is cut off or damaged (a "
                           f"fragment runs past the file end)); its copy {valid} with the same SOPInstanceUID is "
                           "used instead"]
    else:
        assert swapped == []


def test_unreadable_reason_of_compressed_pixel_data(tmp_path: Path) -> None:
    from engine.dicom.pixels import unreadable_reason

    data = (corpus_dir() / "MR_small_RLE.dcm").read_bytes()
    assert unreadable_reason(FileRef(str(corpus_dir() / "MR_small_RLE.dcm"))) is None
    (tmp_path / "no_end.dcm").write_bytes(data[: data.rfind(b"\xfe\xff\xdd\xe0")])  # cut at the delimiter
    assert unreadable_reason(FileRef(str(tmp_path / "no_end.dcm"))) == (
        "its compressed pixel data is cut off (the file ends before their end marker)"
    )
    (tmp_path / "header.dcm").write_bytes(data[:300])
    assert unreadable_reason(FileRef(str(tmp_path / "header.dcm")))


def test_local_storage_is_read_with_one_worker_and_network_shares_with_four(tmp_path: Path) -> None:
    """Header parsing holds the GIL: threads only pay off where opening a file waits on the network."""
    from engine.dicom.scanner import DEFAULT_WORKERS, LOCAL_WORKERS, workers_for

    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/vda / ext4 rw,relatime 0 0\n"
                      "server:/export /mnt/pacs nfs4 rw,relatime 0 0\n"
                      "//nas/dicom /mnt/pacs/smb\\040share cifs rw 0 0\n"
                      "tmpfs /mnt/pacs/scratch tmpfs rw 0 0\n")
    assert workers_for(Path("/home/reader/studies"), mounts) == LOCAL_WORKERS == 1
    assert workers_for(Path("/mnt/pacs/2024/ct"), mounts) == DEFAULT_WORKERS == 4
    assert workers_for(Path("/mnt/pacs/smb share/ct"), mounts) == 4  # the mount table's \040 is a space
    assert workers_for(Path("/mnt/pacs/scratch/ct"), mounts) == 1  # the longest mount point wins
    assert workers_for(Path("/home/reader"), tmp_path / "no_such_table") == 4  # unknown storage
