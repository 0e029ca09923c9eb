"""Render one 2D view: reslice the Volume on the view plane, window it, blend the overlay layers."""

from __future__ import annotations

import numpy as np

from app.render.layer_adapters import HeatmapAdapter, LabelAdapter, adapter_for
from app.render.reslice import PlaneReslice
from app.render.vtk_image import VtkImage
from app.viewer_model.layers import Layer
from app.viewer_model.plane import SlicePlane
from engine.volume import Volume
from engine.window_level import Window, apply_window


class SliceRenderer:
    """Per-view renderer; every view shares the Volume's one VtkImage (no per-view copies)."""

    def __init__(self, image: VtkImage, volume: Volume) -> None:
        self.volume = volume
        background = -1024.0 if volume.modality.upper() == "CT" else 0.0  # outside the volume: air / black
        self._reslice = PlaneReslice(image, interpolation="linear", background=background)
        self._adapters: dict[int, LabelAdapter | HeatmapAdapter] = {}

    def render(self, plane: SlicePlane, window: Window, invert: bool, overlays: list[Layer]) -> np.ndarray:
        """(height, width, 3) uint8 RGB of the plane."""
        grey = apply_window(self._reslice.sample(plane), window, invert)
        rgb = np.repeat(grey[:, :, None], 3, axis=2)
        for layer in overlays:
            adapter = self._adapter(layer)
            if adapter is not None:
                adapter.blend(rgb, plane)
        return rgb

    def _adapter(self, layer: Layer) -> LabelAdapter | HeatmapAdapter | None:
        key = id(layer)
        if key not in self._adapters:
            adapter = adapter_for(layer)
            if adapter is None:
                return None
            self._adapters[key] = adapter
        return self._adapters[key]

    def forget(self, layers: list[Layer]) -> None:
        """Drop adapters of layers no longer in the list."""
        alive = {id(layer) for layer in layers}
        for key in [key for key in self._adapters if key not in alive]:
            del self._adapters[key]
