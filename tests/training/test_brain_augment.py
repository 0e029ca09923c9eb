"""The brain training's acquisition augmentation: it mimics the shifts it is meant to cover, on the cached
model-grid images, and leaves what it should not touch alone."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.brain_tumor_mri.preprocessing import (
    REFERENCE,
    SEQUENCES,
    coregister,
    head_mask,
    model_grid,
    prepare_brain,
    resample,
    zscore,
)
from training.brain.augment import Augmentation, Augmenter, coverage, thick_slabs
from training.brain.domain import SHIFTED, THICK_MM, shifted_volumes
from training.brain.site_shift import SIGNAL_SCALE, SiteShift
from training.phantoms.brain_mri import make_brain_mri

OFF = Augmentation(gamma_p=0.0, bias_p=0.0, noise_p=0.0, thick_p=0.0)
SHAPE = (80, 96, 80)


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    """One phantom on the model grid as prepared (z-scored), and the same model-grid signal with the new
    site's gamma per sequence applied to the raw unit signal, z-scored inside the same head mask (what the
    augmentation, which sees only the z-scored image, has to reproduce)."""
    case = make_brain_mri(3, SHAPE)
    aligned, _ = coregister({name: case.volume(name) for name in SEQUENCES})
    source = aligned[REFERENCE].geometry
    grid = model_grid(source)
    stack = np.stack([resample(aligned[name].array, source, grid) for name in SEQUENCES]) / SIGNAL_SCALE
    mask = head_mask(stack)
    gamma = np.array([SiteShift().gamma[name] for name in SEQUENCES])[:, None, None, None]
    clean = zscore(stack, mask)
    assert np.allclose(clean, prepare_brain({name: case.volume(name) for name in SEQUENCES}).image, atol=1e-3)
    return clean, zscore(np.power(np.maximum(stack, 0.0), gamma), mask)


def whole(image: np.ndarray) -> tuple[slice, ...]:
    return tuple(slice(0, n) for n in image.shape[1:])


def test_nothing_drawn_leaves_the_crop_unchanged(pair) -> None:
    clean, _ = pair
    out = Augmenter([clean], OFF)(clean[:, 10:40, 20:50, 5:35], 0, (slice(10, 40), slice(20, 50), slice(5, 35)),
                                  np.random.default_rng(0))
    assert np.array_equal(out, clean[:, 10:40, 20:50, 5:35])


@pytest.mark.parametrize("sequence", SEQUENCES)
def test_gamma_on_the_zscored_image_approximates_the_sites_gamma_on_raw_signal(pair, sequence: str) -> None:
    clean, shifted = pair
    c = SEQUENCES.index(sequence)
    g = SiteShift().gamma[sequence]
    augment = Augmenter([clean], Augmentation(gamma_p=1.0, gamma=(g, g), bias_p=0.0, noise_p=0.0, thick_p=0.0))
    out = augment(clean, 0, whole(clean), np.random.default_rng(1))
    head = clean[c] != 0
    before = np.abs(clean[c][head] - shifted[c][head]).mean()
    after = np.abs(out[c][head] - shifted[c][head]).mean()
    assert before > 0.05  # the shift matters ...
    assert after < 0.3 * before  # ... and the augmentation reproduces most of it
    assert abs(out[c][head].mean()) < 0.05 and abs(out[c][head].std() - 1) < 0.05  # z-scored again


def test_bias_and_noise_change_a_crop_and_keep_it_zscored(pair) -> None:
    clean, _ = pair
    augment = Augmenter([clean], Augmentation(gamma_p=0.0, bias_p=1.0, bias=(0.6, 0.6), noise_p=1.0,
                                              noise=(0.1, 0.1), thick_p=0.0))
    out = augment(clean, 0, whole(clean), np.random.default_rng(2))
    head = clean[0] != 0
    assert not out[:, ~head].any()  # background stays 0
    residual = out[:, head] - clean[:, head]
    assert residual.std() > 0.2
    assert np.all(np.abs(out[:, head].mean(axis=1)) < 0.1)
    # the same draws on a crop give the crop of the whole-volume result, up to the noise
    crop_box = (slice(8, 40), slice(16, 64), slice(10, 50))
    crop = Augmenter([clean], augment.settings)(clean[(slice(None), *crop_box)], 0, crop_box,
                                                np.random.default_rng(2))
    smooth = Augmenter([clean], Augmentation(gamma_p=0.0, bias_p=1.0, bias=(0.6, 0.6), noise_p=0.0, thick_p=0.0))
    a = smooth(clean, 0, whole(clean), np.random.default_rng(5))[(slice(None), *crop_box)]
    b = smooth(clean[(slice(None), *crop_box)], 0, crop_box, np.random.default_rng(5))
    assert np.allclose(a, b, atol=1e-4) and crop.shape == b.shape


def test_thick_slabs_average_along_z_only() -> None:
    rng = np.random.default_rng(0)
    crop = np.zeros((1, 24, 5, 5), dtype=np.float32)
    crop[:, 12] = 1.0  # one thin bright slice
    out = thick_slabs(crop, 2.5, rng)
    assert out.shape == crop.shape
    assert out.max() < 0.6 and out[:, 10:15].sum() > 0.5  # spread over neighbouring slices
    assert np.allclose(out[:, :, 0, 0], out[:, :, 4, 4])  # in-plane untouched
    constant = np.full((2, 16, 3, 3), 0.7, dtype=np.float32)
    assert np.allclose(thick_slabs(constant, 3.0, rng), 0.7)
    ramp = np.broadcast_to(np.arange(20, dtype=np.float32)[None, :, None, None], (1, 20, 2, 2))
    assert np.abs(thick_slabs(ramp.copy(), 2.5, rng) - ramp)[:, 3:-3].max() < 0.3  # a linear ramp survives


def test_coverage_names_the_shifted_parameters_inside_the_ranges() -> None:
    settings = Augmentation()
    sets = {s.name: s for s in SHIFTED}
    contrast = sets["other field-strength contrast"].shift
    assert len(coverage(settings, {"gamma": contrast.gamma})) == 1
    assert coverage(settings, {"bias_strength": 0.6, "noise_sigma": 0.10}) == [
        "bias-field log-amplitude 0.6 (training 0-0.7)", "Rician noise 0.1 (training 0-0.12)"]
    assert coverage(settings, {"thick_mm": THICK_MM})
    assert coverage(settings, {"bias_strength": 0.9, "noise_sigma": 0.2, "gamma": {"T1": 3.0}}) == []
    assert coverage(OFF, {"bias_strength": 0.6}) == []
    assert coverage({"gamma": [0.5, 2.0]}, {"gamma": {"T2": 0.65}})  # the dict of a saved config


def test_shifted_volumes_unchanged_by_the_augmentation_module() -> None:
    """The shifted sets keep their definitions (so the card compares like with like)."""
    spec = {s.name: s for s in SHIFTED}
    assert spec["other field-strength contrast"].shift == SiteShift(bias_strength=0.0, noise_sigma=0.0)
    assert spec["strong bias field + noise"].shift == SiteShift(gamma={}, bias_strength=0.6, noise_sigma=0.10)
    assert [s.first_seed for s in SHIFTED] == [600_000, 700_000, 800_000] and all(s.count == 15 for s in SHIFTED)
    assert shifted_volumes(spec["5 mm slices"], 800_000)["T1"].geometry.spacing[2] == THICK_MM


def test_training_batches_carry_the_augmentation_and_stay_seeded(pair) -> None:
    from training.brain.data import SPLITS, CachedSplit
    from training.brain.train import sample_batch

    clean, _ = pair
    split = CachedSplit(SPLITS["train"], [clean.astype(np.float16)], [np.stack([clean[3] > 1.0] * 3)])
    augmenter = Augmenter(split.images, Augmentation(gamma_p=1.0, bias_p=1.0, noise_p=1.0, thick_p=1.0))
    plain = sample_batch(split, np.random.default_rng(4), 32, 2)[0]
    first = sample_batch(split, np.random.default_rng(4), 32, 2, augmenter=augmenter)
    second = sample_batch(split, np.random.default_rng(4), 32, 2, augmenter=augmenter)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    assert first[0].shape == plain.shape and not np.allclose(first[0], plain, atol=0.05)
