"""3D volume rendering of the shared VtkImage, offscreen, read back as RGB for a Qt widget.

vtkSmartVolumeMapper uses the GPU ray caster where OpenGL allows it (Mesa llvmpipe under Xvfb works)
and falls back to the CPU ray caster otherwise. Label-map layers are drawn as surfaces (label_surfaces).
A clipping box (six planes in patient space) cuts both.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (OpenGL factory overrides)
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkCommonCore import vtkDoubleArray, vtkPoints
from vtkmodules.vtkCommonDataModel import vtkPiecewiseFunction, vtkPlanes
from vtkmodules.vtkFiltersSources import vtkOutlineSource
from vtkmodules.vtkRenderingCore import (
    vtkActor,
    vtkColorTransferFunction,
    vtkPolyDataMapper,
    vtkRenderer,
    vtkRenderWindow,
    vtkVolume,
    vtkVolumeProperty,
    vtkWindowToImageFilter,
)
from vtkmodules.vtkRenderingVolumeOpenGL2 import vtkSmartVolumeMapper

from app.render.label_surfaces import LabelSurfaces
from app.render.offscreen import choose_offscreen_window
from app.render.vtk_image import VtkImage
from app.viewer_model.layers import Layer
from app.viewer_model.volume_view_state import VolumeViewState
from engine.window_level import percentile_window


class VolumeRenderer:
    """Renders ``image`` with the state's preset and clipping box, and the label layers given to
    ``set_layers`` as surfaces; the camera starts facing the patient. ``on_label_edit`` is called when a
    label layer's voxels change (its surfaces are rebuilt at the next render)."""

    def __init__(self, image: VtkImage, state: VolumeViewState,
                 on_label_edit: Callable[[], None] = lambda: None) -> None:
        self.image, self.state = image, state
        self._range = percentile_window(image.array)
        choose_offscreen_window()
        self.window = vtkRenderWindow()
        self.window.SetOffScreenRendering(1)
        self.window.SetMultiSamples(0)
        self.renderer = vtkRenderer()
        self.renderer.SetBackground(0.0, 0.0, 0.0)
        self.window.AddRenderer(self.renderer)
        self.mapper = vtkSmartVolumeMapper()
        self.mapper.SetInputData(image.data)
        self.property = vtkVolumeProperty()
        self.property.SetInterpolationTypeToLinear()
        self.volume = vtkVolume()
        self.volume.SetMapper(self.mapper)
        self.volume.SetProperty(self.property)
        self.renderer.AddVolume(self.volume)
        self._bounds = np.array(image.data.GetBounds()).reshape(3, 2)
        self._outline = vtkOutlineSource()
        outline_mapper = vtkPolyDataMapper()
        outline_mapper.SetInputConnection(self._outline.GetOutputPort())
        self._outline_actor = vtkActor()
        self._outline_actor.SetMapper(outline_mapper)
        self._outline_actor.GetProperty().SetColor(1.0, 0.7, 0.2)
        self.renderer.AddActor(self._outline_actor)
        self.labels = LabelSurfaces(self.renderer, on_label_edit)
        self._grab = vtkWindowToImageFilter()
        self._grab.SetInput(self.window)
        self._grab.SetInputBufferTypeToRGB()
        self._grab.ReadFrontBufferOff()
        self.apply_state()
        self.reset_camera()

    def apply_state(self) -> None:
        """Apply the preset's transfer functions and the clipping box."""
        preset = self.state.preset
        scale = (lambda v: self._range.low + v * self._range.width) if preset.get("relative") else float
        opacity = vtkPiecewiseFunction()
        for value, alpha in preset["opacity"]:
            opacity.AddPoint(scale(value), alpha)
        color = vtkColorTransferFunction()
        for value, r, g, b in preset["color"]:
            color.AddRGBPoint(scale(value), r, g, b)
        self.property.SetScalarOpacity(opacity)
        self.property.SetColor(color)
        if preset.get("shade"):
            self.property.ShadeOn()
        else:
            self.property.ShadeOff()
        box = self.clip_bounds()
        planes = vtkPlanes()
        points, normals = vtkPoints(), []
        for axis in range(3):
            for side, sign in ((0, 1.0), (1, -1.0)):
                point = box.mean(axis=1)
                point[axis] = box[axis, side]
                points.InsertNextPoint(*point)
                normal = np.zeros(3)
                normal[axis] = sign
                normals.append(normal)
        normal_array = vtkDoubleArray()
        normal_array.SetNumberOfComponents(3)
        for normal in normals:
            normal_array.InsertNextTuple3(*normal)
        planes.SetPoints(points)
        planes.SetNormals(normal_array)
        self.mapper.SetClippingPlanes(planes)
        self.labels.set_clipping(planes)
        self._outline.SetBounds(*box.ravel())
        clipped = not np.allclose(self.state.clip, [[0, 1]] * 3)
        self._outline_actor.SetVisibility(clipped)

    def set_layers(self, layers: list[Layer]) -> None:
        """The viewer's layer list: its label layers get surfaces, removed ones lose theirs."""
        self.labels.sync(layers)

    def clip_bounds(self) -> np.ndarray:
        """The clipping box in patient mm: rows x, y, z; columns min, max."""
        low, span = self._bounds[:, 0], self._bounds[:, 1] - self._bounds[:, 0]
        return np.stack([low + self.state.clip[:, 0] * span, low + self.state.clip[:, 1] * span], axis=1)

    def reset_camera(self) -> None:
        """Look at the patient from the front (anterior), head up — like the coronal view."""
        camera = self.renderer.GetActiveCamera()
        center = self._bounds.mean(axis=1)
        camera.SetFocalPoint(*center)
        camera.SetPosition(center[0], center[1] - 1000.0, center[2])
        camera.SetViewUp(0.0, 0.0, 1.0)
        self.renderer.ResetCamera()

    def rotate(self, dx: float, dy: float) -> None:
        camera = self.renderer.GetActiveCamera()
        camera.Azimuth(-dx * 0.5)
        camera.Elevation(dy * 0.5)
        camera.OrthogonalizeViewUp()

    def zoom(self, factor: float) -> None:
        self.renderer.GetActiveCamera().Zoom(factor)

    def render(self, width: int, height: int) -> np.ndarray:
        """(height, width, 3) uint8 RGB, top row first."""
        self.window.SetSize(max(width, 2), max(height, 2))
        self.labels.update()
        self.renderer.ResetCameraClippingRange()
        self.window.Render()
        self._grab.Modified()
        self._grab.Update()
        output = self._grab.GetOutput()
        w, h, _ = output.GetDimensions()
        pixels = vtk_to_numpy(output.GetPointData().GetScalars()).reshape(h, w, -1)[::-1, :, :3]
        return np.ascontiguousarray(pixels)

    def mapper_in_use(self) -> str:
        """'gpu' or 'cpu': which ray caster the smart mapper chose at the last render."""
        return "gpu" if self.mapper.GetLastUsedRenderMode() == vtkSmartVolumeMapper.GPURenderMode else "cpu"
