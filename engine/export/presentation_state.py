"""The reader's measurements as a DICOM Grayscale Softcopy Presentation State (highdicom), and back.

Each measurement that lies on one acquired image becomes a graphic annotation on that image, in its pixel
coordinates: ruler, angle and rectangle as POLYLINE, Cobb angle as two POLYLINEs, ellipse as ELLIPSE (major
axis ends, then minor axis ends), probe as POINT, arrow as a POLYLINE from its tip to its end plus its text
anchored at the tip. Every value is a text object beside it. All graphics of one measurement share a Tracking
ID ("<kind> <number>"), which is how ``read_measurements`` puts them back together. The current window is
the presentation state's VOI LUT. A measurement drawn on a reformatted plane (across slices) is not on any
one image: it is listed as skipped, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from engine.ai.dicom_common import MANUFACTURER, SOFTWARE_VERSION, ExportError, slice_order
from engine.export.image_plane import image_pixels, image_to_patient, slice_of
from engine.geometry import Geometry
from engine.measurements import POINT_COUNT, ROI_SHAPES, Measurement
from engine.window_level import Window

LAYER = "MEASUREMENTS"
PIXEL = hd.pr.AnnotationUnitsValues.PIXEL


@dataclass
class Export:
    """A built document and the measurements it could not hold, each with the reason."""

    dataset: Dataset
    skipped: list[str] = field(default_factory=list)


def measurement_label(measurement: Measurement, number: int) -> str:
    """The Tracking ID / identifier of a measurement in an export: its kind and number."""
    return f"{measurement.kind} {number}"


def graphic_points(measurement: Measurement) -> list[list[np.ndarray]]:
    """The patient-space polylines / point sets a measurement is drawn with, as exported."""
    p = measurement.points
    kind = measurement.kind
    if kind == "cobb":
        return [[p[0], p[1]], [p[2], p[3]]]
    if kind == "rectangle":
        a, b = p
        right, down = measurement.roi_axes()
        du, dv = float((b - a) @ right), float((b - a) @ down)
        corners = [a, a + du * right, b, a + dv * down]
        return [[*corners, corners[0]]]
    if kind == "ellipse":
        center, half_u, half_v = measurement.roi_box()
        right, down = measurement.roi_axes()
        ends_u = [center - half_u * right, center + half_u * right]
        ends_v = [center - half_v * down, center + half_v * down]
        return [ends_u + ends_v if half_u >= half_v else ends_v + ends_u]
    return [list(p)]


def build_gsps(
    measurements: Sequence[Measurement],
    sources: Sequence[Dataset],
    geometry: Geometry,
    window: Window,
    series_number: int = 910,
    content_label: str = "MEASUREMENTS",
) -> Export:
    """A GSPS over every image of ``sources`` (the series ``geometry`` describes) with the measurements that
    lie on one of them, and ``window`` as its VOI LUT."""
    ordered = slice_order(sources, geometry)
    layer = hd.pr.GraphicLayer(layer_name=LAYER, order=1, description="Reader measurements")
    annotations, skipped = [], []
    for number, measurement in enumerate(measurements, start=1):
        label = measurement_label(measurement, number)
        placed = image_pixels(measurement.points, geometry)
        if placed is None:
            skipped.append(f"{label} ({measurement.view}): it does not lie on one acquired image")
            continue
        z = placed[0]
        image = ordered[z]
        size = (float(image.Columns), float(image.Rows))
        if not all(_inside(located[1], size) for located in _located(measurement, geometry)):
            skipped.append(f"{label} ({measurement.view}): it reaches beyond the image")
            continue
        uid = generate_uid()
        objects = [hd.pr.GraphicObject(graphic_type=_graphic_type(measurement.kind), graphic_data=located[1],
                                       units=PIXEL, tracking_id=label, tracking_uid=uid)
                   for located in _located(measurement, geometry)]
        annotations.append(hd.pr.GraphicAnnotation(
            referenced_images=[ordered[z]], graphic_layer=layer, graphic_objects=objects,
            text_objects=[_text(measurement, placed[1], label, uid, size)]))
    if not annotations:
        raise ExportError("no measurement lies on an acquired image of this series: "
                          + ("; ".join(skipped) if skipped else "there are none"))
    state = hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=ordered,
        series_instance_uid=generate_uid(),
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name="Sightline",
        software_versions=SOFTWARE_VERSION,
        device_serial_number="0",
        content_label=content_label,
        content_description="Reader measurements (research software, not for clinical use)",
        graphic_annotations=annotations,
        graphic_layers=[layer],
        voi_lut_transformations=[hd.pr.SoftcopyVOILUTTransformation(
            window_center=window.center, window_width=window.width, window_explanation="Reader window")],
    )
    if any(not m.text.isascii() for m in measurements):
        state.SpecificCharacterSet = "ISO_IR 192"  # an arrow's label in UTF-8
    return Export(state, skipped)


def _graphic_type(kind: str) -> hd.pr.GraphicTypeValues:
    if kind == "ellipse":
        return hd.pr.GraphicTypeValues.ELLIPSE
    if kind == "probe":
        return hd.pr.GraphicTypeValues.POINT
    return hd.pr.GraphicTypeValues.POLYLINE


def _located(measurement: Measurement, geometry: Geometry) -> list[tuple[int, np.ndarray]]:
    return [placed for points in graphic_points(measurement)
            if (placed := image_pixels(points, geometry)) is not None]


def _inside(pixels: np.ndarray, size: tuple[float, float]) -> bool:
    return bool(np.all(pixels >= 0) and np.all(pixels <= np.asarray(size)))


def _text(measurement: Measurement, pixels: np.ndarray, label: str, uid: str,
          size: tuple[float, float]) -> hd.pr.TextObject:
    """The value beside the measurement; an arrow's label sits at its end, anchored (visibly) at its tip.
    A text box is kept inside the image (its pixel coordinates must be)."""
    if measurement.kind == "arrow":
        tip, end = pixels[0], pixels[1]
        width, height = min(max(8.0 * len(measurement.text), 8.0), size[0]), min(12.0, size[1])
        left, top = min(float(end[0]), size[0] - width), min(float(end[1]), size[1] - height)
        box = (left, top, left + width, top + height)
        return hd.pr.TextObject(text_value=measurement.text or " ", units=PIXEL, bounding_box=box,
                                anchor_point=(float(tip[0]), float(tip[1])), anchor_point_visible=True,
                                tracking_id=label, tracking_uid=uid)
    anchor = pixels[1] if measurement.kind == "angle" else pixels[-1]
    value = measurement.summary().replace("°", " deg").replace("²", "2") if measurement.values else label
    return hd.pr.TextObject(text_value=value, units=PIXEL,
                            anchor_point=(float(anchor[0]), float(anchor[1])), anchor_point_visible=False,
                            tracking_id=label, tracking_uid=uid)


@dataclass
class Graphic:
    """One graphic or text object read back from a GSPS."""

    tracking_id: str
    sop_instance_uid: str
    graphic_type: str  # POLYLINE / ELLIPSE / POINT, or TEXT
    pixels: np.ndarray  # (n, 2) column, row; a text's anchor point
    text: str = ""


def read_graphics(dataset: Dataset) -> list[Graphic]:
    """Every graphic and text object of a presentation state, with the image it is drawn on."""
    graphics = []
    for annotation in dataset.get("GraphicAnnotationSequence", []):
        images = annotation.ReferencedImageSequence
        if len(images) != 1:
            raise ValueError("a graphic annotation that references several images cannot be placed")
        uid = images[0].ReferencedSOPInstanceUID
        for item in annotation.get("GraphicObjectSequence", []):
            if item.GraphicAnnotationUnits != "PIXEL":
                raise ValueError(f"graphic units {item.GraphicAnnotationUnits} are not pixels")
            pixels = np.asarray(item.GraphicData, dtype=float).reshape(-1, 2)
            graphics.append(Graphic(str(item.get("TrackingID", "")), uid, str(item.GraphicType), pixels))
        for item in annotation.get("TextObjectSequence", []):
            anchor = np.asarray(item.get("AnchorPoint", [np.nan, np.nan]), dtype=float).reshape(1, 2)
            graphics.append(Graphic(str(item.get("TrackingID", "")), uid, "TEXT", anchor,
                                    str(item.UnformattedTextValue)))
    return graphics


def read_measurements(dataset: Dataset, sources: Sequence[Dataset], geometry: Geometry) -> list[Measurement]:
    """The measurements of a presentation state written by ``build_gsps`` on this series, in patient
    coordinates (an arrow's text comes back too; values are for ``measure`` to recompute)."""
    ordered = slice_order(sources, geometry)
    by_id: dict[str, list[Graphic]] = {}
    for graphic in read_graphics(dataset):
        by_id.setdefault(graphic.tracking_id, []).append(graphic)
    measurements = []
    for tracking_id, graphics in by_id.items():
        kind = tracking_id.split(" ")[0]
        if kind not in POINT_COUNT:
            continue  # another application's graphic: not one of ours
        shapes = [g for g in graphics if g.graphic_type != "TEXT"]
        z = slice_of(shapes[0].sop_instance_uid, ordered)
        lines = [image_to_patient(g.pixels, z, geometry) for g in shapes]
        text = next((g.text for g in graphics if g.graphic_type == "TEXT"), "") if kind == "arrow" else ""
        measurements.append(measurement_from_graphics(kind, lines, text))
    return measurements


def measurement_from_graphics(kind: str, lines: list[np.ndarray], text: str) -> Measurement:
    if kind == "cobb":
        return Measurement(kind, "", [*lines[0], *lines[1]])
    points = lines[0]
    if kind in ROI_SHAPES:
        if kind == "rectangle":
            a, c1, b, c3 = points[:4]
        else:  # ELLIPSE: ends of one axis, then of the other
            center = (points[0] + points[1]) / 2
            half_1, half_2 = (points[1] - points[0]) / 2, (points[3] - points[2]) / 2
            a, b = center - half_1 - half_2, center + half_1 + half_2
            c1, c3 = a + 2 * half_1, a + 2 * half_2
        axes = (_unit(c1 - a), _unit(c3 - a))
        return Measurement(kind, "", [a, b], axes)
    return Measurement(kind, "", list(points), text=text)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
