"""Crash recovery: every finished action is journalled durably; a killed process loses none of them."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_bytes
from engine.editing.brush import Brush, paint
from engine.editing.codec import label_map_to_npz
from engine.editing.islands import remove_small_islands
from engine.editing.recovery import (
    JOURNAL_NAME,
    RecoveryJournal,
    discard,
    find_recoverable,
    recover,
    session_folder,
)
from engine.editing.session import EditSession
from engine.volume import LabelMap

ACKNOWLEDGED_BEFORE_KILL = 40


def _stroke(session: EditSession, points, value: int = 1) -> None:
    brush = Brush(1.0)
    dab = partial(paint, brush=brush, value=value)
    session.begin_stroke("Brush", dab, brush.stroke_step_mm(session.label_map.geometry))
    for point in points:
        session.add_point(point)
    session.end_stroke()


def _crash(session: EditSession) -> None:
    """What a crash leaves: the journal as written, nothing else done."""
    session.journal.close()


def test_recover_replays_edits_undo_redo_and_label_changes(label_map: LabelMap) -> None:
    session = EditSession.start("1.2.840.99.1", label_map, description="CT chest")
    _stroke(session, [(4, 10, 10), (4, 10, 20)])
    session.add_label("necrosis")
    _stroke(session, [(2, 5, 5)], value=3)
    session.do("Remove small islands", partial(remove_small_islands, min_voxels=1000))
    session.undo()
    session.undo()
    session.redo()
    _crash(session)

    (found,) = find_recoverable()
    assert found.key == "1.2.840.99.1" and found.description == "CT chest" and found.actions == 7
    assert found.folder == session_folder("1.2.840.99.1") and found.saved_utc >= found.started_utc
    recovered, history = recover(found)
    assert np.array_equal(recovered.array, label_map.array)
    assert recovered.labels == label_map.labels and recovered.geometry.same_grid(label_map.geometry)
    assert history.undo_name == session.history.undo_name == "Undo Brush"
    assert history.redo_name == "Redo Remove small islands" and history.undo_steps == 3
    discard(found)
    assert find_recoverable() == []


def test_a_torn_last_record_is_ignored(label_map: LabelMap) -> None:
    session = EditSession.start("study-1", label_map)
    _stroke(session, [(1, 1, 1)])
    after_first = label_map.array.copy()
    _stroke(session, [(6, 20, 20)], value=2)
    _crash(session)
    journal = session_folder("study-1") / JOURNAL_NAME
    os.truncate(journal, journal.stat().st_size - 3)  # the crash hit in the middle of the last write
    (found,) = find_recoverable()
    assert found.actions == 1
    recovered, history = recover(found)
    assert np.array_equal(recovered.array, after_first) and history.undo_steps == 1


def test_a_stroke_in_progress_survives_up_to_the_last_flush(label_map: LabelMap) -> None:
    session = EditSession.start("study-2", label_map)
    brush = Brush(1.0)
    dab = partial(paint, brush=brush, value=1)
    session.begin_stroke("Brush", dab, brush.stroke_step_mm(session.label_map.geometry))
    session.add_point((3, 5, 5))
    session.add_point((3, 5, 15))
    session.flush()  # the app's timer (every <= 5 s)
    at_flush = label_map.array.copy()
    session.add_point((3, 25, 15))  # painted after the last flush: this is what a crash may lose
    _crash(session)
    recovered, history = recover(find_recoverable()[0])
    assert np.array_equal(recovered.array, at_flush) and history.undo_name == "Undo Brush"


def test_a_cancelled_or_finished_stroke_supersedes_its_flushes(label_map: LabelMap) -> None:
    session = EditSession.start("study-3", label_map)
    brush = Brush(1.0)
    dab = partial(paint, brush=brush, value=1)
    session.begin_stroke("Brush", dab, brush.stroke_step_mm(session.label_map.geometry))
    session.add_point((3, 5, 5))
    session.flush()
    session.cancel_stroke()
    dab = partial(paint, brush=brush, value=2)
    session.begin_stroke("Brush", dab, brush.stroke_step_mm(session.label_map.geometry))
    session.add_point((4, 5, 5))
    session.flush()
    session.add_point((4, 9, 9))
    session.end_stroke()
    _crash(session)
    recovered, history = recover(find_recoverable()[0])
    assert np.array_equal(recovered.array, label_map.array) and history.undo_steps == 1


def test_resume_continues_the_same_journal(label_map: LabelMap) -> None:
    session = EditSession.start("study-4", label_map)
    _stroke(session, [(1, 1, 1)])
    _crash(session)
    resumed = EditSession.resume(find_recoverable()[0])
    resumed.undo()
    _stroke(resumed, [(2, 2, 2)], value=2)
    _crash(resumed)
    recovered, history = recover(find_recoverable()[0])
    assert np.array_equal(recovered.array, resumed.label_map.array)
    assert recovered.array[1, 1, 1] == 0 and recovered.array[2, 2, 2] == 2 and history.undo_steps == 1
    resumed.close()
    assert find_recoverable() == []


def test_starting_again_replaces_an_old_session_and_unreadable_ones_are_skipped(
    label_map: LabelMap, make_empty_map
) -> None:
    old = EditSession.start("study-5", label_map)
    _stroke(old, [(1, 1, 1)])
    _crash(old)
    fresh = EditSession.start("study-5", make_empty_map())
    _crash(fresh)
    recovered, history = recover(find_recoverable()[0])
    assert not recovered.array.any() and not history.can_undo
    atomic_write_bytes(session_folder("broken") / "base.npz", b"not an npz")
    assert [s.key for s in find_recoverable()] == ["study-5"]


def test_a_journal_from_another_base_is_not_replayed(label_map: LabelMap, make_empty_map) -> None:
    session = EditSession.start("study-6", label_map)
    _stroke(session, [(1, 1, 1)])
    _crash(session)
    folder = session_folder("study-6")
    stale_journal = (folder / JOURNAL_NAME).read_bytes()
    RecoveryJournal.start("study-6", make_empty_map()).close()
    (folder / JOURNAL_NAME).write_bytes(stale_journal)  # a journal left over from the previous session
    recovered, _ = recover(find_recoverable()[0])
    assert not recovered.array.any()


def test_killing_the_editing_process_loses_no_acknowledged_edit(
    tmp_path: Path, child_module, kill_child, make_empty_map
) -> None:
    """SIGKILL a child mid-edit: the recovered map is the state after its last acknowledged edit (or the
    one after, if that edit reached the journal before the child could print it)."""
    start = make_empty_map()
    base = tmp_path / "start.npz"
    base.write_bytes(label_map_to_npz(start, {}))
    acknowledged = kill_child("crash-study", base, ACKNOWLEDGED_BEFORE_KILL)

    (found,) = find_recoverable()
    recovered, history = recover(found)
    replay = EditSession(make_empty_map())
    states = []
    for i in range(acknowledged + 1):
        child_module.scripted_edit(replay, i)
        states.append((replay.label_map.array.copy(), replay.history.undo_name))
    matches = [n for n in (acknowledged, acknowledged + 1)
               if np.array_equal(states[n - 1][0], recovered.array) and states[n - 1][1] == history.undo_name]
    assert matches, "the recovered map is not the state after the last acknowledged edit"
    assert acknowledged >= ACKNOWLEDGED_BEFORE_KILL
