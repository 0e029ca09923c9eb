"""Editing operations on a LabelMap, each returning the diff of what it changed."""

from __future__ import annotations

import numpy as np
import pytest

from engine.editing.brush import CORONAL, SAGITTAL, Brush, erase, intensity_range_at, paint, threshold_paint
from engine.editing.fill import flood_fill
from engine.editing.interpolate import fill_between_slices
from engine.editing.islands import remove_small_islands
from engine.editing.labels import PALETTE, distinct_color, new_label, pick_label
from engine.geometry import Geometry
from engine.volume import CodedConcept, LabelMap, Volume


def _changed(diff, array_before: np.ndarray, array_after: np.ndarray) -> None:
    """The diff describes exactly the change between the two arrays."""
    undone = array_after.copy()
    diff.revert(undone)
    assert np.array_equal(undone, array_before)
    assert diff.changed_voxels == int(np.count_nonzero(array_before != array_after))


def test_circle_brush_honours_anisotropic_spacing_on_each_plane(label_map: LabelMap) -> None:
    # spacing (x, y, z) = (0.8, 0.6, 2.5) mm: a 3 mm circle spans +-3 columns, +-5 rows, +-1 slice
    before = label_map.array.copy()
    diff = paint(label_map, (4, 16, 16), Brush(3.0), 1)
    _changed(diff, before, label_map.array)
    painted = np.argwhere(label_map.array == 1)
    assert set(painted[:, 0]) == {4}
    assert painted[:, 1].min() == 11 and painted[:, 1].max() == 21
    assert painted[:, 2].min() == 13 and painted[:, 2].max() == 19
    label_map.array[:] = 0
    paint(label_map, (4, 16, 16), Brush(3.0, axis=CORONAL), 1)
    painted = np.argwhere(label_map.array == 1)
    assert set(painted[:, 1]) == {16} and set(painted[:, 0]) == {3, 4, 5}
    label_map.array[:] = 0
    paint(label_map, (4, 16, 16), Brush(3.0, axis=SAGITTAL), 1)
    assert set(np.argwhere(label_map.array == 1)[:, 2]) == {16}


def test_sphere_brush_and_physical_radius(label_map: LabelMap) -> None:
    paint(label_map, (4, 16, 16), Brush(3.0, shape="sphere"), 2)
    points = np.argwhere(label_map.array == 2)
    assert set(points[:, 0]) == {3, 4, 5}
    size = np.array([2.5, 0.6, 0.8])
    distances = np.linalg.norm((points - [4, 16, 16]) * size, axis=1)
    assert distances.max() <= 3.0
    # every voxel within the radius is painted
    grid = np.argwhere(np.ones(label_map.array.shape, dtype=bool))
    inside = np.linalg.norm((grid - [4, 16, 16]) * size, axis=1) <= 3.0
    assert len(points) == int(inside.sum())


def test_tiny_brush_paints_the_voxel_under_the_cursor_and_clips_at_edges(label_map: LabelMap) -> None:
    paint(label_map, (1.3, 2.4, 3.6), Brush(0.0), 1)
    assert np.argwhere(label_map.array).tolist() == [[1, 2, 4]]
    diff = paint(label_map, (0, 0, 0), Brush(5.0), 2)
    assert diff.start == (0, 0, 0) and label_map.array[0, 0, 0] == 2
    assert paint(label_map, (50, 0, 0), Brush(1.0), 1).is_empty  # off the grid: nothing


def test_paint_over_policies(label_map: LabelMap) -> None:
    label_map.array[4, 10:22, 10:16] = 2
    everything = label_map.array.copy()
    paint(label_map, (4, 16, 16), Brush(4.0), 1, paint_over=0)  # background only
    assert np.array_equal(label_map.array[everything == 2], everything[everything == 2])
    assert (label_map.array[4, 16, 17] == 1)
    label_map.array[:] = everything
    paint(label_map, (4, 16, 16), Brush(4.0), 1, paint_over=2)  # only oedema
    assert set(np.unique(label_map.array[everything == 0])) == {0}
    assert label_map.array[4, 16, 14] == 1
    label_map.array[:] = everything
    paint(label_map, (4, 16, 16), Brush(4.0), 1)  # over everything
    assert label_map.array[4, 16, 14] == 1 and label_map.array[4, 16, 17] == 1
    with pytest.raises(ValueError, match="not in the label table"):
        paint(label_map, (4, 16, 16), Brush(1.0), 9)


def test_eraser_clears_all_labels_or_only_one(label_map: LabelMap) -> None:
    label_map.array[4, 14:18, 14:16] = 1
    label_map.array[4, 14:18, 16:18] = 2
    erase(label_map, (4, 16, 16), Brush(1.5), paint_over=2)
    assert (label_map.array[4, 15:17, 16] == 0).all() and (label_map.array[4, 15:17, 15] == 1).all()
    diff = erase(label_map, (4, 16, 16), Brush(10.0))
    assert not label_map.array.any() and diff.changed_voxels > 0


def test_threshold_brush_paints_only_the_intensity_range(label_map: LabelMap, ct_volume: Volume) -> None:
    low, high = intensity_range_at(ct_volume, (4, 16, 16), Brush(0.0))
    assert (low, high) == (60.0, 60.0)
    threshold_paint(label_map, (4, 16, 16), Brush(4.0), 1, ct_volume, (40, 80))
    columns = set(np.argwhere(label_map.array == 1)[:, 2])
    assert columns == {14, 15, 16, 17, 18}  # HU = 10 * x - 100 within [40, 80]
    wrong_grid = Volume(ct_volume.array[:, :, :-1].copy(), Geometry(shape=(8, 32, 31)))
    with pytest.raises(ValueError, match="same grid"):
        threshold_paint(label_map, (4, 16, 16), Brush(4.0), 1, wrong_grid, (40, 80))


def test_flood_fill_2d_and_3d(label_map: LabelMap) -> None:
    label_map.array[2:6, 8:24, 8] = 2  # a wall splitting each slice in two
    diff = flood_fill(label_map, (3, 16, 4), 1, axis=0)
    assert (label_map.array[3, :, :8] == 1).all() and not (label_map.array[2] == 1).any()
    assert diff.start[0] == 3 and diff.shape[0] == 1
    label_map.array[label_map.array == 1] = 0
    flood_fill(label_map, (3, 16, 4), 1, axis=None)  # 3D: the wall is open at y < 8, so it leaks around
    assert (label_map.array[label_map.array != 2] == 1).all()
    assert flood_fill(label_map, (3, 16, 4), 1, axis=None).is_empty  # same value: nothing to do


def test_flood_fill_limited_to_an_intensity_range(label_map: LabelMap, ct_volume: Volume) -> None:
    flood_fill(label_map, (4, 5, 15), 1, axis=0, volume=ct_volume, intensity_range=(0, 100))
    assert set(np.argwhere(label_map.array == 1)[:, 2]) == set(range(10, 21))
    assert flood_fill(label_map, (4, 5, 0), 1, axis=0, volume=ct_volume, intensity_range=(0, 100)).is_empty
    with pytest.raises(ValueError, match="needs the image"):
        flood_fill(label_map, (4, 5, 15), 2, intensity_range=(0, 100))


def test_fill_between_slices_interpolates_shapes_along_the_axis(label_map: LabelMap) -> None:
    label_map.array[1, 10:14, 10:14] = 1  # a 4x4 square ...
    label_map.array[5, 8:16, 8:16] = 1  # ... growing to 8x8 four slices later
    label_map.array[3, 20:24, 20:24] = 2  # another label on one slice only: untouched
    label_map.array[3, 11, 11] = 2  # a voxel of another label inside the interpolated shape: kept
    before = label_map.array.copy()
    diff = fill_between_slices(label_map, axis=0)
    _changed(diff, before, label_map.array)
    sizes = [int((label_map.array[k] == 1).sum()) for k in range(1, 6)]
    assert sizes[0] == 16 and sizes[-1] == 64 and sizes == sorted(sizes) and 16 < sizes[2] < 64
    assert label_map.array[3, 11, 11] == 2 and (label_map.array[3, 20:24, 20:24] == 2).all()
    assert not label_map.array[0].any() and not label_map.array[6:].any()
    assert (label_map.array[2:5, 12, 12] == 1).all()


def test_fill_between_slices_along_another_axis_and_one_label(label_map: LabelMap) -> None:
    label_map.array[2:5, 10, 10:14] = 1
    label_map.array[2:5, 20, 10:14] = 1
    label_map.array[2:5, 10, 20:22] = 2
    label_map.array[2:5, 20, 20:22] = 2
    fill_between_slices(label_map, axis=1, label=1)
    assert (label_map.array[2:5, 10:21, 10:14] == 1).all()
    assert not label_map.array[:, 11:20, 20:22].any()


def test_remove_small_islands_by_voxels_and_by_volume(label_map: LabelMap) -> None:
    label_map.array[2:6, 10:20, 10:20] = 1  # 400 voxels
    label_map.array[1, 1, 1] = 1  # 1-voxel island
    label_map.array[1, 30, 28:31] = 2  # 3-voxel island of oedema
    label_map.array[6, 2:5, 2:5] = 2  # 9 voxels
    diff = remove_small_islands(label_map, min_voxels=4)
    assert diff.changed_voxels == 4
    assert label_map.voxel_counts() == {1: 400, 2: 9}
    voxel_mm3 = 0.8 * 0.6 * 2.5  # 1.2 mm3: 9 voxels are 10.8 mm3
    remove_small_islands(label_map, min_mm3=11.0, label=2)
    assert label_map.voxel_counts() == {1: 400, 2: 0} and voxel_mm3 * 9 < 11.0
    with pytest.raises(ValueError):
        remove_small_islands(label_map)


def test_pick_label_and_new_label(label_map: LabelMap) -> None:
    label_map.array[3, 4, 5] = 2
    assert pick_label(label_map, (3.2, 4.4, 4.6)) == 2
    with pytest.raises(IndexError):
        pick_label(label_map, (8, 0, 0))
    concept = CodedConcept("6574001", "SCT", "Necrosis")
    label = new_label(label_map, "necrosis", concept=concept)
    assert (label.value, label.concept) == (3, concept)
    assert label.color not in {lb.color for lb in label_map.labels[:-1]}
    assert distinct_color(list(PALETTE)) not in PALETTE
    with pytest.raises(ValueError, match="name"):
        new_label(label_map, " ")
    full = LabelMap(np.full((1, 1, 1), 255, dtype=np.uint8), Geometry(shape=(1, 1, 1)))
    with pytest.raises(ValueError, match="no free label value"):
        new_label(full, "one too many")
