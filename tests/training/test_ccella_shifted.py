"""CCELLA's shifted set (paraphrased reports) and its card sections: the paraphrases carry the truth the phantom
rule gives them, the bootstrap interval brackets its estimate, and the shipped card's sections are exactly
what training/ccella/card.py renders from the shipped evaluation.json."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from training.ccella.card import (
    BUDGET_SECTION,
    SHIFT_SECTION,
    budget_section,
    shift_section,
    write_shift_sections,
)
from training.ccella.data import named_level
from training.ccella.metrics import bootstrap_ci
from training.ccella.prompt_shift import paraphrased_prompt, paraphrased_report

PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "prostate_synthesis"


def test_paraphrase_text_is_unchanged_and_its_truth_matches_the_words() -> None:
    # the prompt domain check (prompt_domain.json) scored these exact strings: the stream must not move
    assert paraphrased_report(400_000) == (
        "Multiparametric MR of the prostate shows a suspicious area on the right at the base measuring 15 mm. "
        "Prostate size 44 ml. PIRADS v2.1 score 5. Recommend fusion biopsy.")
    classes = set()
    for seed in range(400_000, 400_060):
        prompt = paraphrased_prompt(seed)
        assert prompt.report == paraphrased_report(seed)
        assert str(prompt.pirads) in prompt.report
        assert prompt.label_class == int(prompt.pirads >= 4)
        classes.add(prompt.label_class)
        if prompt.pirads <= 2:
            assert (prompt.side, prompt.level) == ("none", "none")
        else:
            assert re.search(rf"\b{prompt.side}\b", prompt.report)
            assert named_level(prompt.report) == prompt.level
    assert classes == {0, 1}


def test_bootstrap_ci_brackets_the_estimate_and_empty_is_nan() -> None:
    values = np.array([1.0] * 30 + [0.0] * 10)
    estimate, low, high = bootstrap_ci(values, np.mean, 500, seed=1)
    assert estimate == pytest.approx(0.75) and low < 0.75 < high and 0.55 < low and high < 0.9
    assert bootstrap_ci(values, np.mean, 500, seed=1) == [estimate, low, high]
    assert all(np.isnan(bootstrap_ci(np.array([]), np.mean)))


def _block() -> dict:
    row = {"n": 4, "positives": 2, "fid": [2.0, 1.5, 3.0]}
    for key in ("report_class_agreement", "report_side_agreement", "report_level_agreement",
                "evaluator_class_agreement", "drawn_side_agreement_positive", "drawn_level_agreement_positive",
                "lesion_present_positive", "lesion_present_negative", "prompt_domain_flagged"):
        row[key], row[key + "_n"] = [0.5, 0.25, 0.75], 4
    other = {**row, "prompt_domain_flagged": [0.875, 0.75, 1.0], "lesion_present_negative_n": 0}
    return {"n_per_set": 4, "steps": 50, "guidance": 2.0, "bootstrap": 1000, "fid_bootstrap": 200,
            "noise_seeds": [200000, 200003], "paraphrase_seeds": [400000, 400003], "fid_reference_volumes": 256,
            "sets": {"templated held-out reports": row, "paraphrased reports": other}}


def test_sections_render_and_replace_in_place(tmp_path: Path) -> None:
    results = {"paraphrased_prompts": _block(),
               "autoencoder_budget": {"runs": [{"steps": 1223, "seconds": 600.7, "max_steps": None, "kept": True}],
                                      "ae_steps_default": 1250}}
    text = shift_section(results)
    assert "| templated held-out reports | paraphrased reports |" in text
    assert "| prompt flagged by the domain check (shown as low confidence) | 0.500 [0.250, 0.750] (4) | " \
           "0.875 [0.750, 1.000] (4) |" in text
    assert "| lesion present, PI-RADS 1-3 prompts | 0.500 [0.250, 0.750] (4) | — |" in text
    assert "wall-clock" in budget_section(results) and "1223" in budget_section(results)
    assert shift_section({}) == "" and budget_section({}) == ""
    card = tmp_path / "MODEL_CARD.md"
    card.write_text("# card\n\nintro\n\n## Plots\n\n![a](card/a.png)\n")
    write_shift_sections(card, results)
    once = card.read_text()
    assert once.index(BUDGET_SECTION) < once.index(SHIFT_SECTION) < once.index("## Plots")
    results["paraphrased_prompts"]["sets"]["paraphrased reports"]["fid"] = [9.0, 8.0, 10.0]
    write_shift_sections(card, results)
    twice = card.read_text()
    assert twice.count(SHIFT_SECTION) == 1 and "9.000 [8.000, 10.000]" in twice and "![a](card/a.png)" in twice


def test_shipped_card_carries_the_sections_of_its_evaluation() -> None:
    results = json.loads((PLUGIN / "evaluation.json").read_text())
    card = (PLUGIN / "MODEL_CARD.md").read_text()
    assert "paraphrased_prompts" in results and "autoencoder_budget" in results
    for section in (shift_section(results), budget_section(results)):
        assert section.rstrip("\n") in card


def test_shifted_set_scores_counts_each_agreement_on_its_own_prompts() -> None:
    import torch

    from training.ccella.classifier import VolumeClassifier, predict
    from training.ccella.config import VOLUME_SHAPE
    from training.ccella.evaluate import shifted_set_scores

    torch.manual_seed(0)
    evaluator = VolumeClassifier(side_head=True).eval()
    rng = np.random.default_rng(0)
    volumes = rng.uniform(0.5, 1.0, size=(6, *VOLUME_SHAPE)).astype(np.float32)
    generated = {"volumes": volumes, "class": np.array([1, 1, 0, 0, 1, 0]),
                 "side": np.array(["left", "right", "none", "left", "left", "none"]),
                 "level": np.array(["apex", "mid", "none", "base", "apex", "none"]),
                 "flagged": np.array([True, False, False, False, True, True])}
    label_class = np.array([1, 1, 0, 1, 0, 0])
    side = np.array(["left", "left", "none", "left", "right", "none"])
    level = np.array(["apex", "mid", "none", "base", "base", "none"])
    real = predict(evaluator, rng.uniform(0.5, 1.0, size=(8, *VOLUME_SHAPE)).astype(np.float32))["features"]
    scores = shifted_set_scores(generated, label_class, side, level, evaluator, real)
    assert (scores["n"], scores["positives"]) == (6, 3)
    assert scores["report_class_agreement"][0] == pytest.approx(4 / 6)
    assert scores["report_side_agreement"][0] == pytest.approx(4 / 6)
    assert scores["report_level_agreement"][0] == pytest.approx(5 / 6)
    assert scores["prompt_domain_flagged"][0] == pytest.approx(0.5)
    assert scores["drawn_side_agreement_positive_n"] == 3 and scores["lesion_present_negative_n"] == 3
    for key in ("report_class_agreement", "fid"):
        estimate, low, high = scores[key]
        assert low <= high and np.isfinite(estimate)
