"""Render one 2D view: reslice the Volume on the view plane, window it into RGB32 pixels, blend the overlays.
Colour (RGB) volumes are shown as stored: no window / level, no inversion.

The frame buffer is kept between renders and the reslice is cached per plane, so repainting a view whose
plane did not change (window drag, another view's crosshair move) only re-windows and re-blends.

A thick slab (MIP / MinIP / average) on a plane along an array axis is a numpy reduction of the slab's slices
(cached while the slab stays), resampled on the screen through a second reslice of that one projected slice;
an oblique plane's slab is a stack of single resliced planes reduced in numpy (``ObliqueSlab``), of which a
scroll step reslices only the planes that entered the slab. Measured on a 512x512x400 CT, 20 mm slab, 512x512
view: numpy + resample about 2 ms, VTK slab mode about 28 ms; see BENCH mip_scroll for the oblique figures.
"""

from __future__ import annotations

import numpy as np

from app.render.frame import OPAQUE, Frame
from app.render.layer_adapters import HeatmapAdapter, LabelAdapter, adapter_for
from app.render.reslice import ObliqueSlab, PlaneReslice
from app.render.vtk_image import VtkImage
from app.render.windowing import window_into
from app.viewer_model.layers import Layer
from app.viewer_model.plane import SlicePlane
from app.viewer_model.slab import Slab, aligned_axis, normal_step_mm, project_slab, slab_range, slab_slice_count
from engine.geometry import Geometry
from engine.volume import Volume
from engine.window_level import Window


class SliceRenderer:
    """Per-view renderer; every view shares the Volume's one VtkImage (no per-view copies)."""

    # False: every oblique slab is VTK's slab mode, all of it resampled per render (the reference; benchmarks)
    incremental_oblique_slab = True

    def __init__(self, image: VtkImage, volume: Volume) -> None:
        self.volume = volume
        self._background = -1024.0 if volume.modality.upper() == "CT" else 0.0  # outside the volume: air / black
        self._reslice = PlaneReslice(image, interpolation="linear", background=self._background)
        self._image = image
        self._slab_key: tuple | None = None
        self._slab_reslice: PlaneReslice | None = None
        self._oblique = ObliqueSlab(image, interpolation="linear", background=self._background)
        self._adapters: dict[int, LabelAdapter | HeatmapAdapter] = {}
        self.frame = Frame()

    def render(self, plane: SlicePlane, window: Window, invert: bool, overlays: list[Layer],
               slab: Slab | None = None) -> Frame:
        """The plane's pixels in ``self.frame`` (reused: copy what must outlive the next render), projected
        over ``slab`` when one is on (grey images only: colour images show the plain slice)."""
        self.frame.resize(plane.width, plane.height)
        values = self.sample(plane, slab)
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

    def sample(self, plane: SlicePlane, slab: Slab | None = None) -> np.ndarray:
        """The image values on ``plane``: the slice, or its slab projection."""
        geometry = self.volume.geometry
        if slab is None or not slab.active or self.volume.is_colour or geometry.is_projection:
            return self._reslice.sample(plane)
        step = normal_step_mm(geometry, plane.axes.normal)
        slices = slab_slice_count(slab.thickness_mm, step)
        if slices == 1:
            return self._reslice.sample(plane)
        axis = aligned_axis(geometry, plane.axes.normal)
        if axis is None:
            if self.incremental_oblique_slab:
                return self._oblique.sample(plane, (slab.mode, slices, step))
            return self._reslice.sample(plane, slab=(slab.mode, slices, step))
        index = float(geometry.patient_to_voxel(plane.origin)[axis])
        count = geometry.shape[axis]
        centre = int(np.rint(index))
        if not 0 <= centre < count:
            return self._reslice.sample(plane)
        start, stop = slab_range(centre, count, slices)
        key = (axis, start, stop, round(index, 6), slab.mode, self._image.index_data.GetMTime())
        if key != self._slab_key:
            projection = project_slab(self.volume.array, axis, start, stop, slab.mode)
            position = np.zeros(3)
            position[axis] = index  # the projected slice lies in the plane, so the reslice samples it exactly
            origin = geometry.voxel_to_patient(position)
            flat = Geometry(projection.shape, geometry.spacing, tuple(origin), geometry.direction)
            self._slab_reslice = PlaneReslice(VtkImage(projection, flat), "linear", self._background)
            self._slab_key = key
        return self._slab_reslice.sample(plane)

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
