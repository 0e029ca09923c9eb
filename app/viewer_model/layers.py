"""Layers shown over the image: the image itself, label maps, heatmaps and boxes / points with text.

Each layer has a name, visibility and opacity, and an ``changed`` event that adapters listen to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from app.viewer_model.events import Event
from engine.volume import Heatmap, LabelMap, Volume

if TYPE_CHECKING:
    from engine.ai.result import LabelRegion, Provenance

LABEL_STYLES = ("fill", "outline")


class Layer:
    """Common state of every layer."""

    kind = "layer"
    removable = True

    def __init__(self, name: str, visible: bool = True, opacity: float = 1.0) -> None:
        self.name = name
        self._visible = visible
        self._opacity = float(opacity)
        self.changed = Event()

    @property
    def visible(self) -> bool:
        return self._visible

    @visible.setter
    def visible(self, value: bool) -> None:
        self._visible = bool(value)
        self.changed.emit(self)

    @property
    def opacity(self) -> float:
        return self._opacity

    @opacity.setter
    def opacity(self, value: float) -> None:
        self._opacity = float(np.clip(value, 0.0, 1.0))
        self.changed.emit(self)


class ImageLayer(Layer):
    """The Volume being read; always at the bottom of the list."""

    kind = "image"
    removable = False

    def __init__(self, volume: Volume, name: str = "image") -> None:
        super().__init__(name)
        self.volume = volume


class LabelLayer(Layer):
    """A label map drawn filled or outlined, with per-label visibility and colour; ``provenance`` names the
    plugin run that made it (None when no AI run did), ``regions`` the label unions its plugin defined."""

    kind = "labels"

    def __init__(self, label_map: LabelMap, name: str = "labels", opacity: float = 0.5, style: str = "fill",
                 provenance: Provenance | None = None, regions: Sequence[LabelRegion] = ()):
        super().__init__(name, opacity=opacity)
        self.label_map = label_map
        self.provenance = provenance
        self.regions = list(regions)
        self._style = style
        self.colors = {label.value: tuple(label.color) for label in label_map.labels}
        self.hidden_labels: set[int] = set()
        self.voxels_changed = Event()  # (start, shape) of the edited box, array order

    @property
    def style(self) -> str:
        return self._style

    @style.setter
    def style(self, value: str) -> None:
        if value not in LABEL_STYLES:
            raise ValueError(f"label style must be one of {LABEL_STYLES}, got {value!r}")
        self._style = value
        self.changed.emit(self)

    def set_label_visible(self, value: int, visible: bool) -> None:
        (self.hidden_labels.discard if visible else self.hidden_labels.add)(value)
        self.changed.emit(self)

    def set_label_color(self, value: int, color: tuple[int, int, int]) -> None:
        self.colors[value] = tuple(int(c) for c in color)
        self.changed.emit(self)

    def notify_voxels_changed(self, start: tuple[int, ...], shape: tuple[int, ...]) -> None:
        """The label array was edited in place inside the box ``start``/``shape``: renderers re-read it."""
        self.voxels_changed.emit(start, shape)

    def sync_labels(self) -> None:
        """Follow the label map's table after labels were added or removed (user colours are kept)."""
        values = {label.value for label in self.label_map.labels}
        self.colors = {value: color for value, color in self.colors.items() if value in values}
        for label in self.label_map.labels:
            self.colors.setdefault(label.value, tuple(label.color))
        self.changed.emit(self)

    def color_table(self) -> np.ndarray:
        """RGBA (0..255) per label value, alpha 0 for background and hidden labels."""
        size = 65536 if self.label_map.array.dtype == np.uint16 else 256
        table = np.zeros((size, 4), np.uint8)
        for value, color in self.colors.items():
            if value not in self.hidden_labels:
                table[value] = (*color, 255)
        return table


class HeatmapLayer(Layer):
    """A 0..1 map drawn through a colormap above a lower threshold, with a colour bar."""

    kind = "heatmap"

    def __init__(self, heatmap: Heatmap, name: str | None = None, colormap: str = "jet",
                 opacity: float = 0.5, threshold: float = 0.2) -> None:
        super().__init__(name or heatmap.name, opacity=opacity)
        self.heatmap = heatmap
        self._colormap = colormap
        self._threshold = float(threshold)

    @property
    def colormap(self) -> str:
        return self._colormap

    @colormap.setter
    def colormap(self, value: str) -> None:
        self._colormap = value
        self.changed.emit(self)

    @property
    def threshold(self) -> float:
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._threshold = float(np.clip(value, 0.0, 1.0))
        self.changed.emit(self)


@dataclass(frozen=True)
class Marker:
    """A box (``size`` in mm along the patient axes, centred on ``center``) or a point, with text."""

    center: tuple[float, float, float]
    text: str = ""
    size: tuple[float, float, float] | None = None  # None: a point
    color: tuple[int, int, int] = (255, 255, 0)


class MarkerLayer(Layer):
    """Boxes and points in patient coordinates (e.g. detections), drawn on every view they cut."""

    kind = "markers"

    def __init__(self, markers: list[Marker], name: str = "findings") -> None:
        super().__init__(name)
        self.markers = list(markers)
