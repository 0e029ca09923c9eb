"""`sightline --smoke-test` runs a declarative plugin: the test plugin the app carries under
resources/self_check_plugin (and any added plugin that carries an example) through the engine's pipeline,
compared with its expected output."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from app import self_check
from engine.ai.install import InstallRefused
from engine.nifti import read_nifti
from engine.paths import user_plugins_dir
from tests.ai.declared_plugin import make_plugin

ROOT = Path(__file__).resolve().parents[2]
CARRIED = ROOT / "resources" / "self_check_plugin"


def test_the_carried_plugin_runs_and_matches_its_expected_output(tmp_path: Path) -> None:
    assert self_check.self_check_plugin_folder() == CARRIED
    detail = self_check.check_carried_plugin(CARRIED, tmp_path)
    assert "self_check_threshold 1.0.0 (declarative pipeline)" in detail and "Dice bright 1.0000" in detail
    assert (tmp_path / "audit.log").is_file()  # the run is audited into the output folder, not the user's log


def test_a_different_output_fails_the_check_naming_the_expected_file(tmp_path: Path) -> None:
    import onnx
    from onnx import numpy_helper

    folder = tmp_path / "plugin"
    shutil.copytree(CARRIED, folder)
    model = onnx.load(str(folder / "model.onnx"))
    bias = next(t for t in model.graph.initializer if t.name == "b")
    bias.CopyFrom(numpy_helper.from_array(np.array([0.0, -8.0], np.float32), "b"))  # a stricter threshold
    old = self_check_sha(folder / "model.onnx")
    onnx.save(model, str(folder / "model.onnx"))
    manifest = folder / "manifest.toml"
    manifest.write_text(manifest.read_text().replace(old, self_check_sha(folder / "model.onnx")))
    with pytest.raises(InstallRefused, match="differs from example/expected.nii.gz"):
        self_check.check_carried_plugin(folder, tmp_path)


def test_an_altered_file_fails_the_check_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "plugin"
    shutil.copytree(CARRIED, folder)
    (folder / "MODEL_CARD.md").write_text("edited\n")
    with pytest.raises(RuntimeError, match="MODEL_CARD.md: SHA-256"):
        self_check.check_carried_plugin(folder, tmp_path)


def test_the_carried_plugin_is_what_its_generator_writes(tmp_path: Path) -> None:
    from training.self_check_plugin import example_volume, write_plugin

    written = write_plugin(tmp_path / "plugin")
    assert (written / "model.onnx").read_bytes() == (CARRIED / "model.onnx").read_bytes()
    for name in ("example/CT.nii.gz", "example/expected.nii.gz"):
        a, b = read_nifti(written / name), read_nifti(CARRIED / name)
        assert np.array_equal(np.asarray(a.array), np.asarray(b.array)) and a.geometry.same_grid(b.geometry)
    expected = np.asarray(read_nifti(CARRIED / "example" / "expected.nii.gz").array) == 1
    ball = example_volume()[1]
    assert 2 * (expected & ball).sum() / (expected.sum() + ball.sum()) > 0.9 and not expected[:5, :5, :5].any()


def test_smoke_test_records_the_declarative_and_added_plugin_steps(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path / "home"))
    make_plugin(user_plugins_dir() / "declared")  # an added plugin carrying its example
    for name in ("_check_samples", "_check_window", "_run_analysis", "_run_own_check"):  # the heavy steps
        monkeypatch.setattr(self_check, name, lambda *args, name=name: f"{name} skipped")
    monkeypatch.setattr(self_check, "_check_decoders", lambda: "skipped")
    monkeypatch.setattr(self_check, "_scan_samples", lambda samples: {})
    from engine.ai.runner import default_registry

    default_registry.cache_clear()  # discovered once per process: find the plugin added here
    try:
        checks = {check.name: check for check in self_check.run_self_check(tmp_path / "out", log=lambda line: None)}
    finally:
        default_registry.cache_clear()
    assert checks["declarative plugin"].ok, checks["declarative plugin"].detail
    assert "declarative pipeline" in checks["declarative plugin"].detail
    assert checks["plugin declared"].ok and "Dice bright 1.0000" in checks["plugin declared"].detail
    report = json.loads((tmp_path / "out" / "smoke.json").read_text())
    assert any(c["name"] == "declarative plugin" and c["ok"] for c in report["checks"])


def test_the_installer_bundles_the_carried_plugin() -> None:
    spec = ast.parse((ROOT / "build.spec").read_text())
    datas = next(node for node in spec.body if isinstance(node, ast.Assign)
                 and any(getattr(t, "id", None) == "datas" for t in node.targets))
    assert "tree('resources')" in ast.unparse(datas.value)
    skipped = next(node for node in spec.body if isinstance(node, ast.Assign)
                   and any(getattr(t, "id", None) == "SKIP_DIRS" for t in node.targets))
    assert "self_check_plugin" not in ast.literal_eval(skipped.value)


def self_check_sha(path: Path) -> str:
    from engine.ai.hashing import sha256_file

    return sha256_file(path)
