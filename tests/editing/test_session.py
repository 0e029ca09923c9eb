"""EditSession: a brush drag over many mouse positions is one undoable action; one-shot operations too."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from engine.editing.brush import Brush, erase, intensity_range_at, paint, threshold_paint
from engine.editing.fill import flood_fill
from engine.editing.interpolate import fill_between_slices
from engine.editing.session import EditSession
from engine.volume import LabelMap, Volume


def _brush_stroke(session: EditSession, points, value: int = 1, radius: float = 1.0) -> None:
    brush = Brush(radius)
    dab = partial(paint, brush=brush, value=value)
    session.begin_stroke("Brush", dab, brush.stroke_step_mm(session.label_map.geometry))
    for point in points:
        session.add_point(point)
    session.end_stroke()


def test_a_stroke_is_one_action_and_gaps_between_mouse_events_are_joined(label_map: LabelMap) -> None:
    session = EditSession(label_map)
    _brush_stroke(session, [(4, 16, 2), (4, 16, 30)], radius=1.0)  # two mouse events 28 columns apart
    assert (label_map.array[4, 16, 2:31] == 1).all()  # a continuous line, not two dots
    assert session.history.undo_steps == 1 and session.undo_name == "Undo Brush"
    session.undo()
    assert not label_map.array.any()
    assert session.redo_name == "Redo Brush"
    session.redo()
    assert (label_map.array[4, 16, 2:31] == 1).all()


def test_add_point_returns_what_to_redraw_and_eraser_strokes(label_map: LabelMap) -> None:
    label_map.array[4] = 2
    session = EditSession(label_map)
    brush = Brush(0.5)
    dab = partial(erase, brush=brush)
    session.begin_stroke("Eraser", dab, brush.stroke_step_mm(session.label_map.geometry))
    first = session.add_point((4, 10, 10))
    assert first.changed_voxels == 1 and session.in_stroke and session.undo_name == "Undo Eraser"
    second = session.add_point((4, 10, 12))
    assert second.start == (4, 10, 11) and second.changed_voxels == 2
    whole = session.end_stroke()
    assert whole.changed_voxels == 3 and not session.in_stroke
    with pytest.raises(RuntimeError):
        session.add_point((4, 0, 0))


def test_cancel_stroke_restores_the_map_and_records_nothing(label_map: LabelMap) -> None:
    session = EditSession(label_map)
    brush = Brush(2.0)
    dab = partial(paint, brush=brush, value=1)
    session.begin_stroke("Brush", dab, brush.stroke_step_mm(session.label_map.geometry))
    session.add_point((4, 10, 10))
    session.add_point((4, 20, 20))
    assert label_map.array.any()
    session.cancel_stroke()
    assert not label_map.array.any() and not session.can_undo


def test_undo_during_a_stroke_finishes_it_first(label_map: LabelMap) -> None:
    session = EditSession(label_map)
    _brush_stroke(session, [(1, 1, 1)])
    brush = Brush(1.0)
    dab = partial(paint, brush=brush, value=2)
    session.begin_stroke("Brush", dab, brush.stroke_step_mm(session.label_map.geometry))
    session.add_point((5, 5, 5))
    assert session.undo().name == "Brush"
    assert label_map.array[5, 5, 5] == 0 and label_map.array[1, 1, 1] == 1
    assert session.redo_name == "Redo Brush"


def test_one_shot_operations_are_named_steps_and_no_ops_are_not_recorded(label_map: LabelMap) -> None:
    label_map.array[1, 10:14, 10:14] = 1
    label_map.array[5, 10:14, 10:14] = 1
    session = EditSession(label_map)
    session.do("Fill between slices", partial(fill_between_slices, axis=0))
    assert session.undo_name == "Undo Fill between slices"
    assert session.do("Fill", partial(flood_fill, seed=(3, 11, 11), value=1)).is_empty
    assert session.history.undo_steps == 1
    before = label_map.array.copy()
    session.undo()
    assert session.redo_name == "Redo Fill between slices" and not label_map.array[2:5].any()
    session.redo()
    assert np.array_equal(label_map.array, before)
    _brush_stroke(session, [(0, 0, 0)])
    assert not session.can_redo  # a new action clears redo


def test_threshold_brush_stroke_with_a_range_picked_from_the_image(
    label_map: LabelMap, ct_volume: Volume
) -> None:
    session = EditSession(label_map)
    picked = intensity_range_at(ct_volume, (4, 16, 16), Brush(1.0))  # x 15..17: HU 50..70
    brush = Brush(3.0)
    dab = partial(threshold_paint, brush=brush, value=1, volume=ct_volume, intensity_range=picked)
    session.begin_stroke("Threshold brush", dab, brush.stroke_step_mm(session.label_map.geometry))
    session.add_point((4, 4, 16))
    session.add_point((4, 28, 16))
    session.end_stroke()
    assert picked == (50.0, 70.0)
    assert set(np.argwhere(label_map.array == 1)[:, 2]) == {15, 16, 17}
    assert session.history.undo_steps == 1 and session.undo_name == "Undo Threshold brush"
