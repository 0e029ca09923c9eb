"""What a correction changed, as numbers: voxels added/removed and volume change per label, Dice of the
AI original against the annotator's final per label and overall."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from engine.editing.brush import voxel_size
from engine.volume import LabelMap


@dataclass(frozen=True)
class LabelChange:
    """One label's change; ``dice`` is None when the label is empty in both versions."""

    value: int
    name: str
    voxels_original: int
    voxels_final: int
    added: int
    removed: int
    volume_original_ml: float
    volume_final_ml: float
    volume_change_ml: float
    dice: float | None


@dataclass(frozen=True)
class ChangeSummary:
    """Per-label changes, the number of voxels whose value changed, and the overall Dice: twice the voxels
    labelled alike (non-zero) over the labelled voxels of both versions (None when both are empty)."""

    labels: tuple[LabelChange, ...]
    voxels_changed: int
    dice_overall: float | None
    voxel_volume_ml: float

    def label(self, value: int) -> LabelChange:
        for change in self.labels:
            if change.value == value:
                return change
        raise KeyError(f"no label {value} in the summary")

    def to_json(self) -> dict[str, Any]:
        return {
            "labels": [asdict(change) for change in self.labels],
            "voxels_changed": self.voxels_changed,
            "dice_overall": self.dice_overall,
            "voxel_volume_ml": self.voxel_volume_ml,
        }


def change_summary(original: LabelMap | None, final: LabelMap) -> ChangeSummary:
    """Compare ``final`` with ``original`` (an all-background map when there was no AI original)."""
    before = np.zeros_like(final.array) if original is None else original.array
    if original is not None and not original.geometry.same_grid(final.geometry):
        raise ValueError("the original and final label maps are not on the same grid")
    after = final.array
    names = {label.value: label.name for label in (original.labels if original else [])}
    names.update({label.value: label.name for label in final.labels})
    size = int(max([before.max(initial=0), after.max(initial=0), *names])) + 1
    changed = before != after
    counts_before = np.bincount(before.ravel(), minlength=size)
    counts_after = np.bincount(after.ravel(), minlength=size)
    added = np.bincount(after[changed], minlength=size)
    removed = np.bincount(before[changed], minlength=size)
    voxel_ml = float(np.prod(voxel_size(final.geometry))) / 1000.0
    values = sorted(set(names) | {v for v in range(1, size) if counts_before[v] or counts_after[v]})
    changes = []
    for value in values:
        n_before, n_after = int(counts_before[value]), int(counts_after[value])
        n_added, n_removed = int(added[value]), int(removed[value])
        common = n_after - n_added
        changes.append(LabelChange(
            value=value,
            name=names.get(value, f"label {value}"),
            voxels_original=n_before,
            voxels_final=n_after,
            added=n_added,
            removed=n_removed,
            volume_original_ml=n_before * voxel_ml,
            volume_final_ml=n_after * voxel_ml,
            volume_change_ml=(n_after - n_before) * voxel_ml,
            dice=_dice(common, n_before, n_after),
        ))
    labelled_before = int(before.size - counts_before[0])
    labelled_after = int(after.size - counts_after[0])
    alike = labelled_after - int(np.count_nonzero(changed & (after != 0)))
    return ChangeSummary(
        labels=tuple(changes),
        voxels_changed=int(np.count_nonzero(changed)),
        dice_overall=_dice(alike, labelled_before, labelled_after),
        voxel_volume_ml=voxel_ml,
    )


def _dice(common: int, first: int, second: int) -> float | None:
    return None if first + second == 0 else 2.0 * common / (first + second)
