"""Exact calcium scoring on hand-computed arrays (pixels 0.5 x 0.5 mm = 0.25 mm^2, slices 3 mm: every area
and score below is exact in binary floating point), risk categories, and the phantom's own scorer."""

from __future__ import annotations

import numpy as np
import pytest

from engine.geometry import Geometry
from plugins.coronary_calcium_ct.risk import cac_drs_grade, risk_category
from plugins.coronary_calcium_ct.rules import ScoringRules, density_weight
from plugins.coronary_calcium_ct.scoring import score_arteries, score_components

GRID = Geometry(shape=(2, 8, 8), spacing=(0.5, 0.5, 3.0))


def volume(*lesions: tuple[int, list[tuple[int, int]], list[int], int]) -> tuple[np.ndarray, np.ndarray]:
    """HU (background 40) and artery labels; each lesion: (slice, pixels, HU per pixel, artery)."""
    hu = np.full(GRID.shape, 40, dtype=np.int16)
    labels = np.zeros(GRID.shape, dtype=np.uint8)
    for z, pixels, values, artery in lesions:
        for (y, x), value in zip(pixels, values, strict=True):
            hu[z, y, x] = value
            labels[z, y, x] = artery
    return hu, labels


SQUARE = [(1, 1), (1, 2), (2, 1), (2, 2)]


def test_one_square_lesion_area_volume_mass() -> None:
    # 4 pixels x 0.25 mm^2 = 1.0 mm^2 (>= 1 mm^2: counted); peak 150 -> weight 1 -> Agatston 1.0.
    # volume 4 x 0.75 mm^3 = 3.0 mm^3; mass (c = 1) = mean HU 139 x 3.0 mm^3 / 1000 = 0.417 mg.
    hu, labels = volume((0, SQUARE, [150, 140, 135, 131], 2))
    report = score_arteries(hu, labels, GRID, ScoringRules(mass_calibration=1.0))
    lad = report.arteries["LAD"]
    assert lad.agatston == 1.0 and lad.agatston_unscaled == 1.0
    assert lad.volume_mm3 == 3.0 and lad.area_mm2 == 1.0 and lad.lesions == 1 and lad.peak_hu == 150.0
    assert lad.mean_hu == 139.0
    assert lad.mass_mg == pytest.approx(0.417, rel=1e-12)
    assert report.total.agatston == 1.0 and report.arteries["LM"].agatston == 0.0
    assert report.category.key == "minimal"


def test_default_mass_calibration_is_applied() -> None:
    hu, labels = volume((0, SQUARE, [150, 140, 135, 131], 2))
    report = score_arteries(hu, labels, GRID)
    # 0.743 x 139 HU x 3.0 mm^3 / 1000
    assert report.total.mass_mg == pytest.approx(0.743 * 139 * 3.0 / 1000, rel=1e-12)


def test_below_minimum_area_is_not_counted() -> None:
    # 3 pixels = 0.75 mm^2 < 1 mm^2: no lesion, no volume, no mass.
    hu, labels = volume((0, SQUARE[:3], [500, 500, 500], 1))
    total = score_arteries(hu, labels, GRID).total
    assert (total.agatston, total.volume_mm3, total.mass_mg, total.lesions) == (0.0, 0.0, 0.0, 0)


def test_voxels_below_130_hu_are_not_calcium() -> None:
    # the 129 HU pixel drops out, leaving 3 pixels (0.75 mm^2): not counted; at 130 HU it counts.
    hu, labels = volume((0, SQUARE, [300, 300, 300, 129], 3))
    assert score_arteries(hu, labels, GRID).total.agatston == 0.0
    hu[0, 2, 2] = 130
    assert score_arteries(hu, labels, GRID).total.agatston == 3.0  # 1 mm^2 x weight 3 (peak 300)


def test_in_plane_8_connectivity_joins_diagonal_pixels() -> None:
    # 4 pixels touching only at corners: one 8-connected lesion of 1 mm^2, peak 400 -> weight 4 -> 4.0.
    # (4-connectivity would give four 0.25 mm^2 lesions, none counted.)
    hu, labels = volume((0, [(0, 0), (1, 1), (2, 2), (3, 3)], [400, 410, 420, 430], 2))
    report = score_arteries(hu, labels, GRID)
    assert report.arteries["LAD"].agatston == 4.0 and report.arteries["LAD"].lesions == 1


def test_lesions_do_not_connect_across_slices() -> None:
    # the same square on both slices: two lesions, 1 mm^2 x weight 2 each -> 4.0; volume 8 x 0.75 = 6.0.
    hu, labels = volume((0, SQUARE, [250] * 4, 4), (1, SQUARE, [250] * 4, 4))
    rca = score_arteries(hu, labels, GRID).arteries["RCA"]
    assert (rca.agatston, rca.lesions, rca.volume_mm3) == (4.0, 2, 6.0)


def test_lesions_split_at_artery_boundaries() -> None:
    # a 2 x 2 square, left column LM and right column LAD: two 0.5 mm^2 lesions, neither counted.
    hu, labels = volume((0, [(1, 1), (2, 1)], [500, 500], 1), (0, [(1, 2), (2, 2)], [500, 500], 2))
    assert score_arteries(hu, labels, GRID).total.agatston == 0.0


@pytest.mark.parametrize(("peak", "weight"), [(129, 0), (130, 1), (199, 1), (200, 2), (299, 2), (300, 3),
                                              (399, 3), (400, 4), (1500, 4)])
def test_density_weight_bounds(peak: int, weight: int) -> None:
    assert density_weight(peak) == weight
    if weight:
        hu, labels = volume((0, SQUARE, [peak, 131, 131, 131], 1))
        assert score_arteries(hu, labels, GRID).total.agatston == float(weight)  # 1 mm^2 x weight


def test_weights_sum_over_arteries_and_lesions() -> None:
    # LM 1 mm^2 x 1 + LAD (2 mm^2, peak 350) x 3 + LCX 1 mm^2 x 4 on slice 1 = 1 + 6 + 4 = 11.0
    lad = [(4, 0), (4, 1), (5, 0), (5, 1), (6, 0), (6, 1), (7, 0), (7, 1)]
    hu, labels = volume((0, SQUARE, [180, 131, 131, 131], 1), (0, lad, [350] + [200] * 7, 2),
                        (1, [(5, 5), (5, 6), (6, 5), (6, 6)], [900] * 4, 3))
    report = score_arteries(hu, labels, GRID)
    assert {k: v.agatston for k, v in report.arteries.items()} == {"LM": 1.0, "LAD": 6.0, "LCX": 4.0, "RCA": 0.0}
    assert report.total.agatston == 11.0 and report.total.lesions == 3
    assert report.total.volume_mm3 == 16 * 0.75
    assert report.category.key == "mild"


def test_thin_slices_are_rescaled_to_3_mm() -> None:
    # 1.5 mm slices: the raw sum (4.0) is multiplied by 1.5 / 3 -> 2.0; volume uses the true voxel size.
    grid = Geometry(shape=GRID.shape, spacing=(0.5, 0.5, 1.5))
    hu, labels = volume((0, [(0, 0), (1, 1), (2, 2), (3, 3)], [400] * 4, 2))
    report = score_arteries(hu, labels, grid)
    assert report.total.agatston_unscaled == 4.0 and report.total.agatston == 2.0
    assert report.total.volume_mm3 == 4 * 0.375
    assert "1.5/3" in report.rules_text and "8-connected" in report.rules_text and "1 mm^2" in report.rules_text
    assert report.to_json()["slice_spacing_mm"] == 1.5


def test_components_partition_the_artery_scores() -> None:
    hu, labels = volume((0, SQUARE, [250] * 4, 2), (1, [(5, 5), (5, 6), (6, 5), (6, 6)], [450] * 4, 3))
    components = (labels == 2).astype(np.int32) + 2 * (labels == 3)
    scores = score_components(hu, components, GRID)
    assert {k: v.agatston for k, v in scores.items()} == {1: 2.0, 2: 4.0}


def test_empty_volume_scores_zero() -> None:
    hu, labels = volume()
    report = score_arteries(hu, labels, GRID)
    assert report.total.agatston == 0.0 and report.category.key == "none" and report.category.cac_drs == "A0"


@pytest.mark.parametrize(("score", "key", "grade"), [
    (0.0, "none", "A0"), (0.5, "minimal", "A1"), (10.0, "minimal", "A1"), (10.01, "mild", "A1"),
    (99.9, "mild", "A1"), (100.0, "mild", "A2"), (100.5, "moderate", "A2"), (299.9, "moderate", "A2"),
    (300.0, "moderate", "A3"), (400.0, "moderate", "A3"), (400.1, "severe", "A3")])
def test_risk_categories(score: float, key: str, grade: str) -> None:
    assert risk_category(score).key == key and cac_drs_grade(score) == grade


def test_negative_scores_and_calibration_are_refused() -> None:
    with pytest.raises(ValueError):
        risk_category(-1.0)
    with pytest.raises(ValueError):
        ScoringRules(mass_calibration=0.0)


@pytest.mark.parametrize("seed", [0, 1, 5])
def test_agrees_with_the_phantom_ground_truth_scorer(seed: int) -> None:
    from training.phantoms.agatston import agatston_scores
    from training.phantoms.cardiac_ct import make_cardiac_ct

    case = make_cardiac_ct(seed, size=192)
    report = score_arteries(case.hu, case.labels, case.geometry)
    reference = agatston_scores(case.hu, case.labels, case.geometry.spacing[0] * case.geometry.spacing[1])
    for name, score in report.arteries.items():
        assert round(score.agatston, 3) == reference[name]  # the phantom scorer rounds each artery to 3 places
