"""Every shipped model card is what its pipeline writes from the shipped metrics.json, word for word, and
says in its first line that the weights come from phantoms and are not for clinical use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.brain.model_card import write_model_card as brain_card
from training.calcium.model_card import write_model_card as calcium_card
from training.cxr.model_card import write_model_card as cxr_card

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
WRITERS = {"chest_xray_nodules": cxr_card, "brain_tumor_mri": brain_card, "coronary_calcium_ct": calcium_card}


@pytest.mark.parametrize("plugin", sorted(WRITERS))
def test_card_is_generated_from_its_metrics(plugin: str, tmp_path: Path) -> None:
    folder = PLUGINS / plugin
    regenerated = WRITERS[plugin](tmp_path / "MODEL_CARD.md", json.loads((folder / "metrics.json").read_text()))
    assert Path(regenerated).read_text() == (folder / "MODEL_CARD.md").read_text()


@pytest.mark.parametrize("plugin", sorted([*WRITERS, "prostate_synthesis"]))
def test_first_line_says_phantoms_and_not_clinical(plugin: str) -> None:
    first = (PLUGINS / plugin / "MODEL_CARD.md").read_text().splitlines()[0].lower()
    assert "phantom" in first and "not for clinical use" in first
