"""Label-map layers in the 3D view: surfaces in patient space, in the layer's colours, following the layer's
visibility, colour, opacity, edits and removal (checked through rendered pixels)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from vtkmodules.vtkCommonDataModel import vtkPolyData

from app.render.label_surfaces import label_surface
from app.viewer_model.layers import LabelLayer
from engine.volume import Label, LabelMap, Volume
from tests.app.conftest import cube_volume, save_artifact

GREEN, BLUE, MAGENTA = (0, 255, 0), (40, 80, 255), (255, 0, 255)
# The green ball: patient right and superior, clear of the soft-tissue ball (transparent in the bone preset).
GREEN_LPS, GREEN_RADIUS = np.array([-40.0, 0.0, 40.0]), 12.0
# The blue ball: patient left and inferior.
BLUE_LPS = np.array([40.0, 0.0, -40.0])


def patient_grid(volume: Volume) -> np.ndarray:
    zyx = np.stack(np.meshgrid(*[np.arange(n) for n in volume.array.shape], indexing="ij"), axis=-1)
    return volume.voxel_to_patient(zyx)


def two_balls(volume: Volume) -> LabelMap:
    """Label 1 (green) around GREEN_LPS and label 2 (blue) around BLUE_LPS on the volume's grid."""
    lps = patient_grid(volume)
    array = np.zeros(volume.array.shape, np.uint8)
    array[np.linalg.norm(lps - GREEN_LPS, axis=-1) < GREEN_RADIUS] = 1
    array[np.linalg.norm(lps - BLUE_LPS, axis=-1) < GREEN_RADIUS] = 2
    return LabelMap(array, volume.geometry, [Label(1, "green ball", GREEN), Label(2, "blue ball", BLUE)])


def colour_mask(rgb: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """Pixels of ``colour``'s hue, however shaded: its bright channels lit, the others well below them."""
    rgb = rgb.astype(int)
    on = np.array(colour) > 128
    lit = rgb[..., on].min(axis=-1)
    return (lit > 60) & (rgb[..., ~on].max(axis=-1) < 0.45 * lit)


def centroid(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    return float(xs.mean()) / mask.shape[1], float(ys.mean()) / mask.shape[0]


@pytest.mark.parametrize("direction", [np.eye(3), np.diag([-1.0, -1.0, 1.0]), np.diag([1.0, 1.0, -1.0])],
                         ids=["lps", "ras_stored", "feet_first"])
def test_surface_is_in_patient_millimetres_whatever_the_storage_order(direction) -> None:
    volume = cube_volume(direction)
    labels = two_balls(volume)
    box = ndimage.find_objects(labels.array)[0]  # label 1's
    surface: vtkPolyData = label_surface(labels.array, box, 1, labels.geometry.affine)
    assert surface.GetNumberOfPoints() > 100 and surface.GetPointData().GetNormals() is not None
    bounds = np.array(surface.GetBounds()).reshape(3, 2)
    assert bounds.mean(axis=1) == pytest.approx(GREEN_LPS, abs=1.0)
    assert bounds[:, 1] - bounds[:, 0] == pytest.approx([2 * GREEN_RADIUS] * 3, abs=3.0)


def test_label_layers_render_as_surfaces_and_follow_the_layer(window, qtbot) -> None:
    model = window.model
    window.show_volume(cube_volume(np.diag([-1.0, -1.0, 1.0])))  # stored RAS-like: direction must be used
    window.registry.run("layout.2x2")
    canvas = window.grid.view("3d").canvas
    canvas.setFixedSize(320, 240)  # small: every render below ray-casts the volume on the CPU (llvmpipe)

    def shown() -> np.ndarray:
        canvas.repaint()
        return canvas.last_rgb

    assert not colour_mask(shown(), GREEN).any()
    layer = model.add_layer(LabelLayer(two_balls(model.volume), "balls", opacity=1.0))
    rgb = shown()
    green, blue = colour_mask(rgb, GREEN), colour_mask(rgb, BLUE)
    assert green.sum() > 200 and blue.sum() > 200
    green_x, green_y = centroid(green)
    blue_x, blue_y = centroid(blue)
    assert green_x < 0.5 < blue_x  # seen from the front: the patient's right is on screen left
    assert green_y < 0.5 < blue_y  # superior is up
    save_artifact(window, "labels_3d_2x2.png")

    layer.set_label_visible(1, False)
    rgb = shown()
    assert not colour_mask(rgb, GREEN).any() and colour_mask(rgb, BLUE).sum() > 200
    layer.set_label_visible(1, True)
    layer.set_label_color(1, MAGENTA)
    rgb = shown()
    assert colour_mask(rgb, MAGENTA).sum() > 200 and not colour_mask(rgb, GREEN).any()
    region = colour_mask(rgb, MAGENTA)
    opaque_red = rgb[region][:, 0].mean()
    layer.opacity = 0.4
    assert shown()[region][:, 0].mean() < 0.75 * opaque_red  # front and back face: 1 - 0.6 ** 2 = 0.64
    layer.opacity = 1.0
    layer.visible = False
    rgb = shown()
    assert not colour_mask(rgb, MAGENTA).any() and not colour_mask(rgb, BLUE).any()
    layer.visible = True

    window.volume_state.set_clip(0, 0.6, 1.0)  # keep the patient's left only: the right-hand ball is cut away
    rgb = shown()
    assert not colour_mask(rgb, MAGENTA).any() and colour_mask(rgb, BLUE).sum() > 200
    window.volume_state.reset_clip()

    surfaces = canvas.renderer.labels.layers[id(layer)]
    green_actor = surfaces.actors[1]
    lps = patient_grid(model.volume)
    ball = np.linalg.norm(lps - BLUE_LPS, axis=-1) < GREEN_RADIUS
    box = ndimage.find_objects(ball.astype(np.uint8))[0]
    layer.label_map.array[ball] = 0  # erase the blue ball in place and report the box, as the editor does
    layer.notify_voxels_changed(tuple(s.start for s in box), tuple(s.stop - s.start for s in box))
    qtbot.waitUntil(lambda: not colour_mask(canvas.last_rgb, BLUE).any(), timeout=5000)  # repainted by itself
    assert colour_mask(canvas.last_rgb, MAGENTA).sum() > 200  # the label not edited is still drawn ...
    assert surfaces.actors == {1: green_actor}  # ... and was not rebuilt; the erased one is gone

    renderer = canvas.renderer
    model.layers.remove(layer)
    assert renderer.labels.layers == {}
    assert not colour_mask(shown(), MAGENTA).any()
    assert renderer.renderer.GetActors().GetNumberOfItems() == 1  # only the clipping-box outline is left
