"""VoxelDiff compaction and undo/redo history: one step per action, bounded, memory ~ changed voxels."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from engine.editing.brush import Brush, paint
from engine.editing.diff import VoxelDiff, combine, write_box
from engine.editing.fill import flood_fill
from engine.editing.history import Edit, History
from engine.editing.session import EditSession
from engine.geometry import Geometry
from engine.volume import Label, LabelMap


def test_diff_keeps_only_the_changed_box_dense_or_sparse() -> None:
    before = np.zeros((10, 20, 30), dtype=np.uint8)
    block = before.copy()
    block[2:4, 5:9, 10:20] = 3
    dense = VoxelDiff.between(before, block)
    assert dense.start == (2, 5, 10) and dense.shape == (2, 4, 10) and not dense.is_sparse
    assert dense.nbytes == 2 * 2 * 4 * 10 and dense.changed_voxels == 80

    corners = before.copy()
    corners[0, 0, 0] = corners[9, 19, 29] = 1
    sparse = VoxelDiff.between(before, corners)
    assert sparse.is_sparse and sparse.shape == (10, 20, 30) and sparse.changed_voxels == 2
    assert sparse.nbytes == 2 * (4 + 1 + 1)
    for diff, target in ((dense, block), (sparse, corners)):
        array = before.copy()
        diff.apply(array)
        assert np.array_equal(array, target)
        diff.revert(array)
        assert np.array_equal(array, before)


def test_diff_of_a_box_and_combined_diffs() -> None:
    array = np.zeros((4, 6, 6), dtype=np.uint16)
    first = write_box(array, (1, 1, 1), np.full((1, 2, 2), 7, dtype=np.uint16))
    second = write_box(array, (1, 2, 2), np.full((2, 2, 2), 9, dtype=np.uint16))
    assert first.start == (1, 1, 1) and second.start == (1, 2, 2)
    merged = combine([first, second], array)
    assert merged.start == (1, 1, 1) and merged.shape == (2, 3, 3)
    restored = array.copy()
    merged.revert(restored)
    assert not restored.any()
    assert VoxelDiff.between(array, array).is_empty
    assert combine([], array).is_empty


def test_a_one_voxel_edit_on_a_256_cubed_map_costs_bytes_not_megabytes() -> None:
    geometry = Geometry(shape=(256, 256, 256), spacing=(0.7, 0.7, 1.0))
    big = LabelMap(np.zeros(geometry.shape, dtype=np.uint8), geometry, [Label(1, "lesion")])
    session = EditSession(big)
    session.do("Brush", partial(paint, center=(128, 128, 128), brush=Brush(0.2), value=1))
    assert session.history.nbytes == 2  # one voxel: before and after, one byte each
    session.do("Fill", partial(flood_fill, seed=(0, 0, 0), value=1, axis=0))
    assert session.history.nbytes == 2 + 2 * 256 * 256  # a whole slice: its box before and after
    session.undo()
    session.undo()
    assert not big.array.any() and session.history.nbytes < 200_000


def test_history_names_cap_and_redo_clearing(label_map: LabelMap) -> None:
    history = History(limit=3)
    array = label_map.array
    edits = []
    for k in range(5):
        before = array.copy()
        array[0, 0, k] = 1
        edits.append(Edit(f"Step {k}", VoxelDiff.between(before, array)))
        history.push(edits[-1])
    assert history.undo_steps == 3 and history.undo_name == "Undo Step 4"
    assert history.undo(label_map).name == "Step 4"
    assert history.redo_name == "Redo Step 4" and history.can_redo
    history.undo(label_map)
    history.undo(label_map)
    assert not history.can_undo and history.undo(label_map) is None
    assert array[0, 0].tolist()[:5] == [1, 1, 0, 0, 0]  # steps 0 and 1 fell off the end of the history
    history.redo(label_map)
    assert array[0, 0, 2] == 1
    history.push(Edit("New", VoxelDiff.empty(3)))
    assert not history.can_redo and history.redo_name is None and history.redo(label_map) is None
    with pytest.raises(ValueError):
        History(limit=0)


def test_default_history_keeps_at_least_100_steps(label_map: LabelMap) -> None:
    session = EditSession(label_map)
    for k in range(120):
        session.do("Brush", partial(paint, center=(k % 8, k // 8, 0), brush=Brush(0.1), value=1))
    assert session.history.undo_steps == 100
    while session.undo():
        pass
    assert int(label_map.array.sum()) == 20  # the 20 oldest steps were dropped, the rest undone


def test_label_table_changes_are_undoable(label_map: LabelMap) -> None:
    session = EditSession(label_map)
    label = session.add_label("necrosis")
    assert label.value == 3 and label.color not in {lb.color for lb in label_map.labels[:2]}
    assert session.undo_name == "Undo New label"
    session.undo()
    assert [lb.value for lb in label_map.labels] == [1, 2]
    session.redo()
    assert label_map.label(3).name == "necrosis"
