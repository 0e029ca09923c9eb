"""Chest X-ray nodule plugin without torch: shared preprocessing, peak decoding, patient side/zone from
the geometry, the shipped plugin end to end through the runtime, and `sightline analyze`."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from engine.dicom.stacks import direction_from_patient_orientation
from engine.geometry import Geometry
from engine.preprocessing.cxr import Detection, PreparedCxr, decode_peaks, prepare_cxr, upsample_map
from training.phantoms.chest_xray import make_chest_xray

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "plugins" / "chest_xray_nodules"
PA = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # columns -> patient left, rows -> feet


def _logic():
    from plugins.chest_xray_nodules import logic

    return logic


def test_logic_imports_only_numpy_onnxruntime_and_engine() -> None:
    tree = ast.parse((PLUGIN / "logic.py").read_text())
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert all(m.split(".")[0] in {"__future__", "numpy", "onnxruntime", "engine"} for m in modules), modules


def test_prepare_records_scale_and_round_trips_coordinates() -> None:
    pixels = np.random.default_rng(0).integers(0, 4096, (2048, 1024)).astype(np.uint16)
    prepared = prepare_cxr(pixels, size=512)
    assert prepared.image.shape == (512, 512) and prepared.image.dtype == np.float32
    assert prepared.scale == 0.25 and prepared.source_shape == (2048, 1024)
    assert np.all(prepared.image[:, 256:] == 0)  # letterbox padding on the right
    assert -0.5 <= prepared.image.min() and prepared.image.max() <= 1.5
    points = np.array([[0.0, 0.0], [1000.5, 700.25]])
    np.testing.assert_allclose(prepared.to_source(prepared.to_model(points)), points)
    inverted = prepare_cxr(pixels, size=512, invert=True).image[:, :256]
    assert np.corrcoef(inverted.ravel(), prepared.image[:, :256].ravel())[0, 1] < -0.99


def test_phantom_at_any_size_prepares_to_the_same_anatomy() -> None:
    small = prepare_cxr(make_chest_xray(3, size=512).image).image
    large = prepare_cxr(make_chest_xray(3, size=1024).image).image
    assert np.corrcoef(small.ravel(), large.ravel())[0, 1] > 0.97


def test_decode_peaks_to_source_pixels() -> None:
    prepared = PreparedCxr(image=np.zeros((512, 512), np.float32), scale=0.25, source_shape=(2048, 2048))
    heat = np.full((128, 128), -9.0, np.float32)
    heat[40, 60], heat[100, 20] = 3.0, 1.0
    log_size = np.full((128, 128), np.log(10.0), np.float32)
    offset = np.zeros((2, 128, 128), np.float32)
    offset[:, 40, 60] = (0.25, -0.5)
    peaks = decode_peaks(heat, log_size, offset, prepared, stride=4)
    assert [p.logit for p in peaks] == [3.0, 1.0]
    model_rc = np.array([(40 + 0.25) * 4 + 1.5, (60 - 0.5) * 4 + 1.5])
    np.testing.assert_allclose((peaks[0].row, peaks[0].col), prepared.to_source(model_rc))
    assert peaks[0].diameter_px == pytest.approx(40.0)
    assert len(decode_peaks(heat, log_size, offset, prepared, stride=4, min_logit=2.0)) == 1


def test_upsample_map_keeps_values_on_the_source_grid() -> None:
    prepared = PreparedCxr(image=np.zeros((8, 8), np.float32), scale=0.5, source_shape=(16, 16))
    coarse = np.arange(4, dtype=np.float32).reshape(2, 2)
    full = upsample_map(coarse, prepared, stride=4)
    assert full.shape == (16, 16) and full[0, 0] == 0.0 and full[-1, -1] == 3.0


@pytest.mark.parametrize("source_shape", [(2500, 2048), (301, 517), (16, 16)])
def test_upsample_map_equals_bilinear_map_coordinates(source_shape) -> None:
    from scipy import ndimage

    scale = 512 / max(source_shape)
    prepared = PreparedCxr(image=np.zeros((512, 512), np.float32), scale=scale, source_shape=source_shape)
    coarse = np.random.default_rng(1).random((128, 128)).astype(np.float32)
    rows = (np.arange(source_shape[0]) + 0.5) * scale / 4 - 0.5
    cols = (np.arange(source_shape[1]) + 0.5) * scale / 4 - 0.5
    expected = ndimage.map_coordinates(coarse, np.meshgrid(rows, cols, indexing="ij"), order=1, mode="nearest")
    full = upsample_map(coarse, prepared, stride=4)
    assert full.dtype == np.float32 and full.shape == source_shape and full.flags.c_contiguous  # VTK shares it
    assert np.abs(full - expected).max() < 1e-6


def test_one_box_per_nodule_a_weaker_peak_inside_a_stronger_ones_nodule_is_dropped() -> None:
    strong = Detection(row=100.0, col=100.0, diameter_px=40.0, logit=5.0)
    inside = Detection(row=112.0, col=105.0, diameter_px=36.0, logit=3.0)  # 13 px from the centre: radius 20
    apart = Detection(row=100.0, col=160.0, diameter_px=20.0, logit=4.0)
    assert _logic().distinct_peaks([inside, apart, strong]) == [strong, apart]


def test_side_and_zone_follow_the_geometry() -> None:
    logic = _logic()
    span = [0.16, 0.78]
    pa = Geometry(shape=(100, 100), spacing=(2.0, 2.0, 1.0), direction=PA)
    assert logic.location(pa, 25, 20, span) == ("right", "upper")  # image left = patient right
    assert logic.location(pa, 70, 80, span) == ("left", "lower")
    mirrored = Geometry(shape=(100, 100), spacing=(2.0, 2.0, 1.0), direction=PA @ np.diag([-1.0, 1.0, -1.0]))
    assert logic.location(mirrored, 25, 20, span) == ("left", "upper")  # columns towards the patient's right
    unknown = Geometry(shape=(100, 100))  # a DX loaded without orientation: the PA convention
    assert logic.location(unknown, 50, 20, span) == ("right", "middle")


def test_projection_direction_from_patient_orientation() -> None:
    np.testing.assert_allclose(direction_from_patient_orientation(("L", "F"))[:, :2], PA[:, :2])
    assert direction_from_patient_orientation(()) is None


def test_shipped_plugin_finds_a_held_out_nodule(tmp_path: Path) -> None:
    from engine.ai.registry import discover
    from engine.ai.runner import run_plugin

    registry = discover([REPO / "plugins"], entry_points=False)
    plugin = registry.get("chest_xray_nodules")
    assert plugin.manifest.clinical_use is False and plugin.hash_status()["detector"][0] == "ok"
    case = make_chest_xray(900_006, size=1024, nodules=1)  # a test-split seed: never seen in training
    truth = case.nodules[0]
    result = run_plugin("chest_xray_nodules", {"radiograph": case.volume()}, registry=registry,
                        audit_log=tmp_path / "audit.jsonl")
    assert result.heatmap is not None and result.heatmap.array.shape == case.image.shape
    assert result.embedding is not None and len(result.similar_cases) == 5
    assert Path(result.similar_cases[0].thumbnail).is_file()
    assert 0.0 <= result.measurements[0].value <= 1.0
    hits = [f for f in result.findings
            if np.hypot(*(np.array(f.location_voxel) - truth.centre_px)) * 0.4 <= max(truth.diameter_mm / 2, 3)]
    assert hits, f"no finding on the nodule at {truth.centre_px} ({truth.location}, {truth.diameter_mm:.0f} mm)"
    best = hits[0]
    assert best.description.startswith(truth.side) and best.description.endswith("mm")
    assert best.tier in ("high", "medium", "needs_review") and best.concept.value == "786838002"
    np.testing.assert_allclose(best.location_patient,
                               case.geometry.voxel_to_patient(np.array(best.location_voxel)), atol=1e-6)


def test_shipped_model_finds_the_sample_radiographs_nodules(tmp_path: Path) -> None:
    """The chest sample (`sightline samples`, a seed no split contains) shows what the detector does."""
    from engine.ai.registry import discover
    from engine.ai.runner import run_plugin
    from training.phantoms.samples import CHEST_XRAY_SEED

    case = make_chest_xray(CHEST_XRAY_SEED, nodules=3)  # as training.phantoms.samples renders it
    result = run_plugin("chest_xray_nodules", {"radiograph": case.volume()},
                        registry=discover([REPO / "plugins"], entry_points=False), audit_log=tmp_path / "audit.jsonl")
    spacing = case.geometry.spacing[0]
    found = [n for n in case.nodules if any(
        np.hypot(*(np.array(f.location_voxel) - n.centre_px)) * spacing <= max(n.diameter_mm / 2, 3)
        for f in result.findings)]
    assert found, f"no finding on any of {[(n.location, round(n.diameter_mm)) for n in case.nodules]}"


def test_analyze_writes_result_sr_and_pdf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pydicom

    from app.cli import main
    from training.phantoms.export import write_chest_xray_study

    study = tmp_path / "chest"
    write_chest_xray_study(make_chest_xray(900_011, size=1024, nodules=2), study)
    out = tmp_path / "out"
    code = main(["analyze", str(study), str(tmp_path / "missing"), "--plugin", "chest_xray_nodules", "--out",
                 str(out), "--audit-log", str(tmp_path / "audit.jsonl")])
    captured = capsys.readouterr()
    assert code == 1 and "FAILED" in captured.err and "missing" in captured.err  # the bad study is named
    folder = out / "chest"
    document = json.loads((folder / "result.json").read_text())
    assert document["clinical_use"] is False and document["heatmap"]["file"] == "heatmap.nii.gz"
    assert pydicom.dcmread(folder / "sr.dcm").Modality == "SR"
    assert (folder / "report.pdf").read_bytes().startswith(b"%PDF")
    assert main(["analyze", str(study), "--plugin", "nope", "--out", str(out)]) == 2
