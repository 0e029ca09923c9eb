"""The maths of the reader's measurements on phantoms with known values, and their per-series storage."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.geometry import Geometry
from engine.measurement_files import MeasurementFileError, MeasurementFiles, SeriesAnnotations
from engine.measurements import Measurement, angle_deg, cobb_angle_deg, measure
from engine.volume import SourceIds, Volume

RIGHT, DOWN = np.eye(3)[0], np.eye(3)[1]


def halves_phantom(modality: str = "CT", meta: dict | None = None) -> Volume:
    """20 x 40 x 40 voxels of 0.5 x 0.5 x 2 mm: 100 where x < 0 mm, -50 where x > 0 (no voxel at x = 0)."""
    geometry = Geometry((20, 40, 40), (0.5, 0.5, 2.0), (-9.75, -9.75, -19.0), np.eye(3))
    array = np.full(geometry.shape, -50, np.int16)
    array[:, :, :20] = 100
    return Volume(array, geometry, modality, SourceIds("1.2", "1.2.3", "1.2.4"),
                  meta or {"patient": {"PatientID": "P1"}})


def test_angles() -> None:
    vertex = np.array([1.0, 2.0, 3.0])
    assert angle_deg(vertex + [10, 0, 0], vertex, vertex + [0, 5, 0]) == pytest.approx(90.0)
    assert angle_deg(vertex + [1, 0, 0], vertex, vertex + [1, 1, 0]) == pytest.approx(45.0)
    assert angle_deg(vertex + [1, 0, 0], vertex, vertex + [-1, np.sqrt(3), 0]) == pytest.approx(120.0)
    # Cobb: the acute angle between two lines, whichever way each was drawn
    a0, a1 = np.zeros(3), np.array([10.0, 0, 0])
    b0, b1 = np.array([0.0, 20, 0]), np.array([10.0, 20 + 10 * np.tan(np.radians(35)), 0])
    assert cobb_angle_deg(a0, a1, b0, b1) == pytest.approx(35.0)
    assert cobb_angle_deg(a1, a0, b0, b1) == pytest.approx(35.0)  # first line drawn the other way
    assert cobb_angle_deg(a0, a1, a0, a1) == pytest.approx(0.0)
    assert np.isnan(angle_deg(vertex, vertex, vertex + 1))


def test_roi_statistics_on_a_known_phantom() -> None:
    volume = halves_phantom()
    inside = measure(volume, Measurement("rectangle", "axial", [np.array([-8.0, -5, 1]), np.array([-2.0, 5, 1])],
                                         (RIGHT, DOWN)))
    v = inside.values
    assert (v["mean"], v["sd"], v["min"], v["max"], inside.unit) == (100.0, 0.0, 100.0, 100.0, "HU")
    assert v["area_mm2"] == pytest.approx(60.0) and v["n"] == 12 * 20  # voxel centres -7.75..-2.25 by -4.75..4.75
    across = measure(volume, Measurement("ellipse", "axial", [np.array([-5.0, -5, 1]), np.array([5.0, 5, 1])],
                                         (RIGHT, DOWN)))
    v = across.values
    assert v["mean"] == pytest.approx(25.0, abs=1.0) and v["sd"] == pytest.approx(75.0, abs=0.5)
    assert (v["min"], v["max"]) == (-50.0, 100.0)
    assert v["area_mm2"] == pytest.approx(np.pi * 25)
    assert across.summary().startswith("mean 25") and "mm²" in across.summary()
    probe = measure(volume, Measurement("probe", "axial", [np.array([3.0, 0, 1])]))
    assert probe.values["value"] == -50.0 and probe.summary().startswith("-50 HU")
    ruler = measure(volume, Measurement("ruler", "axial", [np.zeros(3), np.array([3.0, 4, 0])]))
    assert ruler.summary() == "5.0 mm"
    angle = measure(volume, Measurement("angle", "axial", [np.array([5.0, 0, 0]), np.zeros(3), np.array([0, 5.0, 0])]))
    assert angle.summary() == "90.0°"


def test_unknown_spacing_gives_pixels() -> None:
    volume = halves_phantom("CR", {"pixel_spacing_source": "assumed"})
    ruler = measure(volume, Measurement("ruler", "projection", [np.zeros(3), np.array([3.0, 4, 0])]))
    assert ruler.summary() == "5.0 px" and not ruler.spacing_known
    roi = measure(volume, Measurement("rectangle", "axial", [np.array([-8.0, -5, 1]), np.array([-2.0, 5, 1])],
                                      (RIGHT, DOWN)))
    assert roi.summary().endswith("px²") and roi.unit == ""


def test_measurements_are_saved_per_series_and_patient(tmp_path) -> None:
    files = MeasurementFiles(tmp_path)
    arrow = Measurement("arrow", "axial", [np.zeros(3), np.array([5.0, 5, 0])], text="nodule")
    roi = Measurement("ellipse", "axial", [np.zeros(3), np.array([4.0, 2, 0])], (RIGHT, DOWN))
    path = files.save("1.2.3", "P1", SeriesAnnotations([arrow, roi], ["1.2.3.9", "1.2.3.5#2"]))
    record = json.loads(path.read_text())
    assert record["patient_id"] == "P1" and record["key_images"] == ["1.2.3.5#2", "1.2.3.9"]
    back = files.load("1.2.3", "P1")
    assert [m.kind for m in back.measurements] == ["arrow", "ellipse"] and back.key_images == ["1.2.3.5#2", "1.2.3.9"]
    assert back.measurements[0].text == "nodule"
    assert np.allclose(back.measurements[1].points[1], [4, 2, 0]) and np.allclose(back.measurements[1].axes[1], DOWN)
    assert files.load("1.2.99", "P1").measurements == []  # another series has none
    with pytest.raises(MeasurementFileError, match="belongs to patient 'P1'"):
        files.load("1.2.3", "P2")
    with pytest.raises(MeasurementFileError, match="not a DICOM UID"):
        files.path("../../etc/passwd")
    record["measurements"].append({"kind": "ruler", "points": [[0, 0, 0]]})
    path.write_text(json.dumps(record))
    damaged = files.load("1.2.3", "P1")
    assert len(damaged.measurements) == 2 and "needs 2 finite 3D points" in damaged.skipped[0]
    assert str(path) in damaged.skipped[0]
    record["key_images"] = [3, "1.2.3.9"]  # a version-1 slice number: which stack of a split series?
    path.write_text(json.dumps(record))
    old = files.load("1.2.3", "P1")
    assert old.key_images == ["1.2.3.9"] and "1 key image(s) saved as slice numbers" in old.skipped[-1]
    files.save("1.2.3", "P1", SeriesAnnotations())
    assert not path.exists()  # nothing left: no file
