"""The ordered layer list (bottom first): add, remove, reorder, with one ``changed`` event."""

from __future__ import annotations

from collections.abc import Iterator

from app.viewer_model.events import Event
from app.viewer_model.layers import Layer


class LayerList:
    """Layers in drawing order; the image layer stays at index 0."""

    def __init__(self) -> None:
        self._layers: list[Layer] = []
        self.changed = Event()  # emitted with no arguments when membership, order or any layer changes

    def __iter__(self) -> Iterator[Layer]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    def __getitem__(self, index: int) -> Layer:
        return self._layers[index]

    def index(self, layer: Layer) -> int:
        return self._layers.index(layer)

    def append(self, layer: Layer) -> Layer:
        self._layers.append(layer)
        layer.changed.connect(self._layer_changed)
        self.changed.emit()
        return layer

    def remove(self, layer: Layer) -> None:
        if not layer.removable:
            raise ValueError(f"layer {layer.name!r} cannot be removed")
        self._layers.remove(layer)
        layer.changed.disconnect(self._layer_changed)
        self.changed.emit()

    def clear(self) -> None:
        for layer in self._layers:
            layer.changed.disconnect(self._layer_changed)
        self._layers.clear()
        self.changed.emit()

    def move(self, layer: Layer, new_index: int) -> None:
        """Move a removable layer to ``new_index`` (clamped above the fixed layers)."""
        if not layer.removable:
            raise ValueError(f"layer {layer.name!r} cannot be moved")
        floor = sum(1 for other in self._layers if not other.removable)
        self._layers.remove(layer)
        self._layers.insert(min(max(new_index, floor), len(self._layers)), layer)
        self.changed.emit()

    def overlays(self) -> list[Layer]:
        """Visible layers above the image, bottom first."""
        return [layer for layer in self._layers if layer.removable and layer.visible]

    def _layer_changed(self, _layer: Layer) -> None:
        self.changed.emit()
