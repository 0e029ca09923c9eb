"""Shared fixtures: every test gets its own per-user data folder, so the real catalog is never touched."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


@pytest.fixture(autouse=True)
def _isolated_user_data(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path_factory.mktemp("sightline_home")))
    # nor the machine-wide plugins and trusted keys (engine.paths.machine_dir)
    monkeypatch.setenv("SIGHTLINE_MACHINE_DIR", str(tmp_path_factory.mktemp("sightline_machine")))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
