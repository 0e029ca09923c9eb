"""Label-map layers as surfaces in the 3D view: one actor per label, in patient LPS millimetres.

Each label is contoured on its own bounding box (found for all labels in one pass), padded with background
so surfaces at the image edge close, by discrete flying edges, then lightly smoothed (windowed sinc) and
mapped through the label map's own affine (so any direction matrix lands right). After an edit only the
labels inside the edited box are rebuilt; colour, per-label visibility and the layer's opacity are actor
properties, so changing them rebuilds nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from vtkmodules.util.numpy_support import numpy_to_vtk
from vtkmodules.vtkCommonDataModel import vtkImageData, vtkPlanes, vtkPolyData
from vtkmodules.vtkCommonTransforms import vtkTransform
from vtkmodules.vtkFiltersCore import vtkPolyDataNormals, vtkWindowedSincPolyDataFilter
from vtkmodules.vtkFiltersGeneral import vtkDiscreteFlyingEdges3D, vtkTransformFilter
from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper, vtkRenderer

from app.viewer_model.layers import LabelLayer, Layer

SMOOTHING_ITERATIONS = 15
PASS_BAND = 0.1  # windowed sinc: lower is smoother; 0.1 takes the voxel steps off without shrinking much


def label_surface(array: np.ndarray, box: tuple[slice, ...], value: int,
                  patient_from_index: np.ndarray) -> vtkPolyData:
    """The smoothed LPS surface of ``array == value`` inside the array-order ``box`` (with normals)."""
    start = np.array([s.start for s in box]) - 1
    cropped = np.pad(array[box] == value, 1).astype(np.uint8)  # background all round: closed surfaces
    image = vtkImageData()
    x0, y0, z0 = start[::-1]
    nz, ny, nx = cropped.shape
    image.SetExtent(x0, x0 + nx - 1, y0, y0 + ny - 1, z0, z0 + nz - 1)
    image.GetPointData().SetScalars(numpy_to_vtk(cropped.reshape(-1), deep=1))
    contour = vtkDiscreteFlyingEdges3D()
    contour.SetInputData(image)
    contour.SetValue(0, 1)
    contour.ComputeScalarsOff()
    contour.ComputeNormalsOff()
    contour.ComputeGradientsOff()
    smooth = vtkWindowedSincPolyDataFilter()
    smooth.SetInputConnection(contour.GetOutputPort())
    smooth.SetNumberOfIterations(SMOOTHING_ITERATIONS)
    smooth.SetPassBand(PASS_BAND)
    smooth.NormalizeCoordinatesOn()
    smooth.NonManifoldSmoothingOn()
    transform = vtkTransform()
    transform.SetMatrix(np.asarray(patient_from_index, float).ravel())
    to_patient = vtkTransformFilter()
    to_patient.SetInputConnection(smooth.GetOutputPort())
    to_patient.SetTransform(transform)
    normals = vtkPolyDataNormals()
    normals.SetInputConnection(to_patient.GetOutputPort())
    normals.SplittingOff()
    normals.Update()
    return normals.GetOutput()


class LayerSurfaces:
    """The actors of one label layer; surfaces are (re)built lazily, after the voxels changed."""

    def __init__(self, layer: LabelLayer, renderer: vtkRenderer, on_edit: Callable[[], None]) -> None:
        self.layer, self._renderer, self._on_edit = layer, renderer, on_edit
        self.actors: dict[int, vtkActor] = {}
        self._boxes: dict[int, tuple[slice, ...]] = {}
        self._edits: list[tuple[slice, ...]] | None = None  # edited boxes since the last build; None: all
        self._clipping: vtkPlanes | None = None
        layer.voxels_changed.connect(self._voxels_changed)

    def _voxels_changed(self, start: tuple[int, ...], shape: tuple[int, ...]) -> None:
        if self._edits is not None:
            self._edits.append(tuple(slice(a, a + n) for a, n in zip(start, shape, strict=True)))
        self._on_edit()

    def update(self) -> None:
        """Follow the layer: rebuild stale surfaces (only while shown), then colours, visibility, opacity."""
        layer = self.layer
        if layer.visible and (self._edits is None or self._edits):
            self._rebuild()
        for value, actor in self.actors.items():
            shown = layer.visible and value in layer.colors and value not in layer.hidden_labels
            actor.SetVisibility(shown)
            if shown:
                prop = actor.GetProperty()
                prop.SetColor(*(np.asarray(layer.colors[value], float) / 255.0))
                prop.SetOpacity(layer.opacity)

    def set_clipping(self, planes: vtkPlanes) -> None:
        """Cut the surfaces with the 3D view's clipping box."""
        self._clipping = planes
        for actor in self.actors.values():
            actor.GetMapper().SetClippingPlanes(planes)

    def close(self) -> None:
        """Take the actors out of the renderer and stop listening to the layer."""
        self.layer.voxels_changed.disconnect(self._voxels_changed)
        for value in list(self.actors):
            self._renderer.RemoveActor(self.actors.pop(value))

    def _rebuild(self) -> None:
        """Surfaces of the labels an edit touched (each label whose old or new box meets an edited box)."""
        from scipy import ndimage  # loaded when a label map is first drawn in 3D, not at start-up

        label_map = self.layer.label_map
        boxes = {index + 1: box for index, box in enumerate(ndimage.find_objects(label_map.array)) if box}
        if self._edits is None:
            touched = set(boxes)
        else:
            touched = {value for known in (self._boxes, boxes) for value, box in known.items()
                       if any(_overlap(box, edit) for edit in self._edits)}
        for value in touched:
            if value in self.actors:
                self._renderer.RemoveActor(self.actors.pop(value))
            if value in boxes:
                surface = label_surface(label_map.array, boxes[value], value, label_map.geometry.affine)
                self.actors[value] = self._actor(surface)
        self._boxes, self._edits = boxes, []

    def _actor(self, surface: vtkPolyData) -> vtkActor:
        mapper = vtkPolyDataMapper()
        mapper.SetInputData(surface)
        mapper.ScalarVisibilityOff()
        if self._clipping is not None:
            mapper.SetClippingPlanes(self._clipping)
        actor = vtkActor()
        actor.SetMapper(mapper)
        actor.GetProperty().SetAmbient(0.2)  # the shaded side keeps its colour
        actor.GetProperty().SetDiffuse(0.8)
        self._renderer.AddActor(actor)
        return actor


def _overlap(a: tuple[slice, ...], b: tuple[slice, ...]) -> bool:
    return all(x.start < y.stop and y.start < x.stop for x, y in zip(a, b, strict=True))


class LabelSurfaces:
    """The surfaces of every label layer in the list, kept in step with it (layers added and removed)."""

    def __init__(self, renderer: vtkRenderer, on_edit: Callable[[], None] = lambda: None) -> None:
        self._renderer, self._on_edit = renderer, on_edit
        self.layers: dict[int, LayerSurfaces] = {}
        self._clipping: vtkPlanes | None = None

    def sync(self, layers: list[Layer]) -> None:
        """Add surfaces for new label layers and remove those of layers no longer listed."""
        wanted = {id(layer): layer for layer in layers if isinstance(layer, LabelLayer)}
        for key in [key for key in self.layers if key not in wanted]:
            self.layers.pop(key).close()
        for key, layer in wanted.items():
            if key not in self.layers:
                self.layers[key] = LayerSurfaces(layer, self._renderer, self._on_edit)
                if self._clipping is not None:
                    self.layers[key].set_clipping(self._clipping)

    def update(self) -> None:
        """Bring every layer's actors up to date (before a render)."""
        for surfaces in self.layers.values():
            surfaces.update()

    def set_clipping(self, planes: vtkPlanes) -> None:
        self._clipping = planes
        for surfaces in self.layers.values():
            surfaces.set_clipping(planes)
