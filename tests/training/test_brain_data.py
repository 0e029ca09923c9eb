"""Brain data without torch: BraTS case-folder reader (2023 and older naming) on a tiny fixture, metrics,
the site shift, phantom splits and the threshold baseline."""

from __future__ import annotations

import numpy as np
import pytest

from engine.geometry import Geometry
from engine.nifti import write_nifti
from engine.volume import LabelMap, Volume
from training.brain.baseline import baseline_regions
from training.brain.brats import find_cases, prepare_case, read_case
from training.brain.data import SPLITS, render
from training.brain.metrics import bootstrap_ci, dice, hd95
from training.brain.site_shift import SiteShift
from training.phantoms.brain_mri import make_brain_mri

SHAPE = (12, 16, 14)


def _write_case(root, case_id: str, names: list[str], separator: str, seg_value: int) -> None:
    folder = root / case_id
    folder.mkdir()
    geometry = Geometry(SHAPE, (2.0, 2.0, 2.0), (-14.0, -16.0, -12.0))
    rng = np.random.default_rng(0)
    for name in names:
        pixels = (rng.random(SHAPE) * 100).astype(np.float32)
        write_nifti(Volume(pixels, geometry, "MR"), folder / f"{case_id}{separator}{name}.nii.gz")
    labels = np.zeros(SHAPE, dtype=np.uint8)
    labels[4:8, 5:10, 5:9] = 2
    labels[5:7, 6:9, 6:8] = seg_value
    write_nifti(LabelMap(labels, geometry), folder / f"{case_id}{separator}seg.nii.gz")


def test_brats_2023_and_older_case_folders(tmp_path) -> None:
    _write_case(tmp_path, "BraTS-GLI-00001-000", ["t1n", "t1c", "t2w", "t2f"], "-", 3)
    _write_case(tmp_path, "BraTS2021_00002", ["t1", "t1ce", "t2", "flair"], "_", 4)
    (tmp_path / "notes").mkdir()
    cases = find_cases(tmp_path)
    assert [(c.case_id, c.naming) for c in cases] == [("BraTS-GLI-00001-000", "brats2023"),
                                                        ("BraTS2021_00002", "brats2021")]
    for case in cases:
        assert set(case.volumes()) == {"T1", "T1c", "T2", "FLAIR"}
        labels = case.labels()
        assert set(np.unique(labels)) == {0, 2, 3}  # older ET = 4 is mapped to 3
    assert cases[1].sequences["T1c"].name == "BraTS2021_00002_t1ce.nii.gz"
    prepared, targets = prepare_case(cases[0])
    assert prepared.image.shape == (4, *SHAPE) and targets.shape == (3, *SHAPE)
    assert targets[2].sum() == 2 * 3 * 2


def test_a_folder_without_the_four_sequences_is_rejected(tmp_path) -> None:
    _write_case(tmp_path, "case1", ["t1n", "t1c", "t2w"], "-", 3)
    with pytest.raises(ValueError, match="not a BraTS case folder"):
        read_case(tmp_path / "case1")


def test_dice_and_hd95_with_spacing() -> None:
    a = np.zeros((20, 20, 20), dtype=bool)
    a[5:15, 5:15, 5:15] = True
    b = np.roll(a, 2, axis=2)
    assert dice(a, a) == 1.0 and dice(a, b) == pytest.approx(0.8)
    assert dice(np.zeros(3, bool), np.zeros(3, bool)) == 1.0
    assert hd95(a, a, (1.0, 1.0, 1.0)) == 0.0
    assert hd95(a, b, (1.0, 1.0, 3.0)) == pytest.approx(6.0)  # shift of 2 voxels along x at 3 mm
    assert hd95(a, np.zeros_like(a), (1.0, 1.0, 1.0)) == pytest.approx(np.sqrt(3) * 20)


def test_bootstrap_ci_brackets_the_mean() -> None:
    values = np.random.default_rng(0).normal(0.8, 0.05, 50)
    low, high = bootstrap_ci(values, 500)
    assert low < values.mean() < high and high - low < 0.05


def test_splits_are_disjoint() -> None:
    seeds = [set(spec.seeds) for spec in SPLITS.values()]
    assert sum(len(s) for s in seeds) == len(set().union(*seeds))
    assert SPLITS["site_train"].count == 50 and SPLITS["site_train"].new_site


def test_site_shift_is_deterministic_and_changes_contrast() -> None:
    case = make_brain_mri(3, (40, 48, 40))
    first, second = SiteShift().apply(case.sequences, 3), SiteShift().apply(case.sequences, 3)
    assert all(np.array_equal(first[k], second[k]) for k in first)
    t1c, shifted = case.sequences["T1c"].astype(float), first["T1c"].astype(float)
    assert not np.array_equal(t1c, shifted)
    assert first["T1c"].dtype == np.uint16


def test_rendered_case_targets_and_baseline() -> None:
    rendered = render(5, (80, 96, 80))
    assert rendered.prepared.image.shape == (4, 80, 96, 80)
    assert np.array_equal(rendered.targets[0], rendered.case.labels > 0)
    regions = baseline_regions(rendered.prepared.image)
    assert dice(regions[0], rendered.targets[0]) > 0.7
