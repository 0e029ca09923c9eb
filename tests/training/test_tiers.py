"""Honest evaluation pieces: tier precision with case-bootstrap CIs, ECE of the reported findings,
specificity; the chest decoder reproduces the plugin's findings; the brain's component-level probability
(fit, manifest round trip, runtime use); tumour-free brain phantoms; the calcium baseline's candidate stage."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.ai.calibration import Calibration, expected_calibration_error
from engine.ai.manifest import load_manifest
from plugins.brain_tumor_mri.findings import COMPONENT_FEATURES, ComponentCalibration, component_features
from training.tiers import ReportedFindings, finite, specificity, tier_table

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def test_tier_table_counts_precision_and_ece() -> None:
    per_case = [[(0.95, True), (0.92, False)], [(0.8, True)], [(0.5, False), (0.96, True)], []]
    findings = ReportedFindings.collect(per_case)
    table = tier_table(findings, Calibration(), n_boot=200)
    assert (table["high"]["findings"], table["high"]["true"]) == (3, 2)
    assert table["high"]["precision"] == pytest.approx(2 / 3)
    assert (table["medium"]["findings"], table["medium"]["true"], table["medium"]["precision"]) == (1, 1, 1.0)
    assert (table["needs_review"]["findings"], table["needs_review"]["precision"]) == (1, 0.0)
    assert table["all"]["findings"] == 5 and table["cases"] == 4
    low, high = table["high"]["ci95"]
    assert 0.0 <= low <= 2 / 3 <= high <= 1.0 and low < high  # the cases resampled, not a point
    assert table["ece"] == pytest.approx(expected_calibration_error(
        np.array([0.95, 0.92, 0.8, 0.5, 0.96]), np.array([1, 0, 1, 0, 1])))


def test_an_empty_tier_has_no_precision_and_specificity_counts_clear_cases() -> None:
    table = tier_table(ReportedFindings.collect([[(0.3, False)], []]), Calibration(), n_boot=50)
    assert table["high"] == {"findings": 0, "true": 0, "precision": None, "ci95": None}
    row = specificity(np.array([0, 2, 0, 0]))
    assert (row["without_finding"], row["cases"], row["specificity"]) == (3, 4, 0.75)
    assert row["ci95"][0] < 0.75 < row["ci95"][1]
    assert finite({"a": [float("nan"), 1.0], "b": np.float64("inf")}) == {"a": [None, 1.0], "b": None}


def test_cxr_findings_are_the_plugins_distinct_peaks_above_the_reporting_threshold() -> None:
    from training.cxr.honest import Decoder, distinct, reported
    from training.cxr.phantom_dataset import PhantomSet
    from training.cxr.predict import Predictions

    rows = np.array([[10.0, 10.0, 8.0, 3.0], [12.0, 11.0, 6.0, 2.0], [40.0, 40.0, 6.0, 1.0], [60.0, 5.0, 6.0, -9.0]])
    kept = distinct(rows)
    assert kept[:, 3].tolist() == [3.0, 1.0, -9.0]  # the second peak lies inside the first one's nodule
    split = PhantomSet(images=np.zeros((2, 64, 64), np.float16), lungs=np.ones((2, 64, 64), bool),
                       nodules={"case": np.array([0]), "row": np.array([10.0]), "col": np.array([11.0]),
                                "diameter_px": np.array([8.0]), "diameter_mm": np.array([6.4]),
                                "over_rib": np.array([False])},
                       seeds=np.array([0, 1]), spacing_mm=np.array([0.8, 0.8]))
    predictions = Predictions([rows, np.zeros((0, 4))], np.zeros(2), np.zeros((2, 4)))
    decoder = Decoder(temperature=1.0, report_probability=0.5, calibration=Calibration())
    findings, counts = reported(predictions, split, decoder)
    # logit 3 -> 0.953 (true, high), logit 1 -> 0.731 (false, medium), logit -9 below the threshold
    assert findings.true.tolist() == [True, False] and counts["findings"].tolist() == [2, 0]
    assert counts["high"].tolist() == [1, 0] and counts["found"].tolist() == [1, 0]


def test_component_calibration_learns_from_validation_and_stays_below_one() -> None:
    from training.brain.honest import Component, fit_component_calibration

    rng = np.random.default_rng(0)
    true = [Component(np.array([4.0, 0.9, 3.0]) + rng.normal(0, 0.2, 3), 0.95, True) for _ in range(20)]
    false = [Component(np.array([0.5, 0.1, -0.5]) + rng.normal(0, 0.2, 3), 0.62, False) for _ in range(6)]
    calibration, facts = fit_component_calibration(true + false)
    assert (facts["true"], facts["false"]) == (20, 6)
    assert calibration.probability(np.array([4.0, 0.9, 3.0])) > 0.9
    assert calibration.probability(np.array([0.5, 0.1, -0.5])) < 0.3
    only_true, _ = fit_component_calibration(true)  # no false component seen: add-one smoothing, not certainty
    assert 0.85 < only_true.probability(np.mean([c.features for c in true], axis=0)) < 0.99


def test_component_features_and_settings_errors() -> None:
    features = component_features(np.array([0.6, 0.95, 0.99, 0.7]), voxel_ml=0.5)
    np.testing.assert_allclose(features, [np.log(0.81 / 0.19), 0.5, np.log(2.0)])
    with pytest.raises(ValueError, match="component_calibration"):
        ComponentCalibration.from_settings(None)
    with pytest.raises(ValueError, match="features must be"):
        ComponentCalibration.from_settings({"features": ["mean"], "weights": [1.0], "intercept": 0.0})


def test_component_calibration_round_trips_through_the_manifest(tmp_path: Path) -> None:
    from training.brain.honest import set_component_calibration

    folder = tmp_path / "brain_tumor_mri"
    shutil.copytree(PLUGINS / "brain_tumor_mri", folder, ignore=shutil.ignore_patterns("*.onnx", "thumbs", "*.png"))
    calibration = ComponentCalibration((0.5, 1.25, -0.125), 0.75)
    set_component_calibration(folder / "manifest.toml", calibration)
    set_component_calibration(folder / "manifest.toml", calibration)  # replaced, not repeated
    text = (folder / "manifest.toml").read_text()
    assert text.count("component_calibration =") == 1
    table = load_manifest(folder / "manifest.toml").preprocessing["component_calibration"]
    assert table["features"] == list(COMPONENT_FEATURES)
    assert ComponentCalibration.from_settings(table) == calibration


def test_the_shipped_brain_manifest_carries_a_component_calibration() -> None:
    table = load_manifest(PLUGINS / "brain_tumor_mri" / "manifest.toml").preprocessing["component_calibration"]
    calibration = ComponentCalibration.from_settings(table)
    tiers = json.loads((PLUGINS / "brain_tumor_mri" / "metrics.json").read_text())["tiers"]
    assert list(calibration.weights) == pytest.approx(tiers["component_calibration"]["weights"], rel=1e-5)


def test_tumour_free_phantom_is_the_same_head_without_the_tumour() -> None:
    from scipy import ndimage

    from training.phantoms.brain_mri import make_brain_mri

    with_tumour = make_brain_mri(7, (40, 48, 40))
    without = make_brain_mri(7, (40, 48, 40), tumour=False)
    assert with_tumour.labels.any() and not without.labels.any() and without.volumes_ml["WT"] == 0.0
    far = ~ndimage.binary_dilation(with_tumour.labels > 0, iterations=3)
    for name, values in with_tumour.sequences.items():
        # away from the tumour the same head (float rounding of the filters: at most 1 stored unit)
        np.testing.assert_allclose(values[far].astype(int), without.sequences[name][far].astype(int), atol=1)
        assert not np.array_equal(values, without.sequences[name])


def test_calcium_baseline_counts_the_candidates_near_the_heart() -> None:
    from engine.geometry import Geometry
    from plugins.coronary_calcium_ct.candidates import Candidate, Candidates
    from plugins.coronary_calcium_ct.scoring import CalciumScore
    from training.calcium.records import baseline_agatston

    geometry = Geometry(shape=(10, 100, 100), spacing=(1.0, 1.0, 3.0))

    def candidate(index: int, peak: tuple[int, int, int], agatston: float) -> Candidate:
        score = CalciumScore(agatston=agatston, agatston_unscaled=agatston, volume_mm3=1.0, mass_mg=1.0,
                             area_mm2=1.0, max_area_mm2=1.0, peak_hu=400.0, mean_hu=300.0, lesions=1)
        return Candidate(index, peak, peak, 10, 1, score)

    items = [candidate(1, (5, 50, 50), 10.0), candidate(2, (5, 50, 90), 30.0), candidate(3, (5, 10, 10), 100.0)]
    candidates = Candidates(np.zeros((10, 100, 100), np.int32), items, (5.0, 50.0, 50.0))
    centre = geometry.voxel_to_patient(np.array([5.0, 50.0, 50.0]))
    assert baseline_agatston(candidates, geometry, centre, 45.0) == pytest.approx(40.0)
    assert baseline_agatston(candidates, geometry, centre, 30.0) == pytest.approx(10.0)
    empty = Candidates(np.zeros((1, 1, 1), np.int32), [], (0.0, 0.0, 0.0))
    assert baseline_agatston(empty, geometry, centre, 45.0) == 0.0


def test_findings_of_a_case_outside_the_domain_are_shown_as_needs_review() -> None:
    per_case = [[(0.95, True), (0.92, False)], [(0.97, True)], [(0.8, True)]]
    model = tier_table(ReportedFindings.collect(per_case), Calibration(), n_boot=50)
    shown = tier_table(ReportedFindings.collect(per_case, [True, False, False]), Calibration(), n_boot=50)
    assert (model["high"]["findings"], model["needs_review"]["findings"]) == (3, 0)
    assert (shown["high"]["findings"], shown["high"]["true"]) == (1, 1)
    assert (shown["needs_review"]["findings"], shown["needs_review"]["true"]) == (2, 1)
    assert shown["medium"] == model["medium"] and shown["all"]["findings"] == model["all"]["findings"] == 4
    assert shown["ece"] == model["ece"]  # the cap changes the tier shown, not the probability


def test_cxr_tiers_as_shown_cap_the_images_the_plugins_domain_check_puts_outside(tmp_path: Path) -> None:
    from engine.ai.domain import Domain, save_reference
    from training.cxr.honest import Decoder, set_facts
    from training.cxr.phantom_dataset import PhantomSet
    from training.cxr.predict import Predictions

    reference = np.eye(4, dtype=np.float32)[:2].repeat(3, axis=0)  # features near e0 and e1
    digest = save_reference(tmp_path / "domain.npz", reference)
    domain = Domain(reference="domain.npz", sha256=digest, threshold=0.5, k=2)
    split = PhantomSet(images=np.zeros((2, 64, 64), np.float16), lungs=np.ones((2, 64, 64), bool),
                       nodules={"case": np.array([0, 1]), "row": np.array([10.0, 10.0]),
                                "col": np.array([10.0, 10.0]), "diameter_px": np.array([8.0, 8.0]),
                                "diameter_mm": np.array([6.4, 6.4]), "over_rib": np.array([False, False])},
                       seeds=np.array([0, 1]), spacing_mm=np.array([0.8, 0.8]))
    hit = np.array([[10.0, 10.0, 8.0, 4.0]])  # a true, "high" finding on each image
    embeddings = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]], np.float32)  # the second far away
    decoder = Decoder(1.0, 0.5, Calibration(), domain, tmp_path)
    facts = set_facts(Predictions([hit, hit], np.zeros(2), embeddings), split, decoder, n_boot=20)
    assert facts["outside_domain"] == 1
    assert (facts["tiers"]["high"]["findings"], facts["tiers"]["needs_review"]["findings"]) == (2, 0)
    assert (facts["tiers_as_shown"]["high"]["findings"], facts["tiers_as_shown"]["needs_review"]["findings"]) == (1, 1)
    assert "tiers_as_shown" not in set_facts(Predictions([hit, hit], np.zeros(2), embeddings), split,
                                             Decoder(1.0, 0.5, Calibration()), n_boot=20)


def test_calcium_findings_of_a_case_outside_the_domain_are_shown_as_needs_review(tmp_path: Path) -> None:
    from engine.ai.domain import Domain, save_reference
    from training.calcium.honest import findings, outside_domain

    class Record:  # the two fields findings() reads
        def __init__(self, target: list[int]) -> None:
            self.target = np.array(target)

    logits = [np.array([[0.0, 9.0, 0.0, 0.0, 0.0], [9.0, 0.0, 0.0, 0.0, 0.0]]),  # LM (true), background
              np.array([[0.0, 0.0, 9.0, 0.0, 0.0]])]  # LAD (true)
    records = [Record([1, 0]), Record([2])]
    model = findings(records, logits, 1.0)
    shown = findings(records, logits, 1.0, [False, True])
    assert model.tiers(Calibration()).tolist() == ["high", "high"]
    assert shown.tiers(Calibration()).tolist() == ["high", "needs_review"]

    class Features:  # FeatureCache.get: (features, plaques) of a seed
        def get(self, group: str, seed: int, size: int, transform=None) -> tuple[np.ndarray, int]:
            return np.eye(3, dtype=np.float32)[0 if seed < 10 else 2], 1

    digest = save_reference(tmp_path / "domain.npz", np.eye(3, dtype=np.float32)[:2].repeat(3, axis=0))
    domain = Domain(reference="domain.npz", sha256=digest, threshold=0.5, k=2)
    assert outside_domain(tmp_path, domain, Features(), "test", [(1, 512), (20, 512)]) == [False, True]
