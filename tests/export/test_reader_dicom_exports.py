"""GSPS, TID 1500 SR and KOS of the reader's work: dciodvfy finds no error the source images do not have, and
each reads back onto the same pixels / images."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from engine.ai.dicom_common import ExportError, dataset_bytes
from engine.export.dciodvfy import dciodvfy_available, dciodvfy_messages, new_errors
from engine.export.key_objects import build_kos, read_kos
from engine.export.measurement_report import build_measurement_sr, read_measurement_sr
from engine.export.presentation_state import build_gsps, read_graphics, read_measurements
from engine.measurements import Measurement, measure
from engine.volume import SourceIds, Volume
from engine.window_level import Window
from tests.dicom_factory import synthetic_ct_series

needs_dciodvfy = pytest.mark.skipif(not dciodvfy_available(), reason="dciodvfy (dicom3tools) is not installed")
RIGHT, DOWN = np.eye(3)[0], np.eye(3)[1]


@pytest.fixture
def series(tmp_path):
    datasets, geometry = synthetic_ct_series(6, 64, 48, (0.8, 0.7, 2.0), (-25.0, -20.0, 10.0))
    volume = Volume(np.zeros(geometry.shape, np.int16), geometry, "CT", SourceIds("1", "2", "3"), {})
    volume.array[3, 10:30, 5:25] = 60  # a 60 HU block on slice 3
    source = tmp_path / "source.dcm"
    source.write_bytes(dataset_bytes(datasets[0]))
    return datasets, geometry, volume, source


def voxel(geometry, z, y, x):
    return geometry.voxel_to_patient(np.array([z, y, x], float))


def every_kind(geometry, volume) -> list[Measurement]:
    g = geometry
    c = voxel(g, 3, 20, 15)
    measurements = [
        Measurement("ruler", "axial", [voxel(g, 3, 10, 20), voxel(g, 3, 30, 40)]),
        Measurement("angle", "axial", [c + [8, 0, 0], c, c + [0, 8, 0]]),
        Measurement("cobb", "axial", [c, c + [10, 0, 0], c + [0, 6, 0], c + [10, 10, 0]]),
        Measurement("ellipse", "axial", [c - [5, 3, 0], c + [5, 3, 0]], (RIGHT, DOWN)),
        Measurement("rectangle", "axial", [voxel(g, 3, 12, 7), voxel(g, 3, 26, 21)], (RIGHT, DOWN)),
        Measurement("probe", "axial", [c]),
        Measurement("arrow", "axial", [c, c + [9, -9, 0]], text="nodule"),
        Measurement("ruler", "coronal", [c, c + [0, 0, 4]]),  # across slices: on no acquired image
    ]
    return [measure(volume, m) for m in measurements]


def write(tmp_path, name, dataset):
    path = tmp_path / name
    path.write_bytes(dataset_bytes(dataset))
    return path


@needs_dciodvfy
def test_gsps_is_valid_and_lands_on_the_same_pixels(series, tmp_path) -> None:
    datasets, geometry, volume, source = series
    measurements = every_kind(geometry, volume)
    export = build_gsps(measurements, datasets, geometry, Window(350, 50))
    assert export.skipped == ["ruler 8 (coronal): it does not lie on one acquired image"]
    path = write(tmp_path, "gsps.dcm", export.dataset)
    assert new_errors(path, source) == []
    state = pydicom.dcmread(path)
    assert state.SOPClassUID == "1.2.840.10008.5.1.4.1.1.11.1"
    voi = state.SoftcopyVOILUTSequence[0]
    assert (float(voi.WindowCenter), float(voi.WindowWidth)) == (50.0, 350.0)
    slice_3 = next(d for d in datasets if round(float(d.ImagePositionPatient[2])) == 16)
    ruler = next(g for g in read_graphics(state) if g.tracking_id == "ruler 1" and g.graphic_type == "POLYLINE")
    assert ruler.sop_instance_uid == slice_3.SOPInstanceUID
    assert np.allclose(ruler.pixels, [[20.5, 10.5], [40.5, 30.5]])  # (column, row) of the voxel centres
    back = read_measurements(state, datasets, geometry)
    assert [m.kind for m in back] == [m.kind for m in measurements[:7]]
    for original, restored in zip(measurements, back, strict=False):
        assert np.allclose(original.points, restored.points, atol=1e-4), original.kind
        same_voxels = np.rint(geometry.patient_to_voxel(np.asarray(restored.points)))
        assert (same_voxels == np.rint(geometry.patient_to_voxel(np.asarray(original.points)))).all()
    assert back[6].text == "nodule"
    assert measure(volume, back[4]).values["mean"] == measurements[4].values["mean"] == 60.0


@needs_dciodvfy
def test_measurement_sr_is_valid_with_coded_units_and_reads_back(series, tmp_path) -> None:
    datasets, geometry, volume, source = series
    measurements = every_kind(geometry, volume)
    path = write(tmp_path, "sr.dcm", build_measurement_sr(measurements, datasets, geometry))
    assert new_errors(path, source) == []
    back = read_measurement_sr(pydicom.dcmread(path), datasets, geometry)
    assert [m.kind for m, _ in back] == [m.kind for m in measurements]
    for original, (restored, _) in zip(measurements, back, strict=True):
        assert np.allclose(original.points, restored.points, atol=1e-4), original.kind
    values = [v for _, v in back]
    assert values[0]["Length"] == (pytest.approx(measurements[0].values["length_mm"]), "mm")
    assert values[1]["Angle"] == (pytest.approx(90.0), "deg")
    assert values[2]["Cobb angle"][1] == "deg"
    assert values[2]["Cobb angle"][0] == pytest.approx(np.degrees(np.arctan2(4, 10)), abs=1e-6)
    assert values[4]["Mean"] == (60.0, "[hnsf'U]") and values[4]["Area"][1] == "mm2"
    assert values[5]["Attenuation Coefficient"][1] == "[hnsf'U]"
    assert back[6][0].text == "nodule"
    sr = pydicom.dcmread(path)
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"


def test_sr_reports_pixels_when_the_spacing_is_unknown(series) -> None:
    datasets, geometry, volume, _ = series
    volume.meta["pixel_spacing_source"] = "assumed"
    ruler = measure(volume, Measurement("ruler", "axial", [voxel(geometry, 3, 1, 1), voxel(geometry, 3, 5, 1)]))
    (_, values), = read_measurement_sr(build_measurement_sr([ruler], datasets, geometry), datasets, geometry)
    assert values["Length"][1] == "{pixels}"


@needs_dciodvfy
def test_kos_is_valid_and_selects_the_flagged_images(series, tmp_path) -> None:
    datasets, geometry, _, source = series
    path = write(tmp_path, "kos.dcm", build_kos([4, 1], datasets, geometry, "two key images"))
    assert new_errors(path, source) == []
    kos = pydicom.dcmread(path)
    assert kos.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.59"
    assert read_kos(kos, datasets, geometry) == [1, 4]
    with pytest.raises(ExportError, match="no key image"):
        build_kos([], datasets, geometry)
    with pytest.raises(ExportError, match="outside the series"):
        build_kos([9], datasets, geometry)


@needs_dciodvfy
def test_dciodvfy_check_catches_a_broken_export(series, tmp_path) -> None:
    """The validation is not a formality: a GSPS text in a character set it does not declare is an error."""
    datasets, geometry, volume, source = series
    gsps = build_gsps(every_kind(geometry, volume)[:1], datasets, geometry, Window(400, 40)).dataset
    item = gsps.GraphicAnnotationSequence[0].TextObjectSequence[0]
    item.UnformattedTextValue = "12 mm²"
    path = tmp_path / "broken.dcm"
    path.write_bytes(dataset_bytes(gsps).replace("12 mm²".encode(), "12 mm²".encode("latin-1") + b" "))
    assert any("Character invalid" in line for line in new_errors(path, source))
    assert dciodvfy_messages(source)  # the synthetic source has its own (inherited) errors


def test_gsps_without_a_placeable_measurement_says_why(series) -> None:
    datasets, geometry, volume, _ = series
    across = every_kind(geometry, volume)[-1:]
    with pytest.raises(ExportError, match="does not lie on one acquired image"):
        build_gsps(across, datasets, geometry, Window(400, 40))


def test_a_radiograph_round_trips_on_its_one_image() -> None:
    from engine.geometry import Geometry

    datasets, grid = synthetic_ct_series(1, 40, 50, (0.5, 0.7, 1.0), (-10.0, -10.0, 0.0))
    geometry = Geometry((40, 50), (0.5, 0.7), tuple(grid.origin), grid.direction)
    volume = Volume(np.zeros((40, 50), np.int16), geometry, "DX", SourceIds("1", "2", "3"), {})
    a, b = geometry.voxel_to_patient(np.array([5.0, 6.0])), geometry.voxel_to_patient(np.array([20.0, 30.0]))
    drawn = [measure(volume, Measurement("ruler", "projection", [a, b])),
             measure(volume, Measurement("ellipse", "projection", [a, b], (RIGHT, DOWN)))]
    gsps = build_gsps(drawn, datasets, geometry, Window(400, 40))
    assert gsps.skipped == []
    ruler = next(g for g in read_graphics(gsps.dataset) if g.graphic_type == "POLYLINE")
    assert np.allclose(ruler.pixels, [[6.5, 5.5], [30.5, 20.5]])
    for original, restored in zip(drawn, read_measurements(gsps.dataset, datasets, geometry), strict=True):
        assert np.allclose(original.points, restored.points)
    report = read_measurement_sr(build_measurement_sr(drawn, datasets, geometry), datasets, geometry)
    assert np.allclose(report[1][0].points, drawn[1].points)
    assert read_kos(build_kos([0], datasets, geometry), datasets, geometry) == [0]


@needs_dciodvfy
def test_an_arrow_label_outside_ascii_is_declared_utf8(series, tmp_path) -> None:
    datasets, geometry, volume, source = series
    c = voxel(geometry, 3, 20, 15)
    arrow = measure(volume, Measurement("arrow", "axial", [c, c + [9, -9, 0]], text="Läsion → 5 mm"))
    state = build_gsps([arrow], datasets, geometry, Window(400, 40)).dataset
    assert state.SpecificCharacterSet == "ISO_IR 192"
    path = write(tmp_path, "utf8.dcm", state)
    assert new_errors(path, source) == []
    (back,) = read_measurements(pydicom.dcmread(path), datasets, geometry)
    assert back.text == "Läsion → 5 mm"
    sr_path = write(tmp_path, "utf8_sr.dcm", build_measurement_sr([arrow], datasets, geometry))
    assert new_errors(sr_path, source) == []
    assert read_measurement_sr(pydicom.dcmread(sr_path), datasets, geometry)[0][0].text == "Läsion → 5 mm"
