"""Dice on the brain's shifted sets: the reference on each set's own grid, and the plumbing that scores it."""

from __future__ import annotations

import dataclasses

import numpy as np

from plugins.brain_tumor_mri.preprocessing import regions_from_labels
from training.brain.domain import SHIFTED, THICK_MM, shifted_volumes
from training.brain.shifted import evaluate_shifted, parameters, shifted_truth
from training.phantoms.brain_mri import make_brain_mri

SETS = {spec.name: spec for spec in SHIFTED}


def test_thick_set_reference_lies_on_the_thick_grid_and_keeps_the_regions_nested() -> None:
    spec = SETS["5 mm slices"]
    seed = spec.seeds[0]
    geometry = shifted_volumes(spec, seed)["T1c"].geometry
    truth = shifted_truth(spec, seed, geometry)
    assert truth.shape == (3, *geometry.shape) and geometry.spacing[2] == THICK_MM
    wt, tc, et = truth
    assert et.any() and not (et & ~tc).any() and not (tc & ~wt).any()
    fine = regions_from_labels(make_brain_mri(seed, spec.shape).labels)
    volume_ml = float(np.prod(geometry.spacing)) / 1000
    fine_ml = float(np.prod(make_brain_mri(seed, spec.shape).geometry.spacing)) / 1000
    assert abs(wt.sum() * volume_ml - fine[0].sum() * fine_ml) < 0.1 * fine[0].sum() * fine_ml


def test_evaluate_shifted_scores_a_perfect_and_an_empty_segmenter() -> None:
    spec = dataclasses.replace(SETS["other field-strength contrast"], count=1)
    seed = spec.seeds[0]
    rows = evaluate_shifted((spec,), {
        "perfect": lambda prepared: shifted_truth(spec, seed, prepared.source),
        "empty": lambda prepared: np.zeros((3, *prepared.source.shape), dtype=bool)}, rounds=20, log=lambda _: None)
    (row,) = rows
    assert row["seeds"] == [seed, seed] and row["parameters"] == parameters(spec)
    assert row["parameters"]["gamma"]["T1c"] == 1.6 and "bias_strength" not in row["parameters"]
    for region in ("WT", "TC", "ET"):
        assert row["systems"]["perfect"]["dice"][region]["mean"] == 1.0
        assert row["systems"]["empty"]["dice"][region]["mean"] == 0.0
    assert parameters(SETS["5 mm slices"]) == {"thick_mm": THICK_MM}
