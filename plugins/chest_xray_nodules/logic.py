"""Chest X-ray nodule detection: shared preprocessing -> ONNX Runtime -> peak decoding -> calibrated findings.

numpy + onnxruntime (through the runtime's session) only. The network's embedding is also the feature
vector of the runtime's domain check. For each detection above the manifest's
``report_probability`` it returns a finding with its calibrated probability, the centre in voxel and
patient coordinates, the diameter in mm, a box and a plain-language description ("right upper zone
nodule, 8 mm"); plus the calibrated image-level "nodule present" probability (a measurement), the CAM as
a Heatmap on the image grid, the embedding and the most similar reference cases.

Side comes from the geometry (the patient-x coordinate against the image's centre column). Zone is
approximate: the upper / middle / lower third of the craniocaudal span ``lung_span`` (fractions of the
image height, top to bottom) that a standard PA collimation gives the lungs.
"""

from __future__ import annotations

import numpy as np

from engine.ai.context import PluginContext
from engine.ai.result import AnalysisResult, Finding, Measurement
from engine.geometry import Geometry
from engine.preprocessing.cxr import Detection, decode_peaks, prepare_cxr, upsample_map
from engine.volume import Heatmap, Volume

ROLE = "radiograph"
LABEL = "lung nodule"
IMAGE_MEASUREMENT = "nodule present probability"
ZONES = ("upper", "middle", "lower")


def run(context: PluginContext) -> AnalysisResult:
    """The plugin entry point (``logic:run``)."""
    settings = context.preprocessing
    volume = radiograph(context.inputs[ROLE])
    context.report(0, 3, "preprocessing")
    prepared = prepare_cxr(volume.array, size=int(settings["input_size"]),
                           invert=bool(volume.meta.get("photometric") == "MONOCHROME1"
                                       and not volume.meta.get("inverted_monochrome1")))
    context.report(1, 3, "running the detector")
    session = context.session()
    names = [output.name for output in session.get_outputs()]
    outputs = dict(zip(names, session.run(names, {"image": prepared.image[None, None]}), strict=True))
    context.report(2, 3, "decoding")
    stride = int(settings["stride"])
    peaks = decode_peaks(outputs["heatmap"][0], outputs["log_size"][0], outputs["offset"][0], prepared, stride,
                         max_detections=int(settings["max_detections"]))
    temperature = float(settings["detection_temperature"])
    threshold = float(settings["report_probability"])
    findings = []
    for peak in distinct_peaks(peaks):
        probability = float(1.0 / (1.0 + np.exp(-peak.logit / temperature)))
        if probability >= threshold:
            findings.append(finding(volume.geometry, peak, probability, settings["lung_span"], context.sizes_known))
    cam = np.maximum(outputs["cam"][0], 0.0)
    cam = upsample_map(cam / cam.max() if cam.max() > 0 else cam, prepared, stride)
    heatmap = Heatmap(np.clip(cam, 0.0, 1.0), volume.geometry, name="CAM: nodule present")
    embedding = outputs["embedding"][0].astype(np.float32)
    present = float(context.calibration.probabilities(outputs["image_logit"][:1])[0])
    context.report(3, 3, "done")
    return AnalysisResult(findings=findings, heatmap=heatmap, embedding=embedding,
                          measurements=[Measurement(IMAGE_MEASUREMENT, round(present, 4), "1")],
                          similar_cases=context.similar_cases(embedding), domain_features=embedding)


def distinct_peaks(peaks: list[Detection]) -> list[Detection]:
    """The peaks, strongest first, without those whose centre lies inside a stronger peak's nodule (one
    nodule of 10 mm covers about three output cells and can leave two local maxima; a reader wants one box).
    The FROC evaluation ignores such duplicate hits, so the model card's numbers are unchanged by this."""
    kept: list[Detection] = []
    for peak in sorted(peaks, key=lambda p: -p.logit):
        if all(np.hypot(peak.row - k.row, peak.col - k.col) > k.diameter_px / 2 for k in kept):
            kept.append(peak)
    return kept


def radiograph(volume: Volume) -> Volume:
    """The 2D image of a projection radiograph (a one-frame 3D stack is squeezed)."""
    if volume.array.ndim == 3 and volume.array.shape[0] == 1:
        geometry = volume.geometry
        flat = Geometry(shape=volume.array.shape[1:], spacing=geometry.spacing, origin=geometry.origin,
                        direction=geometry.direction)
        return Volume(volume.array[0], flat, volume.modality, volume.ids, volume.meta)
    if volume.array.ndim != 2:
        raise ValueError(f"chest_xray_nodules needs one projection radiograph, got an image of shape "
                         f"{volume.array.shape}")
    return volume


def finding(geometry: Geometry, peak: Detection, probability: float, lung_span: list[float],
            sizes_known: bool = True) -> Finding:
    """A finding for one decoded peak (tier is stamped by the runtime from the manifest thresholds); without
    a known pixel spacing it gives no size in mm (the box is still drawn in pixels)."""
    spacing = float(np.sqrt(geometry.spacing[0] * geometry.spacing[1]))
    diameter_mm = peak.diameter_px * spacing
    half_rows = peak.diameter_px * spacing / geometry.spacing[1] / 2
    half_cols = peak.diameter_px * spacing / geometry.spacing[0] / 2
    box = ((peak.row - half_rows, peak.col - half_cols), (peak.row + half_rows, peak.col + half_cols))
    side, zone = location(geometry, peak.row, peak.col, lung_span)
    description = f"{side} {zone} zone nodule" + (f", {diameter_mm:.0f} mm" if sizes_known else "")
    return Finding.at(geometry, (peak.row, peak.col), LABEL, probability, "needs_review",
                      size_mm=round(diameter_mm, 1) if sizes_known else None, description=description, box_voxel=box)


def location(geometry: Geometry, row: float, col: float, lung_span: list[float]) -> tuple[str, str]:
    """(patient side, approximate zone) of an image point, from the patient directions of the image axes."""
    rows, cols = geometry.shape
    row_axis, col_axis = image_axes(geometry)
    offset = (row - (rows - 1) / 2) * row_axis + (col - (cols - 1) / 2) * col_axis  # LPS direction, unscaled
    side = "left" if offset[0] > 0 else "right"  # LPS: +x points to the patient's left
    corners = [(r - (rows - 1) / 2) * row_axis + (c - (cols - 1) / 2) * col_axis
               for r in (0, rows - 1) for c in (0, cols - 1)]
    top, bottom = max(v[2] for v in corners), min(v[2] for v in corners)  # LPS: +z points to the head
    fraction = (top - offset[2]) / max(top - bottom, 1e-6)
    start, end = float(lung_span[0]), float(lung_span[1])
    third = int(np.clip((fraction - start) / max(end - start, 1e-6) * 3, 0, 2))
    return side, ZONES[third]


def image_axes(geometry: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Patient (LPS) unit directions of the row index (down) and column index (right) axes.

    A projection image whose geometry has no head-feet axis in its plane carries no orientation (a DX
    file without ImageOrientationPatient loads with the identity); the PA display convention is assumed
    then: rows towards the feet, columns towards the patient's left (PatientOrientation L\\F).
    """
    col_axis, row_axis = geometry.direction[:, 0], geometry.direction[:, 1]
    if max(abs(col_axis[2]), abs(row_axis[2])) < 0.5:
        return np.array([0.0, 0.0, -1.0]), np.array([1.0, 0.0, 0.0])
    return row_axis, col_axis
