"""The chest X-ray domain-check script's pure parts: threshold and AUROC on fixed numbers, the detection
summary at a fixed operating point, the shift generator (deterministic, disjoint seeds, what each shift
does), the real-image slice rule, and the metrics.json / model-card writer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.ai.domain import threshold_at_retention
from training.cxr.domain import (
    auroc_with_ci,
    detection_summary,
    drop_domain_table,
    radiograph_pixels,
    wilson,
    write_facts,
)
from training.cxr.model_card import FIRST_LINE, domain_section
from training.cxr.phantom_dataset import SPLITS, PhantomSet
from training.cxr.predict import Predictions
from training.cxr.shifted import CONTROL, SEED_RANGE, SHIFTS, Shift, render_shifted, reposition, vendor_processing
from training.domain_fit import domain_auroc
from training.phantoms.samples import CHEST_XRAY_SEED

REPO = Path(__file__).resolve().parents[2]


def test_threshold_keeps_the_validation_share_and_auroc_counts_pairs() -> None:
    validation = np.arange(1, 21) / 100  # 0.01 .. 0.20
    assert threshold_at_retention(validation, 0.95) == pytest.approx(0.19)  # 19 of 20 at or below
    assert np.mean(validation <= threshold_at_retention(validation, 0.95)) == pytest.approx(0.95)
    inside, outside = np.array([0.1, 0.2, 0.3]), np.array([0.25, 0.4])
    assert domain_auroc(inside, outside) == pytest.approx(5 / 6)  # 0.25 beats two of three; 0.4 all three
    assert domain_auroc(inside, np.array([0.2])) == pytest.approx(0.5)  # a tie counts one half
    result = auroc_with_ci(inside, outside, n_boot=200)
    assert result["auroc_vs_test"] == pytest.approx(5 / 6)
    low, high = result["auroc_ci95"]
    assert 0.0 <= low <= 5 / 6 <= high <= 1.0
    separated = auroc_with_ci(np.array([0.1, 0.2]), np.array([0.5, 0.6]), n_boot=50)
    assert separated == {"auroc_vs_test": 1.0, "auroc_ci95": [1.0, 1.0]}
    np.testing.assert_allclose(wilson(13, 250), [0.0306, 0.0871], atol=5e-4)  # 5.2% of 250
    assert wilson(0, 80)[0] == 0.0 and wilson(80, 80)[1] == pytest.approx(1.0)


def _two_cases() -> tuple[Predictions, PhantomSet]:
    nodules = {"case": np.array([0, 0, 1]), "row": np.array([100.0, 200.0, 50.0]),
               "col": np.array([100.0, 200.0, 50.0]), "diameter_px": np.array([10.0, 10.0, 10.0]),
               "diameter_mm": np.array([8.0, 8.0, 8.0]), "over_rib": np.zeros(3)}
    split = PhantomSet(images=np.zeros((2, 4, 4), np.float16), lungs=np.zeros((2, 1, 1), bool), nodules=nodules,
                       seeds=np.array([1, 2]), spacing_mm=np.array([0.8, 0.8]))
    detections = [np.array([[100.0, 101.0, 10.0, 2.0],    # hit, above the operating logit 0
                            [200.0, 199.0, 10.0, -1.0],   # hit, below it
                            [300.0, 300.0, 10.0, 1.0]]),  # false positive above it
                  np.array([[50.0, 50.0, 10.0, 3.0]])]    # hit
    return Predictions(detections, np.zeros(2), np.zeros((2, 96), np.float32)), split


def test_detection_summary_at_the_shipped_operating_point() -> None:
    predictions, split = _two_cases()
    summary = detection_summary(predictions, split, operating_logit=0.0, n_boot=50)
    assert summary["operating_sensitivity"] == pytest.approx(2 / 3)
    assert summary["operating_fp_per_image"] == pytest.approx(0.5)
    assert summary["sens@0.5"] == pytest.approx(1.0)  # 1 FP on 2 images: every hit counts at 0.5 FP/image
    low, high = summary["ci95"]["operating_sensitivity"]
    assert low <= 2 / 3 <= high  # the estimate lies inside its bootstrap interval


def _small(shift: Shift) -> Shift:
    return Shift(**{**shift.__dict__, "size": 256, "spacing_mm": None if shift.spacing_mm is None else 2.0})


@pytest.mark.parametrize("name", list(SHIFTS))
def test_shift_is_deterministic_per_seed(name: str) -> None:
    shift = _small(SHIFTS[name])
    first, again = render_shifted(shift, shift.first_seed), render_shifted(shift, shift.first_seed)
    np.testing.assert_array_equal(first.image, again.image)
    np.testing.assert_array_equal(first.nodules, again.nodules)
    other = render_shifted(shift, shift.first_seed + 1)
    assert first.image.shape != other.image.shape or not np.array_equal(first.image, other.image)
    assert first.image.min() >= 0 and first.image.max() <= 4095


def test_shift_seeds_are_disjoint_from_every_split_and_the_sample() -> None:
    used = [set(spec.seeds) for spec in SPLITS.values()] + [{CHEST_XRAY_SEED}]
    ranges = [set(shift.seeds) for shift in (*SHIFTS.values(), CONTROL)]
    for index, seeds in enumerate(ranges):
        assert all(SEED_RANGE[0] <= seed < SEED_RANGE[1] for seed in seeds)
        assert not any(seeds & split for split in used)
        assert not any(seeds & ranges[other] for other in range(len(ranges)) if other != index)
    with pytest.raises(ValueError, match="shifted seeds"):
        render_shifted(SHIFTS["noise"], SPLITS["test"].first_seed)


def test_detector_shift_is_outside_the_training_pixel_sizes_and_portrait() -> None:
    shift = SHIFTS["detector"]
    assert not 0.2 <= shift.spacing_mm <= 0.4
    case = render_shifted(Shift(**{**shift.__dict__, "size": 256}), shift.first_seed)
    assert case.spacing_mm == 0.5 and case.image.shape == (256, round(256 * shift.keep_columns))


def test_low_contrast_shift_fades_each_nodule() -> None:
    shift = Shift(**{**SHIFTS["low_contrast"].__dict__, "size": 512})  # 0.8 mm pixels: centres on a pixel
    plain = Shift(**{**shift.__dict__, "nodule_contrast": 1.0})
    for seed in shift.seeds[:6]:
        faded, full = render_shifted(shift, seed), render_shifted(plain, seed)
        np.testing.assert_array_equal(faded.nodules, full.nodules)
        for row, col, _, _ in full.nodules:
            r, c = int(round(row)), int(round(col))
            assert full.image[r, c] - faded.image[r, c] > 0  # darker (less attenuation) at every centre
    from training.phantoms.chest_xray import make_chest_xray

    case = make_chest_xray(shift.first_seed + 1, size=512)
    faded, full = render_shifted(shift, shift.first_seed + 1), render_shifted(plain, shift.first_seed + 1)
    for nodule, (row, col, _, _) in zip(case.nodules, full.nodules, strict=True):
        r, c = int(round(row)), int(round(col))
        assert full.image[r, c] - faded.image[r, c] == pytest.approx(0.6 * nodule.contrast_pixel, rel=0.35)


def test_reposition_moves_nodules_with_the_image() -> None:
    image = np.zeros((201, 201), np.float32)
    image[60, 130] = 1000.0
    moved, rows = reposition(image, np.array([[60.0, 130.0, 6.0, 4.8]]), angle_deg=15.0, zoom=1.2)
    peak = np.unravel_index(np.argmax(moved), moved.shape)
    assert np.hypot(*(np.array(peak) - rows[0, :2])) <= 1.0
    assert rows[0, 2] == pytest.approx(7.2) and rows[0, 3] == pytest.approx(4.8 * 1.2)
    _, gone = reposition(image, np.array([[2.0, 2.0, 4.0, 3.0]]), angle_deg=15.0, zoom=1.2)
    assert len(gone) == 0  # a corner nodule leaves the magnified image


def test_vendor_processing_stays_in_twelve_bits_and_sharpens_edges() -> None:
    image = np.full((64, 64), 1000.0, np.float32)
    image[:, 32:] = 3000.0
    image[:, :2], image[:, -2:] = 0.0, 4000.0  # the percentile range: 0 and 4000
    processed = vendor_processing(image, spacing_mm=1.0, amount=1.5, gamma=1.0)
    assert processed.min() >= 0 and processed.max() <= 4095
    assert processed[32, 31] < processed[32, 16] < processed[32, 48] < processed[32, 32]  # under- and overshoot
    brighter = vendor_processing(image, spacing_mm=1.0, amount=0.0, gamma=0.5)
    assert brighter[32, 16] == pytest.approx(4095 * 0.25**0.5, abs=1)  # the gamma look-up table


def test_real_image_slice_rule() -> None:
    stack = np.arange(5 * 16 * 16).reshape(5, 16, 16)
    np.testing.assert_array_equal(radiograph_pixels(stack), stack[2])
    assert radiograph_pixels(stack[:1]).shape == (16, 16)
    assert radiograph_pixels(np.zeros((100, 100, 3))) is None  # colour: the last axis is not a slice axis
    assert radiograph_pixels(np.zeros((3, 3))) is None
    assert radiograph_pixels(np.zeros((2, 10, 10, 3))) is None


def _domain_facts(auroc: float) -> dict:
    detection = {"sens@0.5": 0.9, "cpm": 0.85, "operating_sensitivity": 0.88, "operating_fp_per_image": 0.4,
                 "ci95": {key: [0.8, 0.95] for key in ("sens@0.5", "cpm", "operating_sensitivity",
                                                       "operating_fp_per_image")}}
    shifted = {"noise": {"description": "more noise", "seeds": [720000, 720079], "images": 80, "nodules": 150,
                         "flagged": 0.5, "score_median": 0.02, "auroc_vs_test": auroc, "auroc_ci95": [0.7, 0.9],
                         "detection": detection}}
    case = {"name": "data/RG1_UNCI.dcm", "modality": "CR", "body_part": "CHEST", "score": 0.123456}
    return {"method": "knn_cosine", "features": "embedding", "k": 5,
            "reference": {"name": "train", "first_seed": 0, "count": 400, "render_size": 1024, "images": 400,
                          "sha256": "0" * 64},
            "threshold": 0.0123, "retention": 0.95,
            "validation": {"images": 250, "retained": 0.952, "score_median": 0.008},
            "test": {"images": 250, "nodules": 485, "flagged": 0.044, "score_median": 0.008,
                     "detection": detection},
            "shifted": shifted,
            "real": {"images": 111, "flagged": 0.99, "auroc_vs_test": 0.998, "auroc_ci95": [0.99, 1.0],
                     "by_modality": {"CR": {"images": 14, "flagged": 1.0, "score_min": 0.06}},
                     "lowest": [case], "chest_radiographs": {"images": 1, "flagged": 1.0, "auroc_vs_test": 1.0,
                                                             "auroc_ci95": [1.0, 1.0], "cases": [case]}},
            "targets": {"test_flagged_max": 0.05, "shifted_auroc_min": 0.80, "real_auroc_min": 0.95},
            "bootstrap": 1000, "timings_s": {"embed_splits": 60.0, "shifted": 60.0, "real": 60.0}}


def test_domain_section_is_written_from_the_numbers() -> None:
    text = domain_section(_domain_facts(0.81))
    assert "## Domain check" in text and "## Shifted sets" in text
    assert "0.012300" in text and "0.810 (0.700-0.900)" in text and "`data/RG1_UNCI.dcm` 0.123" in text
    assert "test flagged <= 5.0%: met" in text and "NOT met" not in text
    assert "outside the domain" in text
    missed = domain_section(_domain_facts(0.6))
    assert "for every shifted set: NOT met" in missed and "below target: `noise`" in missed
    with_control = _domain_facts(0.9) | {"control": _domain_facts(0.45)["shifted"]["noise"]}
    text = domain_section(with_control)
    assert "| Control `control`" in text and "unshifted `control` set scores AUROC 0.450" in text
    assert "for every shifted set: met" in text  # the control is no shifted set
    assert "Not fitted" in domain_section(None)


def test_write_facts_keeps_every_other_key_and_regenerates_the_card(tmp_path: Path) -> None:
    shipped = REPO / "plugins" / "chest_xray_nodules"
    shutil.copyfile(shipped / "metrics.json", tmp_path / "metrics.json")
    before = json.loads((tmp_path / "metrics.json").read_text())
    write_facts(tmp_path, _domain_facts(0.9))
    after = json.loads((tmp_path / "metrics.json").read_text())
    assert after["domain"]["threshold"] == 0.0123
    assert {k: v for k, v in after.items() if k != "domain"} == {k: v for k, v in before.items() if k != "domain"}
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert card.splitlines()[0] == FIRST_LINE and "## Domain check" in card and "## Shifted sets" in card


def test_refitting_replaces_the_domain_table_and_its_comment(tmp_path: Path) -> None:
    from training.domain_fit import fit_domain

    shutil.copyfile(REPO / "plugins" / "chest_xray_nodules" / "manifest.toml", tmp_path / "manifest.toml")
    drop_domain_table(tmp_path / "manifest.toml")
    rng = np.random.default_rng(0)
    for _ in range(2):
        drop_domain_table(tmp_path / "manifest.toml")
        fit_domain(tmp_path, rng.normal(size=(30, 8)), rng.normal(size=(20, 8)))
    text = (tmp_path / "manifest.toml").read_text()
    assert text.count("[domain]") == 1 and text.count("# Domain check:") == 1
    assert text.index("[plausibility]") < text.index("[domain]")
