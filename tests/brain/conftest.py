"""Fixtures for the brain-tumour tests: small phantoms (2 mm) and the shipped plugin."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.ai.registry import Plugin, discover
from engine.volume import SourceIds, Volume
from plugins.brain_tumor_mri.preprocessing import SEQUENCES
from training.phantoms.brain_mri import BrainMriCase, make_brain_mri

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "plugins" / "brain_tumor_mri"
SMALL = (80, 96, 80)  # 2 mm voxels over the phantom's fixed field of view


@pytest.fixture(scope="session")
def small_case() -> BrainMriCase:
    return make_brain_mri(7, SMALL)


def volumes_of(case: BrainMriCase, frame: str = "1.2.3") -> dict[str, Volume]:
    """The four sequences as Volumes sharing one frame of reference."""
    return {name: Volume(case.sequences[name], case.geometry, "MR", SourceIds("1.2", f"1.2.{i}", frame))
            for i, name in enumerate(SEQUENCES)}


@pytest.fixture(scope="session")
def plugin() -> Plugin:
    if not (PLUGIN_DIR / "manifest.toml").is_file():
        pytest.fail("plugins/brain_tumor_mri has no manifest: the shipped plugin is missing")
    registry = discover([PLUGIN_DIR.parent], entry_points=False)
    return registry.get("brain_tumor_mri")
