"""Colour (RGB) images in the 2D views: drawn in their own colours, no window / level, nothing grey."""

from __future__ import annotations

import numpy as np
import pytest

from app.render.reslice import PlaneReslice
from app.render.vtk_image import VtkImage
from app.viewer_model.corner_text import COLOUR_NO_WINDOW, corner_text
from app.widgets.volume_view import NO_3D_FOR_COLOUR
from engine.geometry import Geometry
from engine.volume import SourceIds, Volume
from tests.app.conftest import rendered, save_artifact

RED, GREEN = (255, 0, 0), (0, 200, 0)
# The red square: patient right / anterior (screen left / top in axial); a green one at patient left.
RED_LPS, GREEN_LPS = np.array([-20.0, -20.0, 0.0]), np.array([20.0, 0.0, 0.0])


def rgb_volume(direction: np.ndarray | None = None, slices: int = 8) -> Volume:
    """A (z, y, x, 3) uint8 colour volume, 1 mm voxels centred on the patient origin, dark blue background
    with a red 10 mm square column at RED_LPS and a green one at GREEN_LPS through every slice."""
    direction = np.eye(3) if direction is None else np.asarray(direction, float)
    shape = (slices, 64, 64)
    origin = -direction @ ((np.array(shape[::-1]) - 1) / 2)
    geometry = Geometry(shape, (1.0, 1.0, 1.0), tuple(origin), direction)
    zyx = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1)
    lps = geometry.voxel_to_patient(zyx)
    array = np.zeros((*shape, 3), np.uint8)
    array[...] = (0, 0, 60)
    for centre, colour in ((RED_LPS, RED), (GREEN_LPS, GREEN)):
        array[np.all(np.abs(lps[..., :2] - centre[:2]) <= 5, axis=-1)] = colour
    meta = {"patient": {"PatientName": "Colour^Test"}, "description": "synthetic RGB", "window": (40.0, 400.0)}
    return Volume(array, geometry, "US", SourceIds("1.2", "1.2.3", "1.2.4"), meta)


def colour_at(view, point: np.ndarray) -> np.ndarray:
    rgb = rendered(view)
    x, y = view.plane.patient_to_pixel(point)
    return rgb[round(y), round(x)].astype(int)


def test_colour_image_shares_memory_and_reslices_to_rgb() -> None:
    volume = rgb_volume()
    image = VtkImage(volume.array, volume.geometry)
    assert image.shares_memory() and image.samples == (3,)
    assert image.data.GetNumberOfScalarComponents() == 3 and image.data.GetDimensions() == (64, 64, 8)
    from app.viewer_model.model import ViewerModel

    model = ViewerModel()
    model.set_volume(volume)
    plane = model.plane("axial", 100, 80)
    values = PlaneReslice(image).sample(plane)
    assert values.shape == (80, 100, 3) and values.dtype == np.uint8


@pytest.mark.parametrize("direction", [np.eye(3), np.diag([-1.0, -1.0, 1.0])], ids=["lps", "ras_stored"])
def test_red_square_renders_red_where_it_lies(window, qtbot, direction) -> None:
    window.show_volume(rgb_volume(direction))
    axial = window.grid.view("axial")
    assert tuple(colour_at(axial, RED_LPS)) == pytest.approx(RED, abs=2)
    assert tuple(colour_at(axial, GREEN_LPS)) == pytest.approx(GREEN, abs=2)
    assert tuple(colour_at(axial, np.array([0.0, 20.0, 0.0]))) == pytest.approx((0, 0, 60), abs=2)
    x, y = axial.plane.patient_to_pixel(RED_LPS)
    assert x < axial.width() / 2 and y < axial.height() / 2  # patient right / anterior: screen left / top
    window.model.set_crosshair(RED_LPS)  # the coronal plane through the red column
    coronal = window.grid.view("coronal")
    assert tuple(colour_at(coronal, RED_LPS)) == pytest.approx(RED, abs=2)
    if direction[0, 0] < 0:
        save_artifact(window, "rgb_volume_1x3.png")


def test_window_level_and_invert_leave_colour_alone(window, qtbot) -> None:
    window.show_volume(rgb_volume())
    model, axial = window.model, window.grid.view("axial")
    before = rendered(axial).copy()
    model.drag_window(80, -40)
    model.toggle_invert()
    assert np.array_equal(rendered(axial), before)
    lines = corner_text(model, "axial", 1.0)["bottom_right"]
    assert lines[0] == COLOUR_NO_WINDOW and not any(line.startswith("W ") for line in lines)


def test_colour_layouts_do_not_crash_and_3d_says_why_it_is_empty(window, qtbot) -> None:
    window.show_volume(rgb_volume())
    window.registry.run("layout.2x2")
    canvas = window.grid.view("3d").canvas
    image = canvas.grab().toImage()
    assert canvas.renderer is None
    caption = [image.pixelColor(x, y).lightness() for x in range(150) for y in range(image.height() - 25,
                                                                                     image.height())]
    assert max(caption) > 200, f"the 3D view does not say '{NO_3D_FOR_COLOUR}'"
    for name in ("axial", "coronal", "sagittal"):
        rgb = rendered(window.grid.view(name)).astype(int)
        assert (rgb[..., 2] > rgb[..., 0] + 40).any(), f"{name} shows no blue background"
    save_artifact(window, "rgb_volume_2x2.png")


def test_single_frame_colour_image_in_the_projection_view(window, qtbot) -> None:
    volume = rgb_volume()
    frame = Volume(np.ascontiguousarray(volume.array[0]), Geometry((64, 64), (1.0, 1.0), volume.origin), "OT")
    window.show_volume(frame)
    assert window.grid.shown() == ["projection"]
    view = window.grid.view("projection")
    assert tuple(colour_at(view, RED_LPS)) == pytest.approx(RED, abs=2)


def test_roi_statistics_stay_off_colour_images_the_probe_reads_rgb_and_the_ruler_works(window, qtbot) -> None:
    from PySide6.QtCore import QPoint, Qt

    window.show_volume(rgb_volume())
    axial, model = window.grid.view("axial"), window.model
    rendered(axial)
    x, y = (round(v) for v in axial.plane.patient_to_pixel(RED_LPS))

    def drag(dx: int, dy: int) -> None:
        qtbot.mousePress(axial, Qt.LeftButton, pos=QPoint(x, y))
        qtbot.mouseMove(axial, QPoint(x + dx, y + dy))
        qtbot.mouseRelease(axial, Qt.LeftButton, pos=QPoint(x + dx, y + dy))

    for tool in ("ellipse", "rectangle"):
        model.set_tool(tool)
        drag(20, 20)
    assert model.measurements.current == []
    model.set_tool("probe")
    drag(0, 0)
    model.set_tool("ruler")
    drag(20, 0)
    probe, ruler = model.measurements.current
    assert probe.kind == "probe" and probe.values["value"] == (255.0, 0.0, 0.0)
    assert probe.summary().startswith("RGB(255, 0, 0)")
    assert ruler.kind == "ruler" and ruler.values["length_mm"] > 0


def test_engine_probe_reads_colour_samples_and_roi_statistics_refuse_colour() -> None:
    from engine.measurements import probe, roi_statistics

    volume = rgb_volume()
    value, index = probe(volume, RED_LPS)
    assert value == (255.0, 0.0, 0.0) and len(index) == 3
    assert probe(volume, np.array([500.0, 0.0, 0.0])) is None
    frame = Volume(np.ascontiguousarray(volume.array[0]), Geometry((64, 64), (1.0, 1.0), volume.origin), "OT")
    assert probe(frame, GREEN_LPS)[0] == (0.0, 200.0, 0.0)
    with pytest.raises(ValueError, match="greyscale"):
        roi_statistics(volume, RED_LPS, np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), 3.0, 3.0)


def write_rgb_capture(path, rgb: np.ndarray) -> None:
    """A single-frame RGB Secondary Capture (no patient geometry, as screen captures come)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality, ds.SeriesDescription = "Colour^Capture", "C1", "OT", "RGB capture"
    ds.Rows, ds.Columns = rgb.shape[:2]
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = np.ascontiguousarray(rgb).tobytes()
    ds.save_as(path, enforce_file_format=True)


def test_rgb_secondary_capture_opens_in_colour(window, qtbot, tmp_path) -> None:
    rgb = np.zeros((60, 80, 3), np.uint8)
    rgb[5:25, 5:25] = RED  # top left of the stored image
    rgb[35:55, 50:75] = GREEN
    (tmp_path / "sc").mkdir()
    write_rgb_capture(tmp_path / "sc" / "capture.dcm", rgb)
    with qtbot.waitSignal(window.settled, timeout=30000):
        window.open_path(tmp_path / "sc")
    volume = window.model.volume
    assert volume is not None and volume.is_colour, window.last_error
    view = window.grid.view("projection")
    assert tuple(colour_at(view, volume.voxel_to_patient(np.array([15.0, 15.0])))) == pytest.approx(RED, abs=2)
    assert tuple(colour_at(view, volume.voxel_to_patient(np.array([45.0, 62.0])))) == pytest.approx(GREEN, abs=2)
    x, y = view.plane.patient_to_pixel(volume.voxel_to_patient(np.array([15.0, 15.0])))
    assert x < view.width() / 2 and y < view.height() / 2  # shown as stored: first row on top, first column left

    from PySide6.QtCore import Qt

    window.thumbnails.wait(10.0)
    qtbot.waitUntil(lambda: window.browser.tree.currentItem() is not None
                    and window.browser.tree.currentItem().data(0, Qt.DecorationRole) is not None, timeout=10000)
    thumbnail = window.browser.tree.currentItem().data(0, Qt.DecorationRole).toImage()
    assert (thumbnail.width(), thumbnail.height()) == (40, 30)  # every second pixel: at most 64 px wide
    red = thumbnail.pixelColor(7, 7)
    assert (red.red(), red.green(), red.blue()) == RED  # the series' own colours in the study browser
