"""Window presets by modality (data from resources/window_presets.json): key n picks entry n. The menu and the
view's corner name them as radiologists say them: "Lung 1500/−600" (width / level)."""

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


def preset_label(preset: dict[str, Any]) -> str:
    """The menu text of a preset: its name, with width/level when they are fixed ('Lung 1500/−600')."""
    name = str(preset.get("name", "")).strip() or "Preset"
    if "width" in preset and "center" in preset and preset.get("source") is None:
        return f"{name} {_number(preset['width'])}/{_number(preset['center'])}"
    return name


def preset_menu_labels(presets: list[dict[str, Any]], count: int) -> list[str | None]:
    """The texts of the ``count`` preset commands for ``presets``: None where the modality has no such preset."""
    return [preset_label(presets[index]) if index < len(presets) else None for index in range(count)]


def _number(value: float) -> str:
    text = f"{float(value):g}"
    return text.replace("-", "−")  # a typographic minus, as printed on film and in reports
