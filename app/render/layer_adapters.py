"""One adapter per overlay layer type: reslice the layer on the view plane and blend it into the frame.

Only the screen rectangle that can show the layer's non-zero voxels is resliced and blended; the layer's
display settings become integer alpha / colour tables, rebuilt only when those settings change.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from app.render.blend import ALPHA_ONE, BlendTables, alpha_of, blend_indexed
from app.render.colormaps import colormap
from app.render.overlay_box import nonzero_box, screen_rect
from app.render.reslice import PlaneReslice, Rect
from app.render.vtk_image import VtkImage
from app.viewer_model.layers import HeatmapLayer, LabelLayer, Layer
from app.viewer_model.plane import SlicePlane
from engine.geometry import Geometry


class _OverlayAdapter(ABC):
    """Shared part: the layer's VtkImage, its non-zero box (recomputed when the array is modified) and the
    reslice limited to that box's rectangle on screen."""

    interpolation = "nearest"
    pad_voxels = 0.5  # nearest neighbour reaches half a voxel beyond the box

    def __init__(self, layer: Layer, array: np.ndarray, geometry: Geometry) -> None:
        self.layer = layer
        self.image = VtkImage(array, geometry)
        self._reslice = PlaneReslice(self.image, interpolation=self.interpolation)
        self._box_time = -1
        self._box: np.ndarray | None = None
        self._tables_key: tuple | None = None
        self.blend_tables: BlendTables | None = None

    def rect(self, plane: SlicePlane) -> Rect | None:
        """The pixel rectangle of ``plane`` where this layer can show, None when nowhere."""
        modified = self.image.index_data.GetMTime()
        if modified != self._box_time:
            self._box, self._box_time = nonzero_box(self.image.array), modified
        if self._box is None:
            return None
        return screen_rect(self._box, self.image.patient_from_index, plane, self.pad_voxels)

    def sample(self, plane: SlicePlane, rect: Rect) -> np.ndarray:
        return self._reslice.sample(plane, rect)

    def tables(self) -> BlendTables:
        """The blend tables of the layer's current display settings (rebuilt when they change)."""
        key = self.tables_key()
        if key != self._tables_key:
            self._tables_key = key
            self.blend_tables = self.build_tables()
        return self.blend_tables

    @abstractmethod
    def tables_key(self) -> tuple:
        """The display settings the tables depend on."""

    @abstractmethod
    def build_tables(self) -> BlendTables:
        """Colour and 0..256 alpha per index from the layer's settings."""


class LabelAdapter(_OverlayAdapter):
    """Label map: nearest-neighbour reslice, per-label colours, filled or outlined."""

    def __init__(self, layer: LabelLayer) -> None:
        super().__init__(layer, layer.label_map.array, layer.label_map.geometry)
        layer.voxels_changed.connect(lambda _start, _shape: self.image.modified())  # label editing

    def blend(self, pixels: np.ndarray, plane: SlicePlane) -> None:
        """Blend the layer into the (height, width) RGB32 ``pixels`` of ``plane``."""
        rect = self.rect(plane)
        if rect is None:
            return
        labels = self.sample(plane, rect)
        if not labels.any():
            return
        if self.layer.style == "outline":
            labels = np.where(_edges(labels), labels, 0)
        x0, x1, y0, y1 = rect
        blend_indexed(pixels[y0:y1 + 1, x0:x1 + 1], labels, self.tables())

    def tables_key(self) -> tuple:
        layer: LabelLayer = self.layer
        return layer.opacity, layer.style, frozenset(layer.hidden_labels), tuple(layer.colors.items())

    def build_tables(self) -> BlendTables:
        table = self.layer.color_table()
        strength = ALPHA_ONE if self.layer.style == "outline" else alpha_of(self.layer.opacity)
        return BlendTables.from_colors(table[:, :3], np.where(table[:, 3] > 0, strength, 0))


class HeatmapAdapter(_OverlayAdapter):
    """Heatmap: linear reslice, colormap, transparent below the threshold."""

    interpolation = "linear"
    pad_voxels = 1.0  # linear interpolation reaches one voxel beyond the box

    def __init__(self, layer: HeatmapLayer) -> None:
        super().__init__(layer, layer.heatmap.array, layer.heatmap.geometry)

    def blend(self, pixels: np.ndarray, plane: SlicePlane) -> None:
        """Blend the layer into the (height, width) RGB32 ``pixels`` of ``plane``."""
        rect = self.rect(plane)
        if rect is None:
            return
        values = self.sample(plane, rect)
        codes = np.clip(values * 255.0 + 0.5, 0, 255).astype(np.uint8)
        x0, x1, y0, y1 = rect
        blend_indexed(pixels[y0:y1 + 1, x0:x1 + 1], codes, self.tables())

    def tables_key(self) -> tuple:
        layer: HeatmapLayer = self.layer
        return layer.opacity, layer.threshold, layer.colormap

    def build_tables(self) -> BlendTables:
        lowest_code = max(1, int(np.ceil(self.layer.threshold * 255 - 1e-6)))
        alpha = np.where(np.arange(256) >= lowest_code, alpha_of(self.layer.opacity), 0)
        return BlendTables.from_colors(colormap(self.layer.colormap), alpha)


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
