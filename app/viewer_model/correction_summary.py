"""An accepted correction's change summary as the annotator reads it (Qt-free)."""

from __future__ import annotations

from engine.editing.summary import ChangeSummary


def _dice(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def summary_lines(summary: ChangeSummary) -> list[str]:
    """One line per label (voxels added / removed, volume change, Dice original vs final), then the total."""
    lines = [
        f"{change.name}: +{change.added} / −{change.removed} voxels "
        f"({change.volume_change_ml:+.2f} ml), Dice {_dice(change.dice)}"
        for change in summary.labels
    ]
    lines.append(f"Overall: {summary.voxels_changed} voxels changed, Dice {_dice(summary.dice_overall)}")
    return lines
