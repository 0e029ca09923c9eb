"""Fixtures for the viewer tests: temp QSettings, synthetic volumes, a main window, phantom samples."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from engine.geometry import Geometry  # noqa: E402
from engine.volume import SourceIds, Volume  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# The bright cube of the synthetic volume sits at the patient's left, posterior, superior corner.
CUBE_LPS = np.array([40.0, 40.0, 40.0])


@pytest.fixture(autouse=True)
def _temp_qsettings(tmp_path: Path) -> None:
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(tmp_path / "qsettings"))


def cube_volume(direction: np.ndarray | None = None, modality: str = "CT") -> Volume:
    """A 64^3 CT-like volume, 2 mm voxels centred on the patient origin, air (-1000) with a soft-tissue
    ball (40 HU, radius 40 mm) and a 1000 HU cube (12 mm) centred at CUBE_LPS."""
    direction = np.eye(3) if direction is None else np.asarray(direction, float)
    shape, spacing = (64, 64, 64), (2.0, 2.0, 2.0)
    centre_index = (np.array(shape[::-1]) - 1) / 2 * np.array(spacing)
    origin = -direction @ centre_index
    geometry = Geometry(shape, spacing, tuple(origin), direction)
    zyx = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1).reshape(-1, 3)
    lps = geometry.voxel_to_patient(zyx).reshape(*shape, 3)
    array = np.full(shape, -1000, np.int16)
    array[np.linalg.norm(lps, axis=-1) < 40] = 40
    array[np.all(np.abs(lps - CUBE_LPS) <= 6, axis=-1)] = 1000
    meta = {"patient": {"PatientName": "Test^Cube", "PatientID": "T1"}, "study": {"StudyDate": "20240102"},
            "description": "synthetic cube", "window": (40.0, 400.0)}
    return Volume(array, geometry, modality, SourceIds("1.2.3", "1.2.3.4", "1.2.3.5"), meta)


@pytest.fixture
def window(qtbot, tmp_path: Path):
    """A shown main window with an empty catalog in tmp_path (past its first run: no welcome dialog)."""
    from app.settings.preferences import Preferences
    from app.settings.store import qsettings
    from app.widgets.main_window import MainWindow
    from app.widgets.welcome import SHOWN_KEY
    from engine.catalog import Catalog

    catalog = Catalog(tmp_path / "catalog.sqlite")
    store = qsettings()
    store.setValue(SHOWN_KEY, True)  # the first-run welcome would take the keyboard from the window under Xvfb
    main = MainWindow(Preferences(store), catalog)
    qtbot.addWidget(main)
    main.resize(1500, 900)
    main.show()
    qtbot.waitExposed(main)
    yield main
    main.close()
    catalog.close()


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The phantom sample studies (`sightline samples`), written once per test session."""
    from app.cli import main

    out = tmp_path_factory.mktemp("samples")
    assert main(["samples", "--out", str(out)]) == 0
    return out


def save_artifact(widget, name: str) -> Path:
    """Save a screenshot of ``widget`` under tests/artifacts/ for a human to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    widget.grab().save(str(path))
    return path


def rendered(view) -> np.ndarray:
    """The view's freshly rendered image pixels (RGB, no annotations)."""
    return view.render_rgb()
