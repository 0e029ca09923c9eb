"""VoxelDiff: the voxels one edit changed, kept compact — the changed bounding box with its before/after
values, or, when few voxels of that box changed, their flat indices with before/after values only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_INDEX_DTYPE = np.dtype(np.uint32)


@dataclass(frozen=True)
class VoxelDiff:
    """Changed voxels of a label array: box ``start``/``shape`` (array order) and their old/new values.

    Dense form: ``before``/``after`` have the box's shape. Sparse form: ``indices`` are flat (C-order)
    indices into the box and ``before``/``after`` the values there.
    """

    start: tuple[int, ...]
    shape: tuple[int, ...]
    before: np.ndarray
    after: np.ndarray
    indices: np.ndarray | None = None

    @classmethod
    def empty(cls, ndim: int, dtype: np.dtype | type = np.uint8) -> VoxelDiff:
        """A diff that changes nothing."""
        nothing = np.zeros(0, dtype=dtype)
        return cls((0,) * ndim, (0,) * ndim, nothing, nothing.copy(), np.zeros(0, dtype=_INDEX_DTYPE))

    @classmethod
    def between(cls, before: np.ndarray, after: np.ndarray, start: Sequence[int] | None = None) -> VoxelDiff:
        """The compact diff from ``before`` to ``after`` (a box of the label array at ``start``)."""
        if before.shape != after.shape or before.dtype != after.dtype:
            raise ValueError("before and after must have the same shape and dtype")
        origin = np.zeros(before.ndim, dtype=int) if start is None else np.asarray(start, dtype=int)
        changed = before != after
        if not changed.any():
            return cls.empty(before.ndim, before.dtype)
        lo, hi = [], []
        for axis in range(changed.ndim):
            hits = np.flatnonzero(changed.any(axis=tuple(a for a in range(changed.ndim) if a != axis)))
            lo.append(int(hits[0]))
            hi.append(int(hits[-1]) + 1)
        box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        changed, old, new = changed[box], before[box], after[box]
        box_start = tuple(int(v) for v in origin + lo)
        count = int(np.count_nonzero(changed))
        dense_bytes = 2 * changed.size * before.itemsize
        sparse_bytes = count * (_INDEX_DTYPE.itemsize + 2 * before.itemsize)
        if sparse_bytes < dense_bytes:
            flat = np.flatnonzero(changed).astype(_INDEX_DTYPE)
            return cls(box_start, changed.shape, old.ravel()[flat], new.ravel()[flat], flat)
        return cls(box_start, changed.shape, old.copy(), new.copy())

    @property
    def is_empty(self) -> bool:
        return self.before.size == 0

    @property
    def is_sparse(self) -> bool:
        return self.indices is not None

    @property
    def box(self) -> tuple[slice, ...]:
        """The changed bounding box as slices of the label array."""
        return tuple(slice(s, s + n) for s, n in zip(self.start, self.shape, strict=True))

    @property
    def nbytes(self) -> int:
        """Bytes held by the diff's arrays."""
        extra = 0 if self.indices is None else self.indices.nbytes
        return self.before.nbytes + self.after.nbytes + extra

    @property
    def changed_voxels(self) -> int:
        """How many voxels the diff changes."""
        if self.indices is not None:
            return int(self.indices.size)
        return int(np.count_nonzero(self.before != self.after))

    def apply(self, array: np.ndarray) -> None:
        """Write the new values into ``array`` (redo)."""
        self._write(array, self.after, (0,) * array.ndim)

    def revert(self, array: np.ndarray) -> None:
        """Write the old values back into ``array`` (undo)."""
        self._write(array, self.before, (0,) * array.ndim)

    def revert_into(self, target: np.ndarray, target_start: Sequence[int]) -> None:
        """Write the old values into ``target``, a box of the label array that starts at ``target_start``."""
        self._write(target, self.before, target_start)

    def _write(self, array: np.ndarray, values: np.ndarray, array_start: Sequence[int]) -> None:
        if self.is_empty:
            return
        offset = [s - t for s, t in zip(self.start, array_start, strict=True)]
        if self.indices is None:
            array[tuple(slice(o, o + n) for o, n in zip(offset, self.shape, strict=True))] = values
            return
        where = np.unravel_index(self.indices, self.shape)
        array[tuple(w + o for w, o in zip(where, offset, strict=True))] = values


def write_box(array: np.ndarray, start: Sequence[int], values: np.ndarray) -> VoxelDiff:
    """Write ``values`` into ``array`` at the box starting at ``start``; return what changed."""
    box = tuple(slice(s, s + n) for s, n in zip(start, values.shape, strict=True))
    diff = VoxelDiff.between(array[box].copy(), values.astype(array.dtype, copy=False), start)
    diff.apply(array)
    return diff


def combine(diffs: Sequence[VoxelDiff], array: np.ndarray) -> VoxelDiff:
    """One diff equal to ``diffs`` applied in order, given ``array`` as it is after all of them."""
    parts = [d for d in diffs if not d.is_empty]
    if not parts:
        return VoxelDiff.empty(array.ndim, array.dtype)
    lo = np.min([d.start for d in parts], axis=0)
    hi = np.max([np.add(d.start, d.shape) for d in parts], axis=0)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    after = array[box].copy()
    before = after.copy()
    for diff in reversed(parts):
        diff.revert_into(before, lo)
    return VoxelDiff.between(before, after, lo)
