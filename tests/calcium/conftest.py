"""Small cardiac CT phantom studies written as DICOM (+ the calcium label map as NIfTI), once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.phantoms.cardiac_ct import CardiacCtCase, make_cardiac_ct
from training.phantoms.export import write_cardiac_ct_study

SERIES_FOLDER = "CT_calcium_3mm"
LABELS_FILE = "calcium_labels.nii.gz"


@pytest.fixture(scope="session")
def small_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CardiacCtCase]:
    """A 192 x 192 x 24 phantom study (seed 1, which has calcium in three arteries)."""
    case = make_cardiac_ct(1, size=192, slices=24)
    folder = tmp_path_factory.mktemp("cardiac_small")
    write_cardiac_ct_study(case, folder)
    return folder, case


@pytest.fixture(scope="session")
def full_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CardiacCtCase]:
    """A protocol-like 512 x 512 phantom study (held-out seed) for the plugin."""
    case = make_cardiac_ct(300_001, size=512, slices=36)
    folder = tmp_path_factory.mktemp("cardiac_full")
    write_cardiac_ct_study(case, folder)
    return folder, case
