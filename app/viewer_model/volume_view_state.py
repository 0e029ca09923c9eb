"""State of the 3D view: the rendering preset and the clipping box (fractions of the volume's extent)."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.viewer_model.events import Event


class VolumeViewState:
    """Preset index into the presets usable for the modality; a clipping box per patient axis."""

    def __init__(self, presets: list[dict[str, Any]]) -> None:
        self.all_presets = presets
        self.modality = ""
        self.preset_index = 0
        self.clip = np.array([[0.0, 1.0]] * 3)  # rows: x (R->L), y (A->P), z (I->S); fractions of the extent
        self.changed = Event()

    def presets(self) -> list[dict[str, Any]]:
        """Presets for the current modality: its own first, then the generic ones."""
        own = [p for p in self.all_presets if p.get("modality", "*").upper() == self.modality.upper()]
        generic = [p for p in self.all_presets if p.get("modality", "*") == "*"]
        return own + generic if own else generic + [p for p in self.all_presets if p not in generic]

    @property
    def preset(self) -> dict[str, Any]:
        presets = self.presets()
        return presets[self.preset_index % len(presets)]

    def set_modality(self, modality: str) -> None:
        self.modality = modality
        self.preset_index = 0
        self.changed.emit()

    def show_volume(self, modality: str) -> None:
        """Another volume is shown: its modality's first preset and the full extent (a clipping box is cut
        for one volume and must not carry over to the next series or patient)."""
        self.modality = modality
        self.preset_index = 0
        self.clip[:] = (0.0, 1.0)
        self.changed.emit()

    def set_preset(self, index: int) -> None:
        self.preset_index = index % len(self.presets())
        self.changed.emit()

    def step_preset(self, step: int) -> None:
        self.set_preset(self.preset_index + step)

    def set_clip(self, axis: int, low: float, high: float) -> None:
        """Clip along patient axis ``axis`` to the fractions low..high of the extent."""
        low, high = float(np.clip(low, 0, 1)), float(np.clip(high, 0, 1))
        self.clip[axis] = (min(low, high), max(low, high))
        self.changed.emit()

    def reset_clip(self) -> None:
        self.clip[:] = (0.0, 1.0)
        self.changed.emit()
