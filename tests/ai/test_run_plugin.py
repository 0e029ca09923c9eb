"""run_plugin end to end with a real (tiny) ONNX model in a temporary plugin folder; `sightline plugins`."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from app.cli import main
from engine.ai import audit
from engine.ai.domain import save_reference
from engine.ai.library import save_library
from engine.ai.registry import PluginRefused, discover
from engine.ai.runner import PluginError, run_plugin
from engine.ai.sessions import SessionCache
from engine.geometry import Geometry
from engine.progress import Cancelled, CancelToken
from engine.volume import SourceIds, Volume

LOGIC = '''
"""Test plugin: the model scales HU by 0.01 (a logit); voxels with positive logit form the lesion."""

import numpy as np

from engine.ai.result import AnalysisResult, Finding, Measurement
from engine.ai.tiling import sliding_window
from engine.volume import Heatmap, LabelMap


def run(context):
    volume = context.inputs["CT"]
    session = context.session()
    window = tuple(context.preprocessing["window"])

    def predict(tiles):
        return session.run(["logits"], {"image": tiles.astype(np.float32)})[0]

    logits = sliding_window(volume.array[None].astype(np.float32), window, predict, overlap=0.5,
                            progress=context.progress, cancel=context.cancel)[0]
    probabilities = context.calibration.probabilities(logits.ravel()).reshape(logits.shape)
    mask = logits > 0
    centre = tuple(np.argwhere(mask).mean(axis=0))
    volume_mm3 = float(mask.sum() * np.prod(volume.spacing))
    finding = Finding.at(volume.geometry, centre, "lesion", float(probabilities[mask].max()), "needs_review",
                         size_mm=round(float(np.cbrt(volume_mm3)), 2), description="test lesion")
    embedding = np.array([float(mask.sum()), float(logits.mean())], dtype=np.float32)
    return AnalysisResult(
        findings=[finding],
        label_map=LabelMap(mask.astype(np.uint8), volume.geometry, context.labels),
        heatmap=Heatmap(probabilities, volume.geometry, "probability"),
        measurements=[Measurement("Lesion volume", volume_mm3, "mm3")],
        embedding=embedding,
        similar_cases=context.similar_cases(embedding),
        domain_features=embedding,
    )
'''
EXTRA = """
[preprocessing]
window = [4, 8, 8]

[calibration]
temperature = 2.0

[retrieval]
library = "library.npz"
top_k = 2
"""


def _ct_volume() -> Volume:
    array = np.full((6, 20, 18), -100, dtype=np.int16)
    array[2:4, 5:9, 6:10] = 500  # logit 5 -> sigmoid(5 / 2) = 0.924: "high"
    geometry = Geometry(shape=array.shape, spacing=(0.8, 0.8, 2.0), origin=(-5.0, -6.0, 7.0))
    return Volume(array, geometry, modality="CT", ids=SourceIds("1.2.9", "1.2.9.1", "1.2.9.2"))


@pytest.fixture
def plugin_folder(make_plugin):
    folder = make_plugin("lesion_test", logic=LOGIC, extra=EXTRA)
    (folder / "thumbs").mkdir()
    for name in ("a", "b", "c"):
        (folder / "thumbs" / f"{name}.png").write_bytes(b"png")
    save_library(
        folder / "library.npz",
        np.array([[32, -0.5], [1, -1], [30, -0.4]], dtype=np.float32),
        ["a", "b", "c"],
        ["lesion", "normal", "lesion"],
        ["thumbs/a.png", "thumbs/b.png", "thumbs/c.png"],
    )
    add_domain(folder, np.array([[32, -0.5], [31, -0.45], [30, -0.4]], dtype=np.float32), threshold=0.01)
    return folder


def add_domain(folder, reference: np.ndarray, threshold: float, k: int = 2) -> None:
    """Give a test plugin domain data: reference features and a [domain] table in its manifest."""
    sha256 = save_reference(folder / "domain.npz", reference)
    with open(folder / "manifest.toml", "a") as manifest:
        manifest.write(f'\n[domain]\nreference = "domain.npz"\nsha256 = "{sha256}"\nthreshold = {threshold}\n'
                       f"k = {k}\n")


def test_run_plugin_end_to_end(plugin_folder) -> None:
    registry = discover([plugin_folder.parent], entry_points=False)
    progress = []
    result = run_plugin(
        "lesion_test",
        {"CT": _ct_volume()},
        progress=lambda *a: progress.append(a),
        registry=registry,
        sessions=SessionCache(intra_op_threads=1),
    )

    (finding,) = result.findings
    assert finding.probability == pytest.approx(1 / (1 + np.exp(-2.5)), rel=1e-5)
    assert finding.tier == "high"  # the runner applies the manifest's thresholds
    assert finding.concept is not None and finding.concept.value == "52988006"  # from the label table
    np.testing.assert_allclose(finding.location_voxel, (2.5, 6.5, 7.5))
    assert result.label_map.voxel_counts() == {1: 32}
    assert result.measurements[0].value == pytest.approx(32 * 0.8 * 0.8 * 2.0)
    assert [case.case_id for case in result.similar_cases] == ["a", "c"]
    assert progress and progress[-1][0] == progress[-1][1]

    provenance = result.provenance
    assert (provenance.plugin_id, provenance.plugin_version) == ("lesion_test", "1.2.3")
    assert provenance.models == {"scaler": registry.get("lesion_test").manifest.models[0].sha256}
    assert "CPUExecutionProvider" in provenance.providers
    assert provenance.inputs == {"CT": SourceIds("1.2.9", "1.2.9.1", "1.2.9.2")}
    assert provenance.duration_s > 0 and provenance.started_utc.endswith("+00:00")

    (entry,) = audit.read_entries()
    assert entry["event"] == "ai_run" and entry["details"]["status"] == "completed"
    assert entry["details"]["models"] == provenance.models
    assert entry["details"]["inputs"]["CT"]["series_uid"] == "1.2.9.1"
    assert len(entry["details"]["outputs"]["result"]) == 64
    assert audit.verify().ok


def test_a_tampered_model_is_refused_before_any_plugin_code_runs(make_plugin) -> None:
    folder = make_plugin("tampered", logic="import sys\nsys.modules['__tampered_ran__'] = sys\n" + LOGIC)
    (folder / "model.onnx").write_bytes((folder / "model.onnx").read_bytes() + b"\0")
    registry = discover([folder.parent], entry_points=False)
    with pytest.raises(PluginRefused, match="model.onnx has SHA-256"):
        run_plugin("tampered", {"CT": _ct_volume()}, registry=registry)
    assert "__tampered_ran__" not in sys.modules


def test_cancelling_stops_the_run_and_is_audited(plugin_folder) -> None:
    registry = discover([plugin_folder.parent], entry_points=False)
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        run_plugin(
            "lesion_test",
            {"CT": _ct_volume()},
            progress=lambda *a: cancel.cancel(),
            cancel=cancel,
            registry=registry,
            sessions=SessionCache(intra_op_threads=1),
        )
    (entry,) = audit.read_entries()
    assert entry["details"]["status"] == "cancelled" and entry["details"]["outputs"] == {}


def test_inputs_are_checked_against_the_manifest_roles(plugin_folder) -> None:
    registry = discover([plugin_folder.parent], entry_points=False)
    with pytest.raises(PluginError, match="needs a series for role"):
        run_plugin("lesion_test", {}, registry=registry)
    with pytest.raises(PluginError, match="no input role 'MR'"):
        run_plugin("lesion_test", {"CT": _ct_volume(), "MR": _ct_volume()}, registry=registry)
    mr = _ct_volume()
    mr.modality = "MR"
    with pytest.raises(PluginError, match="takes CT, not MR"):
        run_plugin("lesion_test", {"CT": mr}, registry=registry)
    assert audit.read_entries() == []


def test_a_plugin_returning_the_wrong_type_is_an_error(make_plugin) -> None:
    folder = make_plugin("wrong", logic="def run(context):\n    return {'findings': []}\n")
    registry = discover([folder.parent], entry_points=False)
    with pytest.raises(PluginError, match="returned dict, not an AnalysisResult"):
        run_plugin("wrong", {"CT": _ct_volume()}, registry=registry)
    assert audit.read_entries()[0]["details"]["status"].startswith("failed: PluginError")


def test_cli_lists_plugins_with_hash_status(plugin_folder, make_plugin, capsys) -> None:
    assert main(["plugins", "--folder", str(plugin_folder.parent)]) == 0
    out = capsys.readouterr().out
    assert "lesion_test 1.2.3  segmentation  CT" in out and "sha256 ok" in out
    make_plugin("bad_hash", sha256="0" * 64)
    assert main(["plugins", "--json", "--folder", str(plugin_folder.parent)]) == 1
    listing = json.loads(capsys.readouterr().out)
    status = {p["id"]: p["models"][0]["status"] for p in listing["plugins"]}
    assert status == {"bad_hash": "mismatch", "lesion_test": "ok"} and listing["problems"] == []
    assert all(p["clinical_use"] is False for p in listing["plugins"])
