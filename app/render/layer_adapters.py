"""One adapter per overlay layer type: reslice the layer on the view plane and blend it into the RGB image."""

from __future__ import annotations

import numpy as np

from app.render.colormaps import colormap
from app.render.reslice import PlaneReslice
from app.render.vtk_image import VtkImage
from app.viewer_model.layers import HeatmapLayer, LabelLayer, Layer
from app.viewer_model.plane import SlicePlane


class LabelAdapter:
    """Label map: nearest-neighbour reslice, per-label colours, filled or outlined."""

    def __init__(self, layer: LabelLayer) -> None:
        self.layer = layer
        self.image = VtkImage(layer.label_map.array, layer.label_map.geometry)
        self._reslice = PlaneReslice(self.image, interpolation="nearest")

    def blend(self, rgb: np.ndarray, plane: SlicePlane) -> None:
        labels = self._reslice.sample(plane)
        if not labels.any():
            return
        if self.layer.style == "outline":
            labels = np.where(_edges(labels), labels, 0)
        rgba = self.layer.color_table()[labels]
        _blend_rgba(rgb, rgba, self.layer.opacity if self.layer.style == "fill" else 1.0)


class HeatmapAdapter:
    """Heatmap: linear reslice, colormap, transparent below the threshold."""

    def __init__(self, layer: HeatmapLayer) -> None:
        self.layer = layer
        self.image = VtkImage(layer.heatmap.array, layer.heatmap.geometry)
        self._reslice = PlaneReslice(self.image, interpolation="linear")

    def blend(self, rgb: np.ndarray, plane: SlicePlane) -> None:
        values = self._reslice.sample(plane)
        shown = values >= max(self.layer.threshold, 1e-6)
        if not shown.any():
            return
        codes = np.clip(values[shown] * 255, 0, 255).astype(np.uint8)
        colors = colormap(self.layer.colormap)[codes].astype(np.float32)
        alpha = self.layer.opacity
        rgb[shown] = (rgb[shown] * (1 - alpha) + colors * alpha).astype(np.uint8)


def adapter_for(layer: Layer) -> LabelAdapter | HeatmapAdapter | None:
    """The slice adapter of an image-like overlay layer (markers are drawn by the widget)."""
    if isinstance(layer, LabelLayer):
        return LabelAdapter(layer)
    if isinstance(layer, HeatmapLayer):
        return HeatmapAdapter(layer)
    return None


def _edges(labels: np.ndarray) -> np.ndarray:
    """Pixels whose 4-neighbourhood holds a different label (the one-pixel outline of each region)."""
    edge = np.zeros(labels.shape, bool)
    edge[1:, :] |= labels[1:, :] != labels[:-1, :]
    edge[:-1, :] |= labels[:-1, :] != labels[1:, :]
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    return edge


def _blend_rgba(rgb: np.ndarray, rgba: np.ndarray, opacity: float) -> None:
    mask = rgba[..., 3] > 0
    if mask.any():
        color = rgba[mask, :3].astype(np.float32)
        rgb[mask] = (rgb[mask] * (1 - opacity) + color * opacity).astype(np.uint8)
