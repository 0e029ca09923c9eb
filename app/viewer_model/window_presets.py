"""Window presets by modality (data from resources/window_presets.json): key n picks entry n."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.window_level import Window, default_window, percentile_window

ANY_MODALITY = "*"


def presets_for(presets: dict[str, list[dict[str, Any]]], modality: str) -> list[dict[str, Any]]:
    """The preset list of a modality, else the generic one."""
    return presets.get(modality.upper(), presets.get(ANY_MODALITY, []))


def preset_window(preset: dict[str, Any], array: np.ndarray, meta: dict[str, Any]) -> Window:
    """The window a preset stands for: fixed width/centre, the header default or the percentile window."""
    source = preset.get("source")
    if source == "default":
        return default_window(array, meta)
    if source == "percentile":
        return percentile_window(array)
    return Window(float(preset["width"]), float(preset["center"]))
