"""`sightline convert` (engine.convert, engine.convert_nrrd): one file + JSON sidecar per stack, geometry
kept in NIfTI and NRRD, warnings carried, no patient data in names or sidecars, atomic writes."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from app.cli import main
from engine.convert import convert
from engine.convert_nrrd import nrrd_header, write_nrrd
from engine.geometry import Geometry, direction_from_image_orientation
from engine.nifti import read_nifti
from engine.progress import Cancelled, CancelToken
from engine.volume import Volume
from tests.dicom_factory import synthetic_ct_series

OBLIQUE = (0.96592583, 0.25881905, 0.0, -0.25881905, 0.96592583, 0.0)  # 15 degrees about the slice normal


def _write_series(folder: Path, description: str = "CT CHEST", **kwargs) -> tuple[list, Geometry]:
    datasets, geometry = synthetic_ct_series(**{"n_slices": 5, "rows": 12, "columns": 10,
                                                "spacing": (0.7, 0.8, 2.5), "origin": (-40.0, 25.0, 110.0),
                                                **kwargs})
    folder.mkdir(parents=True, exist_ok=True)
    for index, ds in enumerate(datasets):
        ds.SeriesDescription = description
        ds.save_as(folder / f"im{index}.dcm", enforce_file_format=True)
    return datasets, geometry


def _read_nrrd(path: Path) -> tuple[dict[str, str], np.ndarray]:
    """A small independent NRRD reader: header fields and the raw data block."""
    data = path.read_bytes()
    head, _, body = data.partition(b"\n\n")
    fields = dict(line.split(": ", 1) for line in head.decode().splitlines()[1:] if not line.startswith("#"))
    if fields["encoding"] == "gzip":
        body = gzip.decompress(body)
    return fields, np.frombuffer(body, dtype=np.uint8)


def test_ct_series_to_nifti_keeps_voxels_geometry_and_writes_a_sidecar(tmp_path: Path) -> None:
    nib = pytest.importorskip("nibabel")
    datasets, geometry = _write_series(tmp_path / "in", orientation=OBLIQUE)
    report = convert(tmp_path / "in", tmp_path / "out")
    assert report.summary().startswith("1 written, 0 failed") and not report.errors
    (stack,) = report.written
    assert stack.image.name == "0003_CT_CHEST.nii.gz" and stack.sidecar.name == "0003_CT_CHEST.json"
    image = nib.load(stack.image)
    # voxel (x, y, z) of the file is at the patient point the DICOM header gives it (RAS = LPS with x, y negated)
    expected = np.diag([-1, -1, 1, 1]) @ geometry.affine
    assert np.allclose(image.affine, expected, atol=1e-4)
    hu = np.stack([ds.pixel_array.astype(np.int32) - 1024 for ds in datasets[::-1]])  # slice order
    assert np.array_equal(np.asarray(image.dataobj).transpose(2, 1, 0), hu)
    sidecar = json.loads(stack.sidecar.read_text())
    assert sidecar["SeriesInstanceUID"] == datasets[0].SeriesInstanceUID
    assert sidecar["Modality"] == "CT" and sidecar["SeriesNumber"] == 3
    assert sidecar["ImageOrientationPatientDICOM"] == pytest.approx(list(OBLIQUE), abs=1e-6)
    assert sidecar["VoxelSpacing"] == pytest.approx([0.7, 0.8, 2.5])
    assert sidecar["Dimensions"] == [10, 12, 5] and sidecar["Warnings"] == []
    assert sidecar["ImageFile"] == stack.image.name and sidecar["ConversionSoftware"] == "Sightline"
    text = stack.sidecar.read_text()
    assert "Phantom^Test" not in text and "PH001" not in text and "19700101" not in text
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [stack.sidecar.name, stack.image.name]


def test_nrrd_holds_the_lps_grid_and_the_voxels(tmp_path: Path) -> None:
    datasets, geometry = _write_series(tmp_path / "in", orientation=OBLIQUE)
    (stack,) = convert(tmp_path / "in", tmp_path / "out", "nrrd").written
    fields, raw = _read_nrrd(stack.image)
    assert fields["space"] == "left-posterior-superior" and fields["type"] == "int16"
    assert fields["sizes"] == "10 12 5" and fields["kinds"] == "domain domain domain"
    vectors = [np.array(v.strip("()").split(","), dtype=float) for v in fields["space directions"].split()]
    origin = np.array(fields["space origin"].strip("()").split(","), dtype=float)
    for zyx in ([0, 0, 0], [4, 11, 9], [2, 3, 7]):  # index (x, y, z) -> origin + sum(index * vector)
        point = origin + zyx[2] * vectors[0] + zyx[1] * vectors[1] + zyx[0] * vectors[2]
        assert np.allclose(point, geometry.voxel_to_patient(np.array(zyx)), atol=1e-9)
    voxels = raw.view("<i2").reshape(5, 12, 10)
    hu = np.stack([ds.pixel_array.astype(np.int32) - 1024 for ds in datasets[::-1]])
    assert np.array_equal(voxels, hu)


def test_nrrd_is_read_by_an_independent_reader(tmp_path: Path) -> None:
    sitk = pytest.importorskip("SimpleITK")
    direction = direction_from_image_orientation(OBLIQUE)
    geometry = Geometry((3, 4, 5), (0.5, 0.6, 1.7), (10.0, -3.0, 7.5), direction)
    array = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    for compressed in (True, False):
        path = write_nrrd(Volume(array, geometry), tmp_path / f"v{compressed}.nrrd", compressed=compressed)
        itk = sitk.ReadImage(str(path))
        assert np.array_equal(sitk.GetArrayFromImage(itk), array)
        assert np.allclose(itk.GetOrigin(), geometry.origin) and np.allclose(itk.GetSpacing(), geometry.spacing)
        assert np.allclose(np.reshape(itk.GetDirection(), (3, 3)), direction)
    rgb = Volume(np.zeros((4, 5, 3), dtype=np.uint8), Geometry((4, 5), (0.2, 0.3, 1.0)))
    header = nrrd_header(rgb, compressed=False)
    assert "sizes: 3 5 4 1" in header and "kinds: RGB-color domain domain domain" in header
    assert "space directions: none (0.2,0.0,0.0)" in header and "endian" not in header
    with pytest.raises(ValueError, match="bool"):
        nrrd_header(Volume(np.zeros((2, 2, 2), dtype=bool), Geometry((2, 2, 2))), compressed=True)


def test_colour_goes_to_nifti_rgb24_and_every_stack_is_accounted_for(tmp_path: Path, capsys) -> None:
    source = tmp_path / "in"
    source.mkdir()
    for name in ("SC_rgb.dcm", "CT_small.dcm"):
        (source / name).write_bytes(Path(get_testdata_file(name)).read_bytes())
    (source / "notes.txt").write_text("not DICOM")
    nifti = convert(source, tmp_path / "nifti")
    assert len(nifti.written) == 2 and not nifti.failed, nifti.failed  # 8-bit RGB: NIfTI RGB24
    assert [Path(s.path).name for s in nifti.skipped] == ["notes.txt"]
    reference = pydicom.dcmread(get_testdata_file("SC_rgb.dcm")).pixel_array
    rgb = next(s for s in nifti.written if json.loads(s.sidecar.read_text())["Samples"] == 3)
    image = nib.load(str(rgb.image))
    assert int(image.header["datatype"]) == 128 and [int(n) for n in image.header["dim"][:4]] == [3, 100, 100, 1]
    raw = np.asarray(image.dataobj.get_unscaled())  # (x, y, 1) of (R, G, B)
    pixels = np.stack([raw[name][:, :, 0].T for name in ("R", "G", "B")], axis=-1)
    assert np.array_equal(pixels, reference)
    ours = read_nifti(rgb.image, allow_rgb=True)
    assert np.array_equal(ours.array[0], reference)
    lps = np.eye(4)
    lps[:3, :3] = ours.geometry.direction * np.asarray(ours.geometry.spacing)[None, :]
    lps[:3, 3] = ours.geometry.origin
    np.testing.assert_allclose(np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps, image.affine, atol=1e-5)
    nrrd = convert(source, tmp_path / "nrrd", "nrrd")
    assert len(nrrd.written) == 2 and not nrrd.failed
    colour = next(s for s in nrrd.written if json.loads(s.sidecar.read_text())["Samples"] == 3)
    fields, raw = _read_nrrd(colour.image)
    assert fields["kinds"].startswith("RGB-color") and fields["sizes"] == "3 100 100 1"
    assert np.array_equal(raw.reshape(100, 100, 3), reference)
    warnings = json.loads(colour.sidecar.read_text())["Warnings"]
    assert any("projection image" in w for w in warnings)
    # the CLI: written files on stdout, failures on stderr, exit 0 when something was written
    assert main(["convert", str(source), str(tmp_path / "cli")]) == 0
    captured = capsys.readouterr()
    assert "2 written, 0 failed" in captured.out
    # 16-bit RGB does not fit RGB24: refused in NIfTI with a pointer to NRRD, which holds it
    deep = tmp_path / "deep"
    deep.mkdir()
    (deep / "rgb16.dcm").write_bytes(Path(get_testdata_file("SC_rgb_16bit.dcm")).read_bytes())
    refused = convert(deep, tmp_path / "deep_nifti")
    assert not refused.written and len(refused.failed) == 1
    assert "uint16" in refused.failed[0][1] and "--format nrrd" in refused.failed[0][1]
    assert len(convert(deep, tmp_path / "deep_nrrd", "nrrd").written) == 1
    assert main(["convert", str(deep), str(tmp_path / "cli16")]) != 0
    assert "failed: series" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "missing"), str(tmp_path / "o")]) == 2


def test_zip_input_names_and_collisions(tmp_path: Path) -> None:
    first, _ = _write_series(tmp_path / "a", description="T1/AX post: Gd?")
    second, _ = _write_series(tmp_path / "b", description="T1/AX post: Gd?", seed=4)
    archive = tmp_path / "studies.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for folder in ("a", "b"):
            for file in sorted((tmp_path / folder).iterdir()):
                bundle.write(file, f"{folder}/{file.name}")
    report = convert(archive, tmp_path / "out")
    names = sorted(s.image.name for s in report.written)
    assert names == ["0003_T1_AX_post_Gd.nii.gz", "0003_T1_AX_post_Gd_2.nii.gz"]
    uids = {json.loads(s.sidecar.read_text())["SeriesInstanceUID"] for s in report.written}
    assert uids == {first[0].SeriesInstanceUID, second[0].SeriesInstanceUID}


def test_gaps_are_warned_in_the_sidecar_and_progress_and_cancel_work(tmp_path: Path) -> None:
    datasets, _ = _write_series(tmp_path / "in")
    (tmp_path / "in" / "im2.dcm").unlink()  # a missing slice in the middle
    calls: list[tuple[int, int, str]] = []
    (stack,) = convert(tmp_path / "in", tmp_path / "out", progress=lambda *a: calls.append(a)).written
    assert any("missing" in w for w in json.loads(stack.sidecar.read_text())["Warnings"])
    assert calls[0][:2] == (0, 1) and calls[-1][:2] == (1, 1)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        convert(tmp_path / "in", tmp_path / "cancelled", cancel=token)
    assert not (tmp_path / "cancelled").exists()
    with pytest.raises(ValueError, match="unknown format"):
        convert(tmp_path / "in", tmp_path / "x", "mgh")
