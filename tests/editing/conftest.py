"""Fixtures for the editing tests: small label maps, a CT volume on the same grid, an oblique CT series."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from pydicom.dataset import Dataset

from engine.geometry import Geometry
from engine.volume import CodedConcept, Label, LabelMap, Volume
from tests.dicom_factory import synthetic_ct_series

LESION = CodedConcept("52988006", "SCT", "Lesion")
OEDEMA = CodedConcept("267038008", "SCT", "Edema")
NECROSIS = CodedConcept("6574001", "SCT", "Necrosis")
CHILD_SCRIPT = Path(__file__).with_name("editing_child.py")


def labels() -> list[Label]:
    return [Label(1, "lesion", (255, 200, 0), LESION), Label(2, "oedema", (0, 160, 255), OEDEMA)]


def empty_map(shape=(8, 32, 32), spacing=(0.8, 0.6, 2.5), dtype=np.uint8) -> LabelMap:
    """An all-background label map with the two-label table; spacing in ITK (x, y, z) order."""
    return LabelMap(np.zeros(shape, dtype=dtype), Geometry(shape=shape, spacing=spacing), labels())


@pytest.fixture
def label_map() -> LabelMap:
    return empty_map()


@pytest.fixture
def make_empty_map() -> Callable[..., LabelMap]:
    """:func:`empty_map`, for tests that need several maps."""
    return empty_map


def run_child_until_killed(key: str, base: Path, acknowledged: int) -> int:
    """Run the editing child on the label map in ``base`` and SIGKILL it once it has acknowledged
    ``acknowledged`` edits; returns the number of the last edit it acknowledged before it died."""
    errors = base.with_suffix(".err")
    with open(errors, "w") as stderr:
        child = subprocess.Popen([sys.executable, str(CHILD_SCRIPT), key, str(base)], stdout=subprocess.PIPE,
                                 stderr=stderr, text=True, env=dict(os.environ))
    try:
        seen = 0
        while seen < acknowledged:
            line = child.stdout.readline()
            if not line:
                pytest.fail(f"the editing child stopped early: {errors.read_text()}")
            seen = int(line) if line.strip().isdigit() else seen
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
        rest = child.stdout.read()  # not communicate(): it would skip what readline already buffered
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
    return max([seen, *(int(v) for v in rest.split() if v.isdigit())])


@pytest.fixture
def kill_child() -> Callable[[str, Path, int], int]:
    """:func:`run_child_until_killed`."""
    return run_child_until_killed


@pytest.fixture
def ct_volume(label_map: LabelMap) -> Volume:
    """HU ramp along x (-100 .. 210) on the label map's grid."""
    x = np.arange(label_map.array.shape[2], dtype=np.int16) * 10 - 100
    return Volume(np.broadcast_to(x, label_map.array.shape).copy(), label_map.geometry, modality="CT")


def _oblique_direction() -> np.ndarray:
    axis = np.array([1.0, 2.0, 3.0]) / np.linalg.norm([1.0, 2.0, 3.0])
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    angle = 0.3
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def oblique_ct_series(
    n_slices: int = 8, rows: int = 32, columns: int = 32, spacing=(0.8, 0.6, 2.5)
) -> tuple[list[Dataset], Geometry]:
    """A valid synthetic oblique CT series (slices listed in reverse order) and its grid."""
    rotation = _oblique_direction()
    orientation = [round(float(v), 6) for v in (*rotation[:, 0], *rotation[:, 1])]
    return synthetic_ct_series(n_slices, rows, columns, spacing, (-12.5, 20.25, 100.0), orientation, seed=7)


@pytest.fixture
def ct_series() -> tuple[list[Dataset], Geometry]:
    return oblique_ct_series()


@pytest.fixture(scope="session")
def child_module() -> ModuleType:
    """The crash-test child script as a module, for its scripted edits."""
    spec = importlib.util.spec_from_file_location("editing_child", CHILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def ai_label_map() -> Callable[[Geometry], LabelMap]:
    """An 'AI output' on a grid: a lesion block with oedema around part of it."""

    def make(geometry: Geometry) -> LabelMap:
        array = np.zeros(geometry.shape, dtype=np.uint8)
        array[2:6, 8:20, 8:20] = 2
        array[2:6, 11:17, 11:17] = 1
        return LabelMap(array, geometry, labels())

    return make
