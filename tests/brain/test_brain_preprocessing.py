"""Shared brain preprocessing: model grid, resampling, head mask and z-scores, regions <-> labels."""

from __future__ import annotations

import numpy as np
import pytest

from engine.geometry import Geometry
from plugins.brain_tumor_mri.preprocessing import (
    SEQUENCES,
    head_mask,
    labels_from_regions,
    model_grid,
    prepare_brain,
    regions_from_labels,
    resample,
    to_source_grid,
    zscore,
)
from tests.brain.conftest import volumes_of
from training.brain.metrics import dice


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
