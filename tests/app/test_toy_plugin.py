"""A new plugin touches no file outside its own folder (issue 18 §4): a toy plugin — a tiny ONNX model made with
onnx.helper, a manifest written by Manifest.to_toml, Qt-free logic, a result widget and a subcommand — in a
temporary folder named by $SIGHTLINE_PLUGIN_PATH is listed and run by the AI panel and by `sightline plugins`
and `sightline analyze`, and its subcommand joins `sightline`, while the repository stays as it was."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.cli import main
from engine.ai.manifest import SCHEMA_VERSION, Host, InputRole, Manifest, ModelFile, load_manifest
from engine.ai.runner import default_registry
from tests.app.conftest import cube_volume
from tests.dicom_factory import synthetic_ct_series

REPO = Path(__file__).resolve().parents[2]
TOY = "toy_bright_spot"

LOGIC = '''"""Toy plugin: the model turns the brightest voxel into a logit; one finding sits on that voxel."""

import numpy as np

from engine.ai.result import AnalysisResult, Finding, Measurement

from .words import DESCRIPTION


def run(context):
    volume = context.inputs["CT"]
    context.report(0, 1, "finding the brightest voxel")
    (logit,) = context.session().run(["logit"], {"image": volume.array.astype(np.float32).reshape(1, -1)})
    probability = float(context.calibration.probabilities(logit.ravel())[0])
    peak = np.unravel_index(int(np.argmax(volume.array)), volume.array.shape)
    finding = Finding.at(volume.geometry, tuple(float(v) for v in peak), "bright spot", probability, "needs_review",
                         size_mm=10.0, description=DESCRIPTION)
    context.report(1, 1, "done")
    return AnalysisResult(findings=[finding], measurements=[Measurement("peak", float(volume.array.max()), "HU")])
'''
WORDS = 'DESCRIPTION = "brightest voxel of the toy"\n'
WIDGET = '''from PySide6.QtWidgets import QLabel


class ToyView(QLabel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("toy_view")

    def show_result(self, result):
        self.setText(f"toy saw {len(result.findings)} bright spot(s)")
        return True

    def clear(self):
        self.setText("")
'''
CLI = '''import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("toy-hello", help="say hello from the toy plugin")
    parser.add_argument("--name", default="reader")
    parser.set_defaults(handler=lambda args: print(f"toy says hello to {args.name}") or 0)
'''


def peak_model(path: Path) -> str:
    """An ONNX graph: logit = max(image) / 1000 - 0.5 over a (1, n) image; returns the file's SHA-256."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("ReduceMax", ["image"], ["peak"], keepdims=0),
         helper.make_node("Mul", ["peak", "scale"], ["scaled"]),
         helper.make_node("Sub", ["scaled", "half"], ["logit"])],
        "toy_peak",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, "n"])],
        [helper.make_tensor_value_info("logit", TensorProto.FLOAT, [])],
        initializer=[helper.make_tensor("scale", TensorProto.FLOAT, [], [0.001]),
                     helper.make_tensor("half", TensorProto.FLOAT, [], [0.5])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def write_toy(root: Path) -> Path:
    """``root/toy_bright_spot/``: manifest.toml, model.onnx, logic.py (+ words.py), widget.py, cli.py."""
    folder = root / TOY
    folder.mkdir(parents=True)
    manifest = Manifest(
        schema_version=SCHEMA_VERSION, id=TOY, name="Toy bright-spot finder", version="0.0.1", kind="detection",
        modalities=["CT"], entry_point="logic:run", intended_use="Tests: a plugin added without touching the host.",
        training_data="None: the model is a fixed formula.", clinical_use=False,
        inputs=[InputRole(role="CT", modalities=["CT"], dimensions="3d")],
        models=[ModelFile(name="peak", path="model.onnx", sha256=peak_model(folder / "model.onnx"))],
        host=Host(result_widget="widget:ToyView", result_title="Toy", commands=["cli:register"]),
    )
    (folder / "manifest.toml").write_text(manifest.to_toml("A toy plugin for the tests."))
    assert load_manifest(folder / "manifest.toml") == manifest
    for name, text in (("logic.py", LOGIC), ("words.py", WORDS), ("widget.py", WIDGET), ("cli.py", CLI)):
        (folder / name).write_text(text)
    return folder


def repository_state() -> str:
    """Every tracked change and untracked file of the repository (ignored build output aside)."""
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=REPO, capture_output=True,
                          text=True, check=True).stdout


@pytest.fixture
def toy_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The toy plugin in a temporary folder that discovery reads through $SIGHTLINE_PLUGIN_PATH (the
    per-process default registry is discovered afresh with it, and again without it afterwards)."""
    root = tmp_path / "more_plugins"
    write_toy(root)
    monkeypatch.setenv("SIGHTLINE_PLUGIN_PATH", str(root))
    default_registry.cache_clear()
    yield root
    default_registry.cache_clear()


@pytest.fixture
def study(tmp_path: Path) -> Path:
    """A phantom CT series on disk (8 slices of 16 x 16)."""
    folder = tmp_path / "study"
    folder.mkdir()
    datasets, _ = synthetic_ct_series(8, 16, 16, (1.0, 1.0, 2.0), (-8.0, -8.0, 0.0), seed=3)
    for index, dataset in enumerate(datasets):
        dataset.save_as(folder / f"{index:03d}.dcm", enforce_file_format=True)
    return folder


def test_the_ai_panel_lists_and_runs_a_toy_plugin(toy_root: Path, window, qtbot, tmp_path: Path) -> None:
    before = repository_state()
    assert TOY in window.plugin_registry.plugins  # the window's own discovery found it
    window.docks["ai"].raise_()
    panel = window.ai_panel
    panel.audit_log = tmp_path / "audit.jsonl"
    panel.plugins.setCurrentIndex(panel.plugins.findData(TOY))
    assert panel.plugin_id == TOY and "Toy bright-spot finder 0.0.1 (detection)" in panel.about.text()
    window.show_volume(cube_volume())
    qtbot.waitUntil(lambda: panel.run_button.isEnabled(), timeout=10000)
    qtbot.mouseClick(panel.run_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not panel.job.busy and not panel.progress.isVisible(), timeout=60000)
    assert panel.result is not None and panel.result.provenance.plugin_id == TOY
    assert [panel.findings.item(row, 1).text() for row in range(panel.findings.rowCount())] == [
        "brightest voxel of the toy"]
    view = panel.result_view(TOY)
    assert view is not None and view.box.isVisibleTo(panel)
    assert view.widget.text() == "toy saw 1 bright spot(s)"
    assert repository_state() == before


def test_the_cli_lists_and_runs_a_toy_plugin(toy_root: Path, study: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    before = repository_state()
    assert main(["plugins", "--folder", str(toy_root), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [p["id"] for p in listing["plugins"]] == [TOY] and listing["problems"] == []
    assert [m["status"] for m in listing["plugins"][0]["models"]] == ["ok"]
    out, log = tmp_path / "out", tmp_path / "audit.jsonl"
    assert main(["analyze", str(study), "--plugin", TOY, "--out", str(out), "--audit-log", str(log)]) == 0
    result = json.loads((out / "study" / "result.json").read_text())
    assert result["provenance"]["plugin_id"] == TOY
    assert [f["description"] for f in result["findings"]] == ["brightest voxel of the toy"]
    assert (out / "study" / "report.pdf").read_bytes().startswith(b"%PDF")
    assert (out / "study" / "sr.dcm").is_file()
    assert main(["toy-hello", "--name", "Dr Smith"]) == 0
    assert "toy says hello to Dr Smith" in capsys.readouterr().out
    assert repository_state() == before


def test_without_the_path_the_toy_is_unknown(study: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SIGHTLINE_PLUGIN_PATH", raising=False)
    default_registry.cache_clear()
    with pytest.raises(SystemExit):
        main(["toy-hello"])
    assert main(["analyze", str(study), "--plugin", TOY, "--out", str(tmp_path / "out")]) == 2
