"""Label table operations: pick the label under the cursor, add a new label with a distinct colour."""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import numpy as np

from engine.volume import CodedConcept, Label, LabelMap

# Well-separated colours (Slicer's first generic anatomy colours and Tableau-like hues), used in order.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (128, 174, 128), (241, 214, 145), (177, 122, 101), (111, 184, 210), (216, 101, 79), (221, 130, 101),
    (144, 238, 144), (192, 104, 88), (220, 245, 20), (78, 63, 0), (255, 250, 220), (230, 220, 70),
    (200, 200, 235), (250, 250, 210), (244, 214, 49), (0, 151, 206), (152, 189, 207), (183, 156, 220),
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
)
_GOLDEN_RATIO = 0.618033988749895


def pick_label(label_map: LabelMap, voxel: Sequence[float]) -> int:
    """The label value at a voxel (array-order index; continuous indices are rounded)."""
    index = tuple(int(round(v)) for v in voxel)
    if len(index) != label_map.array.ndim or not all(
        0 <= i < n for i, n in zip(index, label_map.array.shape, strict=True)
    ):
        raise IndexError(f"voxel {tuple(voxel)} lies outside the label map {label_map.array.shape}")
    return int(label_map.array[index])


def check_paint_value(label_map: LabelMap, value: int) -> int:
    """``value`` if it is background (0) or in the label table, else a ValueError naming it."""
    value = int(value)
    if value != 0 and value not in {label.value for label in label_map.labels}:
        raise ValueError(f"label value {value} is not in the label table; add it with new_label first")
    return value


def next_free_value(label_map: LabelMap) -> int:
    """One more than the largest value in the table or in the voxels."""
    largest = max([0] + [label.value for label in label_map.labels] + [int(label_map.array.max(initial=0))])
    value = largest + 1
    if value > np.iinfo(label_map.array.dtype).max:
        raise ValueError(f"no free label value left in a {label_map.array.dtype} label map")
    return value


def distinct_color(used: Sequence[tuple[int, int, int]]) -> tuple[int, int, int]:
    """The first palette colour not in ``used``; past the palette, golden-ratio hues."""
    taken = {tuple(c) for c in used}
    for color in PALETTE:
        if color not in taken:
            return color
    step = len(taken)
    while True:
        r, g, b = colorsys.hsv_to_rgb((step * _GOLDEN_RATIO) % 1.0, 0.65, 0.95)
        color = (int(r * 255), int(g * 255), int(b * 255))
        if color not in taken:
            return color
        step += 1


def new_label(
    label_map: LabelMap,
    name: str,
    color: tuple[int, int, int] | None = None,
    concept: CodedConcept | None = None,
) -> Label:
    """Add a label with the next free value (and a distinct colour unless given) to the table."""
    if not name.strip():
        raise ValueError("a new label needs a name")
    label = Label(
        value=next_free_value(label_map),
        name=name,
        color=color if color is not None else distinct_color([lb.color for lb in label_map.labels]),
        concept=concept,
    )
    label_map.labels.append(label)
    return label
