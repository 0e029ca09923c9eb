"""The coronary_calcium_ct plugin with its shipped ONNX model: runtime, scores, findings, exports (SEG round
trip on the same voxels, SR, PDF), dciodvfy when installed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import highdicom as hd
import numpy as np
import pytest

from engine.ai.dicom_seg import seg_to_label_map
from engine.ai.registry import discover
from engine.ai.result_json import load_result
from engine.ai.runner import run_plugin
from engine.analysis.headers import read_headers
from engine.analysis.service import analyze_study
from engine.dicom.scanner import scan
from plugins.coronary_calcium_ct.scoring import score_arteries
from training.phantoms.cardiac_ct import make_cardiac_ct

PLUGIN = "coronary_calcium_ct"


@pytest.fixture(scope="module")
def registry():
    registry = discover()
    if PLUGIN not in registry.plugins:
        pytest.fail(f"the shipped plugin {PLUGIN} is missing: {registry.problems}")
    return registry


@pytest.fixture(scope="module")
def analysed(full_study, registry, tmp_path_factory: pytest.TempPathFactory):
    folder, case = full_study
    out = tmp_path_factory.mktemp("analysis")
    written = analyze_study(folder, PLUGIN, out, audit_log=out / "audit.jsonl")
    return folder, case, out, written


def test_manifest_is_valid_and_hash_matches(registry) -> None:
    plugin = registry.get(PLUGIN)
    assert plugin.manifest.kind == "calcium" and plugin.manifest.clinical_use is False
    assert all(status == "ok" for status, _ in plugin.hash_status().values())
    assert [label.code.value for label in plugin.manifest.labels] == ["445512009"] * 4


def test_run_scores_its_own_label_map_exactly(registry, tmp_path: Path) -> None:
    # 384 px (0.75 mm pixels): the small 192 px study's 1.5 mm pixels lie outside the validated 0.2-1 mm
    volume = make_cardiac_ct(1, size=384, slices=24).volume()
    result = run_plugin(PLUGIN, {"ct": volume}, registry=registry, audit_log=tmp_path / "audit.jsonl")
    labels = result.label_map.array
    assert set(np.unique(labels)) <= {0, 1, 2, 3, 4}
    assert np.all(volume.array[labels > 0] >= 130)
    report = score_arteries(volume.array, labels, volume.geometry)
    by_key = {(m.name, m.region): m.value for m in result.measurements}
    for name, score in [*report.arteries.items(), ("total", report.total)]:
        assert by_key[("Agatston score", name)] == round(score.agatston, 3)
        assert by_key[("Calcium volume score", name)] == round(score.volume_mm3, 3)
    assert any(m.name.startswith("Risk category") for m in result.measurements)
    for finding in result.findings:
        assert finding.label.endswith("calcium") and "calcified plaque" in finding.description
        assert finding.tier in ("high", "medium", "needs_review") and finding.concept.value == "445512009"
    assert result.embedding is not None and len(result.similar_cases) == 5
    assert (tmp_path / "audit.jsonl").is_file()


def test_held_out_phantom_is_scored_close_to_truth(analysed) -> None:
    _, case, out, _ = analysed
    result = load_result(out / "result.json")
    total = next(m.value for m in result.measurements if m.name == "Agatston score" and m.region == "total")
    assert total == pytest.approx(case.agatston["total"], rel=0.25, abs=10.0)


def test_analyze_writes_result_seg_sr_pdf(analysed) -> None:
    _, _, out, written = analysed
    names = {path.name for path in written}
    assert {"result.json", "seg.dcm", "sr.dcm", "report.pdf"} <= names
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")


def test_seg_round_trip_lands_on_the_same_voxels(analysed) -> None:
    folder, _, out, _ = analysed
    result = load_result(out / "result.json")
    series = scan(folder).series[0]
    seg = hd.seg.segread(out / "seg.dcm")
    back = seg_to_label_map(seg, read_headers(series), series.geometry)
    np.testing.assert_array_equal(back.array, result.label_map.array)
    assert [label.name for label in back.labels] == ["LM calcium", "LAD calcium", "LCX calcium", "RCA calcium"]


@pytest.mark.parametrize("name", ["seg.dcm", "sr.dcm"])
def test_dciodvfy_is_clean(analysed, name: str) -> None:
    _, _, out, _ = analysed
    report = subprocess.run(["dciodvfy", str(out / name)], capture_output=True, text=True, timeout=120)
    errors = [line for line in (report.stdout + report.stderr).splitlines() if line.startswith("Error")]
    assert errors == []
