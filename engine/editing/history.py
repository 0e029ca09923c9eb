"""Undo/redo of label-map edits: one step per user action, each kept as a compact VoxelDiff."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from engine.editing.diff import VoxelDiff
from engine.volume import Label, LabelMap

DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class Edit:
    """One user action: its menu name, the voxels it changed, and the label table around it if it changed."""

    name: str
    diff: VoxelDiff
    labels_before: tuple[Label, ...] | None = None
    labels_after: tuple[Label, ...] | None = None

    @property
    def nbytes(self) -> int:
        return self.diff.nbytes

    def redo(self, label_map: LabelMap) -> None:
        """Apply the action to ``label_map``."""
        self.diff.apply(label_map.array)
        if self.labels_after is not None:
            label_map.labels[:] = self.labels_after

    def undo(self, label_map: LabelMap) -> None:
        """Take the action back from ``label_map``."""
        self.diff.revert(label_map.array)
        if self.labels_before is not None:
            label_map.labels[:] = self.labels_before


class History:
    """Undo and redo stacks: ``limit`` undo steps are kept (the oldest dropped); a new action clears redo."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError(f"the undo limit must be at least 1, got {limit}")
        self.limit = limit
        self._undo: deque[Edit] = deque(maxlen=limit)
        self._redo: list[Edit] = []

    def push(self, edit: Edit) -> None:
        """Record an action that has just been applied."""
        self._undo.append(edit)
        self._redo.clear()

    def undo(self, label_map: LabelMap) -> Edit | None:
        """Undo the last action on ``label_map``; returns it (None when there is nothing to undo)."""
        if not self._undo:
            return None
        edit = self._undo.pop()
        edit.undo(label_map)
        self._redo.append(edit)
        return edit

    def redo(self, label_map: LabelMap) -> Edit | None:
        """Redo the last undone action on ``label_map``; returns it (None when there is nothing to redo)."""
        if not self._redo:
            return None
        edit = self._redo.pop()
        edit.redo(label_map)
        self._undo.append(edit)
        return edit

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_name(self) -> str | None:
        """The Edit menu's text, e.g. 'Undo Brush', or None when disabled."""
        return f"Undo {self._undo[-1].name}" if self._undo else None

    @property
    def redo_name(self) -> str | None:
        """The Edit menu's text, e.g. 'Redo Fill between slices', or None when disabled."""
        return f"Redo {self._redo[-1].name}" if self._redo else None

    @property
    def undo_steps(self) -> int:
        return len(self._undo)

    @property
    def redo_steps(self) -> int:
        return len(self._redo)

    @property
    def nbytes(self) -> int:
        """Bytes of voxel data held by all undo and redo steps."""
        return sum(edit.nbytes for edit in self._undo) + sum(edit.nbytes for edit in self._redo)
