"""256-entry RGB colour tables for heatmaps (computed, so no plotting library is needed)."""

from __future__ import annotations

from functools import cache

import numpy as np

COLORMAPS = ("jet", "hot", "viridis")

_ANCHORS = {
    "jet": [(0.0, (0, 0, 128)), (0.11, (0, 0, 255)), (0.34, (0, 255, 255)), (0.5, (128, 255, 128)),
            (0.65, (255, 255, 0)), (0.89, (255, 0, 0)), (1.0, (128, 0, 0))],
    "hot": [(0.0, (10, 0, 0)), (0.4, (255, 0, 0)), (0.8, (255, 255, 0)), (1.0, (255, 255, 255))],
    "viridis": [(0.0, (68, 1, 84)), (0.25, (59, 82, 139)), (0.5, (33, 145, 140)), (0.75, (94, 201, 98)),
                (1.0, (253, 231, 37))],
}


@cache
def colormap(name: str) -> np.ndarray:
    """(256, 3) uint8 colours of colormap ``name``."""
    if name not in _ANCHORS:
        raise ValueError(f"unknown colormap {name!r}; expected one of {COLORMAPS}")
    stops, colors = zip(*_ANCHORS[name], strict=True)
    x = np.linspace(0, 1, 256)
    table = np.stack([np.interp(x, stops, [c[i] for c in colors]) for i in range(3)], axis=1)
    return np.rint(table).astype(np.uint8)
