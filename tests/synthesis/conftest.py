"""Fixtures for the synthesis tests: the shipped plugin (ONNX models, no torch) and a private audit log."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.ai.registry import PluginRegistry, discover
from engine.ai.sessions import SessionCache

PLUGIN_FOLDER = Path(__file__).resolve().parents[2] / "plugins"
PLUGIN_ID = "prostate_synthesis"


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    found = discover([PLUGIN_FOLDER], entry_points=False)
    if PLUGIN_ID not in found.plugins:
        pytest.fail(f"the {PLUGIN_ID} plugin is missing: {found.problems}")
    return found


@pytest.fixture(scope="session")
def sessions() -> SessionCache:
    return SessionCache(intra_op_threads=1)


@pytest.fixture
def audit_log(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"
