"""Shared brain preprocessing: model grid, resampling, head mask and z-scores, regions <-> labels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from engine.geometry import Geometry
from plugins.brain_tumor_mri.preprocessing import (
    MASK_FRACTION,
    SEQUENCES,
    head_mask,
    labels_from_regions,
    model_grid,
    noise_floor,
    otsu_threshold,
    prepare_brain,
    regions_from_labels,
    resample,
    to_source_grid,
    zscore,
)
from tests.brain.conftest import volumes_of
from training.brain.metrics import dice
from training.brain.site_shift import SiteShift


def test_model_grid_keeps_extent_orientation_and_first_corner() -> None:
    direction = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # sagittal-like axes
    source = Geometry((155, 240, 240), (1.0, 1.0, 1.0), (-100.0, 20.0, -30.0), direction)
    grid = model_grid(source, 2.0)
    assert grid.shape == (78, 120, 120)
    assert np.allclose(grid.direction, direction)
    corner = source.voxel_to_patient(np.array([-0.5, -0.5, -0.5]))
    assert np.allclose(grid.voxel_to_patient(np.array([-0.5, -0.5, -0.5])), corner)


def test_resample_identity_and_nearest_keeps_values() -> None:
    geometry = Geometry((8, 9, 10), (1.5, 1.5, 2.0), (3.0, -4.0, 5.0))
    array = np.random.default_rng(0).random((8, 9, 10)).astype(np.float32)
    assert np.allclose(resample(array, geometry, geometry), array, atol=1e-6)
    labels = np.random.default_rng(1).integers(0, 4, (8, 9, 10)).astype(np.float32)
    assert set(np.unique(resample(labels, geometry, geometry, order=0))) <= {0.0, 1.0, 2.0, 3.0}


def test_zscore_inside_the_mask_and_zero_outside() -> None:
    rng = np.random.default_rng(0)
    channels = np.zeros((4, 20, 20, 20), dtype=np.float32)
    channels[:, 5:15, 5:15, 5:15] = rng.normal(100.0, 10.0, (4, 10, 10, 10))
    mask = head_mask(channels)
    assert mask.sum() == 1000
    z = zscore(channels, mask)
    assert np.allclose(z[:, mask].mean(axis=1), 0.0, atol=1e-4)
    assert np.allclose(z[:, mask].std(axis=1), 1.0, atol=1e-3)
    assert not z[:, ~mask].any()


def plain_threshold(channels: np.ndarray) -> np.ndarray:
    """The head mask without the noise floor: mean normalised signal above MASK_FRACTION."""
    return np.mean([c / np.percentile(c, 99) for c in channels.astype(np.float32)], axis=0) > MASK_FRACTION


def test_otsu_threshold_splits_two_classes() -> None:
    low, high = np.random.default_rng(0).normal(0.1, 0.02, 5000), np.random.default_rng(1).normal(0.7, 0.05, 3000)
    threshold = otsu_threshold(np.concatenate([low, high]))
    assert np.mean(low < threshold) > 0.99 and np.all(high > threshold)
    assert otsu_threshold(np.full(10, 3.0)) == 3.0


def test_head_mask_is_the_plain_threshold_on_a_low_noise_phantom(small_case) -> None:
    # the shipped model was trained on this mask: the noise floor must not move it where noise is low
    channels = np.stack([small_case.sequences[name] for name in SEQUENCES]).astype(np.float32)
    assert np.array_equal(head_mask(channels), plain_threshold(channels))


def test_head_mask_without_air_in_the_field_of_view_is_the_plain_threshold(small_case) -> None:
    channels = np.stack([small_case.sequences[name] for name in SEQUENCES]).astype(np.float32)
    z, y, x = (int(c) for c in np.argwhere(small_case.labels == 0).mean(axis=0))
    inside = channels[:, z - 8:z + 8, y - 10:y + 10, x - 10:x + 10]
    assert np.array_equal(head_mask(inside), plain_threshold(inside))


def test_head_mask_leaves_out_the_air_of_a_noisy_scan(small_case) -> None:
    # Rician noise 0.10 with a strong bias field: the plain threshold took 60-95% of the volume (the air)
    noisy = SiteShift(gamma={}, bias_strength=0.6, noise_sigma=0.10).apply(small_case.sequences, 7)
    clean = np.stack([small_case.sequences[name] for name in SEQUENCES]).astype(np.float32)
    channels = np.stack([noisy[name] for name in SEQUENCES]).astype(np.float32)
    reference = plain_threshold(clean)
    assert plain_threshold(channels).mean() > 1.4 * reference.mean()
    mask = head_mask(channels)
    assert dice(mask, reference) > 0.9
    smoothed = ndimage.gaussian_filter(np.mean([c / np.percentile(c, 99) for c in channels], axis=0), 1.0)
    assert MASK_FRACTION < noise_floor(smoothed) < 0.25


def test_regions_and_labels_round_trip() -> None:
    labels = np.array([0, 1, 2, 3, 3, 2, 1, 0], dtype=np.uint8)
    regions = regions_from_labels(labels)
    assert regions.tolist() == [[0, 1, 1, 1, 1, 1, 1, 0], [0, 1, 0, 1, 1, 0, 1, 0], [0, 0, 0, 1, 1, 0, 0, 0]]
    assert np.array_equal(labels_from_regions(regions), labels)
    # nesting by union: ET alone still reads as enhancing tumour
    assert labels_from_regions([[False], [False], [True]]).tolist() == [3]


def test_prepare_brain_puts_the_phantom_on_the_2mm_grid(small_case) -> None:
    prepared = prepare_brain(volumes_of(small_case))
    assert prepared.image.shape == (4, 80, 96, 80)
    assert prepared.grid.same_grid(small_case.geometry)
    assert prepared.warnings == []
    head = prepared.image.any(axis=0)
    assert np.allclose(prepared.image[:, head].mean(axis=1), 0.0, atol=1e-3)
    back = to_source_grid(regions_from_labels(small_case.labels).astype(np.float32), prepared) >= 0.5
    assert dice(back[0], small_case.labels > 0) == 1.0


def test_missing_sequence_is_refused(small_case) -> None:
    volumes = volumes_of(small_case)
    del volumes["FLAIR"]
    with pytest.raises(ValueError, match="FLAIR"):
        prepare_brain(volumes)


def test_sequences_order_is_the_model_channel_order() -> None:
    assert SEQUENCES == ("T1", "T1c", "T2", "FLAIR")
