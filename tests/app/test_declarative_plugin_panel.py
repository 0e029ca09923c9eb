"""An added declarative plugin (a manifest [pipeline], no Python of its own, as the nnU-Net and MONAI importers
write them) is listed and run by the AI panel like a shipped one (issue 16): its label map joins the viewer's
layers on the shown volume's voxels, and without domain data every finding needs review."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.ai.runner import default_registry
from engine.resources import resource_root
from tests.app.conftest import CUBE_LPS, cube_volume, save_artifact

PLUGIN = "self_check_threshold"


@pytest.fixture
def added_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The carried declarative plugin, copied to a folder outside the repository that discovery reads."""
    root = tmp_path / "site_plugins"
    shutil.copytree(resource_root() / "resources" / "self_check_plugin", root / PLUGIN)
    monkeypatch.setenv("SIGHTLINE_PLUGIN_PATH", str(root))
    default_registry.cache_clear()
    yield root
    default_registry.cache_clear()


def test_the_ai_panel_runs_a_declarative_plugin(added_plugin: Path, window, qtbot, tmp_path: Path) -> None:
    assert window.plugin_registry.get(PLUGIN).manifest.pipeline  # declarative: no entry point of its own
    window.docks["ai"].raise_()
    panel = window.ai_panel
    panel.audit_log = tmp_path / "audit.jsonl"
    volume = cube_volume()
    window.show_volume(volume)
    panel.plugins.setCurrentIndex(panel.plugins.findData(PLUGIN))
    assert panel.plugin_id == PLUGIN and "Self-check threshold (declarative)" in panel.about.text()
    qtbot.waitUntil(lambda: panel.run_button.isEnabled(), timeout=10000)
    qtbot.mouseClick(panel.run_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not panel.job.busy and not panel.progress.isVisible(), timeout=120000)
    result = panel.result
    assert result is not None and result.provenance.plugin_id == PLUGIN
    labels = result.label_map
    assert labels is not None and labels.array.shape == volume.array.shape
    assert np.allclose(labels.geometry.direction, volume.geometry.direction)
    # the 1000 HU cube is the bright region the plugin keeps; its centre voxel is labelled, the air is not
    centre = np.round(volume.geometry.patient_to_voxel(np.asarray(CUBE_LPS, float))).astype(int)  # (z, y, x)
    assert labels.array[tuple(centre)] == 1 and labels.array[0, 0, 0] == 0
    assert any(layer.kind == "labels" and layer.name.endswith("labels") for layer in window.model.layers)
    assert result.findings and all(finding.tier == "needs_review" for finding in result.findings)
    assert panel.exports["nifti"].isEnabled() and panel.exports["pdf"].isEnabled()
    save_artifact(window, "ai_declarative_plugin.png")
