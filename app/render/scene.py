"""The render-side mirror of a ViewerModel: one VtkImage of the Volume, one SliceRenderer per 2D view."""

from __future__ import annotations

from app.render.slice_renderer import SliceRenderer
from app.render.vtk_image import VtkImage
from app.viewer_model.model import ViewerModel


class Scene:
    """Rebuilds on a new volume, marks the VTK image modified as slices arrive, drops removed layers."""

    def __init__(self, model: ViewerModel) -> None:
        self.model = model
        self.image: VtkImage | None = None
        self._renderers: dict[str, SliceRenderer] = {}
        model.volume_changed.connect(self._rebuild)
        model.pixels_changed.connect(self._pixels_changed)
        model.layers.changed.connect(self._layers_changed)
        if model.volume is not None:
            self._rebuild()

    def renderer(self, view: str) -> SliceRenderer:
        if view not in self._renderers:
            self._renderers[view] = SliceRenderer(self.image, self.model.volume)
        return self._renderers[view]

    def _rebuild(self) -> None:
        volume = self.model.volume
        if self.image is None or self.image.array is not volume.array:
            self.image = VtkImage(volume.array, volume.geometry)
        self._renderers.clear()

    def _pixels_changed(self) -> None:
        if self.image is not None:
            self.image.modified()

    def _layers_changed(self) -> None:
        layers = list(self.model.layers)
        for renderer in self._renderers.values():
            renderer.forget(layers)
