"""Kernel / dose augmentation of the calcium training phantoms (training/calcium/augment.py): noise and blur
go into the volume before the candidate stage, reproducibly per seed; a noisy case keeps every coronary
candidate and a bounded, mostly near-heart sample of its noise candidates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plugins.coronary_calcium_ct.candidates import find_candidates
from training.calcium import augment
from training.calcium.phantom_data import SeedRange, build_augmented, build_split
from training.calcium.records import candidate_targets, case_record
from training.phantoms.cardiac_ct import make_cardiac_ct


@pytest.fixture(scope="module")
def case():
    return make_cardiac_ct(3, size=224, slices=20)


def test_variants_are_seeded_and_in_the_declared_ranges(case) -> None:
    noisy = augment.variant(case.hu, "noise", 3)
    np.testing.assert_array_equal(noisy, augment.variant(case.hu, "noise", 3))
    assert not np.array_equal(noisy, augment.variant(case.hu, "noise", 4))
    added = float(np.std(noisy - case.hu))
    assert augment.NOISE_SIGMA_HU[0] * 0.95 <= added <= augment.NOISE_SIGMA_HU[1] * 1.05
    smooth = augment.variant(case.hu, "blur", 3)
    assert smooth.shape == case.hu.shape and np.std(np.diff(smooth, axis=2)) < np.std(np.diff(case.hu, axis=2))
    # the shifted sets' ranges lie inside the training ranges (the card states the overlap)
    assert augment.NOISE_SIGMA_HU[0] <= 35.0 and augment.NOISE_SIGMA_HU[1] >= 60.0
    assert augment.BLUR_SIGMA_PX[0] <= 1.2 and augment.BLUR_SIGMA_PX[1] >= 2.0


def test_noise_candidates_are_subsampled_and_coronary_ones_all_kept(case) -> None:
    noisy = augment.variant(case.hu, "noise", 3)
    full = find_candidates(noisy, case.geometry)
    targets = candidate_targets(full, case.labels)
    assert (targets == 0).sum() > augment.MAX_BACKGROUND  # noise makes many candidates
    keep = augment.background_subset(full, targets, case.geometry, np.asarray(case.heart_centre_lps),
                                     np.random.default_rng(0))
    assert set(np.flatnonzero(targets > 0)) <= set(keep.tolist())
    assert (targets[keep] == 0).sum() == augment.MAX_BACKGROUND
    kept = augment.subset(full, keep)
    assert [item.component for item in kept.items] == list(range(1, len(keep) + 1))
    assert set(np.unique(kept.components).tolist()) == set(range(len(keep) + 1))
    for new, old in enumerate(keep, start=1):
        assert kept.items[new - 1].peak_voxel == full.items[old].peak_voxel
        assert kept.components[full.items[old].peak_voxel] == new
    np.testing.assert_array_equal(candidate_targets(kept, case.labels), targets[keep])


def test_augmented_records_match_the_whole_volume_reference(case, tmp_path: Path) -> None:
    noisy = augment.variant(case.hu, "noise", 3)
    whole = case_record("whole", noisy, case.geometry, case.labels, case.heart_centre_lps)
    rng = np.random.default_rng(1)
    part = case_record("part", noisy, case.geometry, case.labels, case.heart_centre_lps,
                       select=lambda c, t: augment.subset(c, augment.background_subset(
                           c, t, case.geometry, np.asarray(case.heart_centre_lps), rng)))
    np.testing.assert_array_equal(part.truth_scores, whole.truth_scores)  # reference: the whole volume
    assert (part.target > 0).sum() == (whole.target > 0).sum()
    assert len(part.target) < len(whole.target)


def test_build_augmented_caches_both_variants(tmp_path: Path, monkeypatch) -> None:
    import training.calcium.phantom_data as phantom_data

    small = phantom_data.make_cardiac_ct
    monkeypatch.setattr(phantom_data, "make_cardiac_ct", lambda seed, size=512: small(seed, size=160, slices=12))
    spec = SeedRange("train", 7, 1)
    first = build_augmented(spec, tmp_path, log=lambda _: None)
    assert [r.case_id for r in first] == ["phantom-000007-noise", "phantom-000007-blur"]
    assert len(list((tmp_path / "train-augmented-v1").glob("*.npz"))) == 2
    again = build_augmented(spec, tmp_path, log=lambda _: None)  # from the cache
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.local, b.local)
        np.testing.assert_array_equal(a.target, b.target)


def test_prepare_renders_each_phantom_once_into_every_cache(tmp_path: Path, monkeypatch) -> None:
    """One render per phantom fills the record, variant, domain-feature and shifted caches with the bytes the
    pipeline's steps would write themselves; afterwards no step renders again."""
    import dataclasses

    import training.calcium.domain as domain
    import training.calcium.honest as honest
    import training.calcium.phantom_data as phantom_data
    import training.calcium.prepare as prepare

    small = make_cardiac_ct
    renders: list[int] = []

    def tiny(seed, size=512):
        renders.append(seed)
        return small(seed, size=160, slices=12)

    for module in (domain, honest, phantom_data, prepare):
        monkeypatch.setattr(module, "make_cardiac_ct", tiny)
    specs = {"train": SeedRange("train", 7, 1), "test": SeedRange("test", 9, 1)}
    shifted = (dataclasses.replace(domain.SHIFTED[0], count=1),)
    assert prepare.prepare(tmp_path / "one", specs, shifted, ("train",), workers=1, log=lambda _: None) == 3
    assert sorted(renders) == sorted([7, 9, shifted[0].first])
    assert prepare.prepare(tmp_path / "one", specs, shifted, ("train",), workers=1, log=lambda _: None) == 0
    # the steps' own caches, built without prepare, hold the same arrays
    one, two = tmp_path / "one", tmp_path / "two"
    renders.clear()
    for work in (one, two):
        cache = domain.FeatureCache(work, log=lambda _: None)
        records = (build_split(specs["train"], work / "cache", log=lambda _: None)
                   + build_augmented(specs["train"], work / "cache", log=lambda _: None)
                   + honest.shifted_records(shifted[0], work / "cache"))
        features = [cache.split(specs["train"])[0], cache.split(specs["test"])[0],
                    cache.get(domain.group_name(shifted[0].name), shifted[0].first, 512, shifted[0].transform)[0]]
        if work == one:
            assert renders == []  # everything came from prepare's caches
            first = (records, features)
    for a, b in zip(first[0], records, strict=True):
        np.testing.assert_array_equal(a.local, b.local)
        np.testing.assert_array_equal(a.target, b.target)
        np.testing.assert_array_equal(a.truth_scores, b.truth_scores)
    for a, b in zip(first[1], features, strict=True):
        np.testing.assert_array_equal(a, b)
