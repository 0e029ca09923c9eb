"""EditSession: the label map being corrected, its undo history and its recovery journal.

Everything the viewer does to a label map goes through here, so that each user action is one undo step
and one journal record: ``do`` for one-shot operations (fill, interpolation, islands), ``begin_stroke`` /
``add_point`` / ``end_stroke`` for a brush or eraser drag (many mouse positions, one action).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from engine.editing.brush import voxel_size
from engine.editing.diff import VoxelDiff, combine
from engine.editing.history import DEFAULT_LIMIT, Edit, History
from engine.editing.labels import new_label
from engine.editing.recovery import RecoverableSession, RecoveryJournal, recover
from engine.volume import CodedConcept, Label, LabelMap

Operation = Callable[[LabelMap], VoxelDiff]
Dab = Callable[[LabelMap, Sequence[float]], VoxelDiff]


class _Stroke:
    """A drag in progress: its name, how it paints one position, and the diffs painted so far."""

    def __init__(self, name: str, dab: Dab, step_mm: float) -> None:
        self.name = name
        self.dab = dab
        self.step_mm = step_mm
        self.diffs: list[VoxelDiff] = []
        self.last: np.ndarray | None = None
        self.flushed = 0


class EditSession:
    """Edits of one label map with undo/redo and (when ``journal`` is given) crash recovery."""

    def __init__(
        self, label_map: LabelMap, history: History | None = None, journal: RecoveryJournal | None = None
    ) -> None:
        self.label_map = label_map
        self.history = history if history is not None else History(DEFAULT_LIMIT)
        self.journal = journal
        self._stroke: _Stroke | None = None

    @classmethod
    def start(
        cls, key: str, label_map: LabelMap, description: str = "", history_limit: int = DEFAULT_LIMIT
    ) -> EditSession:
        """A session journalled under ``recovery/<key>/`` (a study UID or label-map id)."""
        journal = RecoveryJournal.start(key, label_map, description, history_limit)
        return cls(label_map, History(history_limit), journal)

    @classmethod
    def resume(cls, session: RecoverableSession) -> EditSession:
        """Continue a session found by :func:`~engine.editing.recovery.find_recoverable`, history included."""
        label_map, history = recover(session)
        return cls(label_map, history, RecoveryJournal.reopen(session))

    # -- one-shot actions ----------------------------------------------------------------------------------

    def do(self, name: str, operation: Operation) -> VoxelDiff:
        """Run ``operation`` on the label map as one undoable action called ``name`` (e.g. 'Fill')."""
        self.end_stroke()
        diff = operation(self.label_map)
        if not diff.is_empty:
            self._record(Edit(name, diff))
        return diff

    def add_label(
        self, name: str, color: tuple[int, int, int] | None = None, concept: CodedConcept | None = None
    ) -> Label:
        """Add a label (next free value, distinct colour) as an undoable action 'New label'."""
        self.end_stroke()
        before = tuple(self.label_map.labels)
        label = new_label(self.label_map, name, color, concept)
        empty = VoxelDiff.empty(self.label_map.array.ndim, self.label_map.array.dtype)
        self._record(Edit("New label", empty, before, tuple(self.label_map.labels)))
        return label

    # -- strokes -------------------------------------------------------------------------------------------

    def begin_stroke(self, name: str, dab: Dab, step_mm: float) -> None:
        """Start a drag: ``dab(label_map, centre)`` paints one position (e.g. ``partial(paint, brush=...,
        value=1)``); positions further apart than ``step_mm`` are joined by dabs along the segment."""
        self.end_stroke()
        if not step_mm > 0:
            raise ValueError(f"the stroke step must be positive, got {step_mm}")
        self._stroke = _Stroke(name, dab, step_mm)

    def add_point(self, center: Sequence[float]) -> VoxelDiff:
        """Paint at the next mouse position; returns what changed (for the viewer to redraw)."""
        stroke = self._stroke
        if stroke is None:
            raise RuntimeError("add_point outside a stroke; call begin_stroke first")
        point = np.asarray(center, dtype=float)
        diffs = [stroke.dab(self.label_map, tuple(p)) for p in self._positions(stroke, point)]
        stroke.last = point
        stroke.diffs += [d for d in diffs if not d.is_empty]
        return combine(diffs, self.label_map.array)

    def end_stroke(self) -> VoxelDiff:
        """Finish the drag in progress (if any) as one undoable action; returns its diff."""
        stroke, self._stroke = self._stroke, None
        if stroke is None:
            return VoxelDiff.empty(self.label_map.array.ndim, self.label_map.array.dtype)
        diff = combine(stroke.diffs, self.label_map.array)
        if not diff.is_empty:
            self._record(Edit(stroke.name, diff))
        elif stroke.flushed and self.journal is not None:
            self.journal.record_partial(Edit(stroke.name, diff))
        return diff

    def cancel_stroke(self) -> VoxelDiff:
        """Take back the drag in progress (Esc); returns the reverted region's diff."""
        stroke = self._stroke
        if stroke is None:
            return VoxelDiff.empty(self.label_map.array.ndim, self.label_map.array.dtype)
        for diff in reversed(stroke.diffs):
            diff.revert(self.label_map.array)
        stroke.diffs.clear()
        return self.end_stroke()

    @property
    def in_stroke(self) -> bool:
        return self._stroke is not None

    def flush(self) -> None:
        """Journal the stroke in progress; the app calls this on a timer (at most every 5 s)."""
        stroke = self._stroke
        if stroke is None or self.journal is None or stroke.flushed == len(stroke.diffs):
            return
        self.journal.record_partial(Edit(stroke.name, combine(stroke.diffs, self.label_map.array)))
        stroke.flushed = len(stroke.diffs)

    # -- undo / redo ---------------------------------------------------------------------------------------

    def undo(self) -> Edit | None:
        """Undo the last action (a stroke in progress is finished first); returns it."""
        self.end_stroke()
        edit = self.history.undo(self.label_map)
        if edit is not None and self.journal is not None:
            self.journal.record_undo()
        return edit

    def redo(self) -> Edit | None:
        """Redo the last undone action; returns it."""
        self.end_stroke()
        edit = self.history.redo(self.label_map)
        if edit is not None and self.journal is not None:
            self.journal.record_redo()
        return edit

    @property
    def can_undo(self) -> bool:
        return self.in_stroke or self.history.can_undo

    @property
    def can_redo(self) -> bool:
        return not self.in_stroke and self.history.can_redo

    @property
    def undo_name(self) -> str | None:
        return f"Undo {self._stroke.name}" if self._stroke is not None else self.history.undo_name

    @property
    def redo_name(self) -> str | None:
        return None if self.in_stroke else self.history.redo_name

    def close(self, keep_recovery: bool = False) -> None:
        """Finish any stroke and close the journal; delete the recovery files unless ``keep_recovery``."""
        self.end_stroke()
        if self.journal is not None:
            if keep_recovery:
                self.journal.close()
            else:
                self.journal.discard()

    def _record(self, edit: Edit) -> None:
        self.history.push(edit)
        if self.journal is not None:
            self.journal.record_edit(edit)

    def _positions(self, stroke: _Stroke, point: np.ndarray) -> list[np.ndarray]:
        if stroke.last is None:
            return [point]
        travel_mm = float(np.linalg.norm((point - stroke.last) * voxel_size(self.label_map.geometry)))
        steps = max(1, math.ceil(travel_mm / stroke.step_mm))
        return [stroke.last + (point - stroke.last) * (k / steps) for k in range(1, steps + 1)]
