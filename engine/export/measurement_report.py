"""The reader's measurements as a DICOM SR TID 1500 measurement report (highdicom Comprehensive 3D SR), and back.

Each measurement is one TID 1410 planar ROI group named "<kind> <number>" (an arrow adds its text). Its region
is an SCOORD on the acquired image it lies on (DICOM pixel coordinates), or, for one drawn on a reformatted
plane, an SCOORD3D in the series' frame of reference (LPS mm); an arrow is a POLYLINE from its tip to its end,
a Cobb angle one POLYLINE of its two lines' four ends (as dcmjs writes it). Its measurements carry coded
concepts and UCUM units: Length (mm), Angle or Cobb angle (deg), an ROI's Mean / Standard Deviation / Minimum /
Maximum ([hnsf'U] on CT, else no units) and Area (mm2), a probe's value. Without a known pixel spacing lengths
and areas are in pixels and say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from engine.ai.dicom_common import MANUFACTURER, PRIVATE_SCHEME, ExportError, slice_order
from engine.export.image_plane import image_pixels, image_to_patient, slice_of
from engine.export.presentation_state import graphic_points, measurement_from_graphics, measurement_label
from engine.geometry import Geometry
from engine.measurements import POINT_COUNT, ROI_SHAPES, Measurement

PIXELS = hd.sr.CodedConcept("{pixels}", "UCUM", "pixels")
SQUARE_PIXELS = hd.sr.CodedConcept("{square pixels}", "UCUM", "square pixels")
PIXEL_VALUE = hd.sr.CodedConcept("SL-PIXEL-VALUE", PRIVATE_SCHEME, "Pixel value")
ARROW = hd.sr.CodedConcept("SL-ARROW", PRIVATE_SCHEME, "Annotation arrow")
ROI_VALUES = (("mean", codes.SCT.Mean), ("sd", codes.SCT.StandardDeviation), ("min", codes.SCT.Minimum),
              ("max", codes.SCT.Maximum))


def build_measurement_sr(
    measurements: Sequence[Measurement],
    sources: Sequence[Dataset],
    geometry: Geometry,
    observer: str = "Reader^",
    series_number: int = 911,
) -> hd.sr.Comprehensive3DSR:
    """The TID 1500 report of ``measurements`` (measured: their ``values`` filled) on the series ``sources``."""
    if not measurements:
        raise ExportError("there are no measurements to report")
    ordered = slice_order(sources, geometry)
    groups = [_group(m, number, ordered, geometry) for number, m in enumerate(measurements, start=1)]
    person = hd.sr.PersonObserverIdentifyingAttributes(name=observer)
    context = hd.sr.ObservationContext(
        observer_person_context=hd.sr.ObserverContext(observer_type=codes.DCM.Person,
                                                      observer_identifying_attributes=person))
    report = hd.sr.MeasurementReport(observation_context=context, procedure_reported=codes.SCT.ImagingProcedure,
                                     imaging_measurements=groups, title=codes.DCM.ImagingMeasurementReport)
    document = hd.sr.Comprehensive3DSR(
        evidence=list(ordered), content=report, series_instance_uid=generate_uid(), series_number=series_number,
        sop_instance_uid=generate_uid(), instance_number=1, manufacturer=MANUFACTURER,
        series_description="Reader measurements (research software, not for clinical use)")
    scheme = Dataset()
    scheme.CodingSchemeDesignator = PRIVATE_SCHEME
    scheme.CodingSchemeName = "Sightline private codes"
    scheme.CodingSchemeResponsibleOrganization = MANUFACTURER
    document.CodingSchemeIdentificationSequence = [scheme]
    if any(not m.text.isascii() for m in measurements):
        document.SpecificCharacterSet = "ISO_IR 192"  # an arrow's label in UTF-8
    return document


def _group(measurement: Measurement, number: int, ordered: list[Dataset],
           geometry: Geometry) -> hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations:
    label = measurement_label(measurement, number)
    identifier = f"{label}: {measurement.text}" if measurement.text else label
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=identifier),
        referenced_region=_region(measurement, ordered, geometry),
        finding_type=ARROW if measurement.kind == "arrow" else None,
        measurements=_values(measurement) or None,
    )


def _region(measurement: Measurement, ordered: list[Dataset],
            geometry: Geometry) -> hd.sr.ImageRegion | hd.sr.ImageRegion3D:
    kind = measurement.kind
    points = np.concatenate([np.asarray(line) for line in graphic_points(measurement)])
    placed = image_pixels(points, geometry)
    if placed is not None:
        image = ordered[placed[0]]
        return hd.sr.ImageRegion(graphic_type=_type_2d(kind), graphic_data=placed[1],
                                 source_image=hd.sr.SourceImageForRegion(image.SOPClassUID, image.SOPInstanceUID))
    frame = ordered[0].get("FrameOfReferenceUID")
    if not frame:
        raise ExportError(f"{measurement.kind} ({measurement.view}) lies on no acquired image and the series "
                          "has no frame of reference to place it in 3D")
    return hd.sr.ImageRegion3D(graphic_type=_type_3d(kind), graphic_data=points, frame_of_reference_uid=frame)


def _type_2d(kind: str) -> hd.sr.GraphicTypeValues:
    return {"ellipse": hd.sr.GraphicTypeValues.ELLIPSE,
            "probe": hd.sr.GraphicTypeValues.POINT}.get(kind, hd.sr.GraphicTypeValues.POLYLINE)


def _type_3d(kind: str) -> hd.sr.GraphicTypeValues3D:
    return {"ellipse": hd.sr.GraphicTypeValues3D.ELLIPSE, "probe": hd.sr.GraphicTypeValues3D.POINT,
            "rectangle": hd.sr.GraphicTypeValues3D.POLYGON}.get(kind, hd.sr.GraphicTypeValues3D.POLYLINE)


def _values(measurement: Measurement) -> list[hd.sr.Measurement]:
    v, kind = measurement.values, measurement.kind
    length_unit = codes.UCUM.Millimeter if measurement.spacing_known else PIXELS
    area_unit = codes.UCUM.SquareMillimeter if measurement.spacing_known else SQUARE_PIXELS
    grey_unit = codes.UCUM.HounsfieldUnit if measurement.unit == "HU" else codes.UCUM.NoUnits
    if kind == "ruler":
        return [hd.sr.Measurement(name=codes.SCT.Length, value=v["length_mm"], unit=length_unit)]
    if kind in ("angle", "cobb"):
        name = codes.SCT.Angle if kind == "angle" else codes.SCT.CobbAngle
        return [hd.sr.Measurement(name=name, value=v["angle_deg"], unit=codes.UCUM.Degree)]
    if kind == "probe":
        value = v.get("value")
        if value is None or isinstance(value, tuple):
            return []  # outside the image, or colour samples: the point alone is reported
        name = codes.DCM.AttenuationCoefficient if measurement.unit == "HU" else PIXEL_VALUE
        return [hd.sr.Measurement(name=name, value=value, unit=grey_unit)]
    if kind in ROI_SHAPES:
        if not v.get("n"):
            return [hd.sr.Measurement(name=codes.SCT.Area, value=v["area_mm2"], unit=area_unit)]
        return [hd.sr.Measurement(name=name, value=v[key], unit=grey_unit) for key, name in ROI_VALUES] + [
            hd.sr.Measurement(name=codes.SCT.Area, value=v["area_mm2"], unit=area_unit)]
    return []


def read_measurement_sr(dataset: Dataset, sources: Sequence[Dataset], geometry: Geometry
                        ) -> list[tuple[Measurement, dict[str, tuple[float, str]]]]:
    """The measurements of a report written by ``build_measurement_sr`` on this series: each with its points
    (LPS) and the reported values by concept meaning, as (value, UCUM unit)."""
    ordered = slice_order(sources, geometry)
    document = hd.sr.Comprehensive3DSR.from_dataset(dataset)
    results = []
    report = cast(hd.sr.MeasurementReport, document.content)
    for group in report.get_planar_roi_measurement_groups():
        identifier = str(group.tracking_identifier)
        label, _, text = identifier.partition(": ")
        kind = label.split(" ")[0]
        if kind not in POINT_COUNT:
            continue
        region = group.roi
        if region is None:
            continue  # a group over a segment: not one of the reader's drawings
        if isinstance(region, hd.sr.ImageRegion):
            image = region.ContentSequence[0].ReferencedSOPSequence[0]  # the SCOORD's selected-from IMAGE
            z = slice_of(image.ReferencedSOPInstanceUID, ordered)
            points = image_to_patient(region.value, z, geometry)
        else:
            points = np.asarray(region.value, dtype=float)
        values = {m.name.meaning: (float(m.value), str(m.unit.value)) for m in group.get_measurements()}
        results.append((_measurement(kind, points, text), values))
    return results


def _measurement(kind: str, points: np.ndarray, text: str) -> Measurement:
    lines = [points[:2], points[2:]] if kind == "cobb" else [points]
    return measurement_from_graphics(kind, lines, text)
