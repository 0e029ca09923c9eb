"""ViewerModel: the state every view renders — volume and layers, crosshair, window/level, cameras, layout."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.viewer_model.camera import Camera
from app.viewer_model.events import Event
from app.viewer_model.layer_list import LayerList
from app.viewer_model.layers import ImageLayer, Layer
from app.viewer_model.measurements import MeasurementStore
from app.viewer_model.oblique import ObliqueFrame, native_view
from app.viewer_model.orientation import (
    AXIAL,
    CORONAL,
    PROJECTION,
    SAGITTAL,
    ViewAxes,
    slice_axis,
)
from app.viewer_model.plane import SlicePlane
from app.viewer_model.slab import SlabSettings
from app.viewer_model.window_presets import preset_window, presets_for
from engine.volume import Volume
from engine.window_level import Window, default_window, percentile_window

VOLUME_3D = "3d"
LAYOUTS = {"1x1": (AXIAL,), "1x3": (AXIAL, CORONAL, SAGITTAL), "2x2": (AXIAL, CORONAL, SAGITTAL, VOLUME_3D)}
VIEW_NAMES = (AXIAL, CORONAL, SAGITTAL, PROJECTION, VOLUME_3D)
LEFT_BUTTON_TOOLS = ("window_level", "ruler", "angle", "cobb", "ellipse", "rectangle", "probe", "arrow")


class ViewerModel:
    """One Volume with its overlay layers, shown in several linked views."""

    def __init__(self, window_presets: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.window_presets = window_presets or {}
        self.volume: Volume | None = None
        self.layers = LayerList()
        self.measurements = MeasurementStore()
        self.window = Window(400, 40)
        self.active_preset: tuple[str, Window | None] = ("", None)  # the preset applied last and its window
        self.invert = False
        self.crosshair = np.zeros(3)
        self.cameras = {name: Camera() for name in VIEW_NAMES}
        self.oblique = ObliqueFrame()  # oblique MPR: the views' planes turn together (app/viewer_model/oblique.py)
        self.slabs = SlabSettings()  # thick-slab MIP / MinIP / average per view (app/viewer_model/slab.py)
        self.layout = "1x3"
        self.active_view = AXIAL
        self.maximized: str | None = None
        self.show_patient_text = True
        self.show_crosshair = True
        self.tool = "window_level"  # what the left button does (the mouse map's default, or a measurement)
        self.volume_changed = Event()
        self.crosshair_changed = Event()
        self.window_changed = Event()
        self.camera_changed = Event()  # (view name)
        self.layout_changed = Event()
        self.annotation_changed = Event()  # corner-text visibility and similar
        self.pixels_changed = Event()  # volume voxels were filled in (progressive loading)
        self.tool_changed = Event()
        self._drag_scale = 1.0
        self._start_crosshair = np.zeros(3)

    # --- volume and layers -------------------------------------------------------------------------
    def set_volume(self, volume: Volume, overlays: list[Layer] = ()) -> None:
        """Show ``volume`` (replacing the current one and its overlays)."""
        self.volume = volume
        self.layers.clear()
        self.layers.append(ImageLayer(volume, volume.meta.get("SeriesDescription", "") or "image"))
        for layer in overlays:
            self.layers.append(layer)
        loading = "first_slice" in volume.meta  # the array is still being filled: judge by the first slice
        sample = volume.meta["first_slice"] if loading else volume.array
        self._drag_scale = max(percentile_window(sample).width, 1.0) / 256
        self.window = default_window(sample, volume.meta)
        self.invert = False  # the loader already turned MONOCHROME1 into "higher is brighter"
        self.oblique.reset(volume.geometry)  # the acquisition's own frame: a tilted stack shows acquired slices
        self.crosshair = self._volume_center()
        if loading and not volume.geometry.is_projection:
            self.crosshair = volume.voxel_to_patient(volume.patient_to_voxel(self.crosshair) * (0, 1, 1))
        self._start_crosshair = self.crosshair.copy()
        for camera in self.cameras.values():
            camera.fitted = True
        if volume.geometry.is_projection:
            self.active_view = PROJECTION
        else:  # the native acquisition plane: a sagittal or coronal series opens in its own plane
            self.active_view = native_view(volume.geometry)
        self.measurements.switch_series(volume)  # the series' own (saved) measurements and key images
        self.volume_changed.emit()

    def add_layer(self, layer: Layer) -> Layer:
        return self.layers.append(layer)

    def finish_loading(self, volume: Volume) -> None:
        """The loader finished: keep the views where they are if it filled the array already shown."""
        if self.volume is None or volume.array is not self.volume.array:
            self.set_volume(volume)
            return
        self.volume.meta = volume.meta
        if np.allclose(self.crosshair, self._start_crosshair):  # untouched while loading: go to the centre
            self.crosshair = self._volume_center()
            self.crosshair_changed.emit()
        self._drag_scale = max(percentile_window(volume.array).width, 1.0) / 256
        self.window = default_window(volume.array, volume.meta)
        self.measurements.remeasure(self.volume)  # ROI statistics of saved measurements see every slice now
        self.pixels_changed.emit()
        self.window_changed.emit()

    def notify_pixels_changed(self) -> None:
        """The loader filled more slices of the current volume in place."""
        self.pixels_changed.emit()

    # --- views -------------------------------------------------------------------------------------
    def views_in_layout(self) -> tuple[str, ...]:
        """The views the current layout shows (projection images have one 2D view)."""
        if self.volume is not None and self.volume.geometry.is_projection:
            return (PROJECTION,)
        if self.layout == "1x1":
            return (self.active_view if self.active_view != PROJECTION else AXIAL,)
        return LAYOUTS[self.layout]

    def set_layout(self, layout: str) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
        self.layout = layout
        self.maximized = None
        self.layout_changed.emit()

    def toggle_maximize(self, view: str) -> None:
        self.maximized = None if self.maximized == view else view
        self.active_view = view
        self.layout_changed.emit()

    def axes(self, view: str) -> ViewAxes:
        return self.oblique.axes(view, self.volume.geometry)

    def rotate_view(self, view: str, angle: float) -> None:
        """Turn ``view``'s crosshair lines by ``angle`` radians (clockwise on screen): the other MPR views'
        planes turn about its normal through the crosshair (oblique MPR)."""
        if self.volume is not None and not self.volume.geometry.is_projection:
            self.oblique.rotate(view, angle, self.volume.geometry)

    def plane(self, view: str, width: int, height: int) -> SlicePlane:
        """The plane ``view`` shows at ``width`` x ``height`` pixels (fitting the camera if untouched)."""
        axes = self.axes(view)
        camera = self.cameras[view]
        if camera.fitted:
            camera.fit(self._corners(), axes, width, height)
        return camera.plane(axes, self.crosshair, width, height)

    def zoom(self, view: str, factor: float) -> None:
        self.cameras[view].zoom(factor)
        self.camera_changed.emit(view)

    def pan(self, view: str, dx: float, dy: float) -> None:
        self.cameras[view].pan(dx, dy, self.axes(view))
        self.camera_changed.emit(view)

    # --- slices and crosshair ----------------------------------------------------------------------
    def set_crosshair(self, point: np.ndarray) -> None:
        """Move the linked crosshair (every view shows the slice through it) to the voxel centre nearest
        ``point`` inside the volume: views then show acquired slices, never an interpolation of two (on a
        3 mm calcium-score CT that would blur calcium)."""
        geometry = self.volume.geometry
        index = geometry.patient_to_voxel(np.asarray(point, dtype=float))
        clamped = np.clip(np.rint(index), 0, np.asarray(geometry.shape) - 1)
        self.crosshair = geometry.voxel_to_patient(clamped)
        self.crosshair_changed.emit()

    def centre_on(self, point: np.ndarray) -> None:
        """Move the crosshair to ``point`` (its nearest voxel centre) and ``point`` to the centre of every
        view, keeping each view's zoom (a finding at the volume's edge would otherwise sit under the edge
        annotations)."""
        self.set_crosshair(point)
        for name in self.views_in_layout():
            camera = self.cameras[name]
            camera.center = np.asarray(point, dtype=float).copy()
            camera.fitted = False
            self.camera_changed.emit(name)

    def slice_index(self, view: str) -> tuple[int, int]:
        """Zero-based slice index of ``view`` and its number of slices."""
        if self.volume.geometry.is_projection or view == PROJECTION:
            return 0, 1
        axis = slice_axis(self.axes(view), self.volume.geometry)
        index = self.volume.patient_to_voxel(self.crosshair)[axis]
        count = self.volume.array.shape[axis]
        return int(np.clip(np.rint(index), 0, count - 1)), count

    def slice_position_mm(self, view: str) -> float:
        """Position of the view's slice along its normal, in mm (as DICOM Slice Location)."""
        return float(self.crosshair @ self.axes(view).normal)

    def set_slice(self, view: str, index: int) -> None:
        """Show slice ``index`` (clamped) in ``view``: the crosshair moves to that slice's centre plane."""
        if self.volume.geometry.is_projection or view == PROJECTION:
            return
        axis = slice_axis(self.axes(view), self.volume.geometry)
        voxel = self.volume.patient_to_voxel(self.crosshair)
        voxel[axis] = np.clip(index, 0, self.volume.array.shape[axis] - 1)
        self.crosshair = self.volume.voxel_to_patient(voxel)
        self.crosshair_changed.emit()

    def step_slice(self, view: str, steps: int) -> None:
        """Move ``steps`` slices (positive: towards the end of the stack)."""
        index, _ = self.slice_index(view)
        self.set_slice(view, index + steps)

    def first_slice(self, view: str) -> None:
        self.set_slice(view, 0)

    def last_slice(self, view: str) -> None:
        self.set_slice(view, self.slice_index(view)[1] - 1)

    # --- window / level ----------------------------------------------------------------------------
    def set_window(self, window: Window) -> None:
        self.window = window
        self.window_changed.emit()

    def drag_window(self, dx: float, dy: float, horizontal: str = "width", invert_x: bool = False,
                    invert_y: bool = False, sensitivity: float = 1.0) -> None:
        """Change the window for a mouse drag of (dx, dy) pixels, as the mouse map configures it."""
        scale = self._drag_scale * sensitivity
        sx, sy = (-1 if invert_x else 1) * dx * scale, (-1 if invert_y else 1) * dy * scale
        d_width, d_center = (sx, sy) if horizontal == "width" else (sy, sx)
        self.set_window(self.window.dragged(d_width, d_center))

    def presets(self) -> list[dict[str, Any]]:
        return presets_for(self.window_presets, self.volume.modality if self.volume else "")

    def apply_preset(self, number: int) -> bool:
        """Apply preset ``number`` (1-based, 1 = the header window); False when there is none."""
        presets = self.presets()
        if self.volume is None or not 1 <= number <= len(presets):
            return False
        window = preset_window(presets[number - 1], self.volume.array, self.volume.meta)
        self.active_preset = (str(presets[number - 1].get("name", "")), window)
        self.set_window(window)
        return True

    def preset_name(self) -> str:
        """The name of the window preset shown, '' once the window was dragged or reset away from it."""
        name, window = self.active_preset
        return name if window == self.window and self.volume is not None else ""

    def toggle_invert(self) -> None:
        self.invert = not self.invert
        self.window_changed.emit()

    def reset(self) -> None:
        """Space: default window, no inversion change, cameras refit, crosshair to the centre."""
        self.window = default_window(self.volume.array, self.volume.meta)
        for name, camera in self.cameras.items():
            camera.fitted = True
            self.camera_changed.emit(name)
        self.crosshair = self._volume_center()
        self.oblique.reset(self.volume.geometry)
        self.window_changed.emit()
        self.crosshair_changed.emit()

    def set_tool(self, tool: str) -> None:
        if tool not in LEFT_BUTTON_TOOLS:
            raise ValueError(f"unknown tool {tool!r}; expected one of {', '.join(LEFT_BUTTON_TOOLS)}")
        self.tool = tool
        self.tool_changed.emit()

    def toggle_patient_text(self) -> None:
        self.show_patient_text = not self.show_patient_text
        self.annotation_changed.emit()

    # --- helpers -----------------------------------------------------------------------------------
    def _corners(self) -> np.ndarray:
        geometry = self.volume.geometry
        extent = [(-0.5, n - 0.5) for n in geometry.shape]
        grid = np.array(np.meshgrid(*extent, indexing="ij")).reshape(len(extent), -1).T
        return geometry.voxel_to_patient(grid)

    def _volume_center(self) -> np.ndarray:
        """The voxel centre in the middle of the volume (slice n // 2: an acquired slice, also for even n)."""
        geometry = self.volume.geometry
        return geometry.voxel_to_patient((np.asarray(geometry.shape) // 2).astype(float))
