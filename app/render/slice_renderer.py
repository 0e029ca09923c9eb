"""Render one 2D view: reslice the Volume on the view plane, window it into RGB32 pixels, blend the overlays.
Colour (RGB) volumes are shown as stored: no window / level, no inversion.

The frame buffer is kept between renders and the reslice is cached per plane, so repainting a view whose
plane did not change (window drag, another view's crosshair move) only re-windows and re-blends.
"""

from __future__ import annotations

from app.render.frame import OPAQUE, Frame
from app.render.layer_adapters import HeatmapAdapter, LabelAdapter, adapter_for
from app.render.reslice import PlaneReslice
from app.render.vtk_image import VtkImage
from app.render.windowing import window_into
from app.viewer_model.layers import Layer
from app.viewer_model.plane import SlicePlane
from engine.volume import Volume
from engine.window_level import Window


class SliceRenderer:
    """Per-view renderer; every view shares the Volume's one VtkImage (no per-view copies)."""

    def __init__(self, image: VtkImage, volume: Volume) -> None:
        self.volume = volume
        background = -1024.0 if volume.modality.upper() == "CT" else 0.0  # outside the volume: air / black
        self._reslice = PlaneReslice(image, interpolation="linear", background=background)
        self._adapters: dict[int, LabelAdapter | HeatmapAdapter] = {}
        self.frame = Frame()

    def render(self, plane: SlicePlane, window: Window, invert: bool, overlays: list[Layer]) -> Frame:
        """The plane's pixels in ``self.frame`` (reused: copy what must outlive the next render)."""
        self.frame.resize(plane.width, plane.height)
        values = self._reslice.sample(plane)
        if self.volume.is_colour:
            self.frame.rgb[...] = values[..., :3]
            self.frame.pixels |= OPAQUE
        else:
            window_into(values, window, invert, self.frame.pixels)
        for layer in overlays:
            adapter = self._adapter(layer)
            if adapter is not None:
                adapter.blend(self.frame.pixels, plane)
        return self.frame

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
