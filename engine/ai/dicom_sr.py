"""DICOM Comprehensive 3D SR (TID 1500 Measurement Report) of an AnalysisResult, built with highdicom.

Each finding is one measurement group: its region (SCOORD3D point or box in the frame of reference of
volumes; SCOORD point or rectangle on the image for projection radiographs), finding type (the label's
coded concept), calibrated probability, confidence tier, size (diameter, mm) and a tracking identifier
holding its plain-language description. Measurements without a finding are grouped per region. Every
group names the algorithm (plugin, version, model SHA-256). The result's warnings are TEXT items in TID
1500's "Qualitative Evaluations" container (rows 12 and 14), which highdicom does not build, so it is
appended here. Codes without a standard equivalent use the private scheme ``99SIGHTLINE``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypedDict

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from engine.ai.calibration import TIER_NAMES, Tier
from engine.ai.dicom_common import MANUFACTURER, PRIVATE_SCHEME, device_uid, slice_order, sr_algorithm
from engine.ai.result import AnalysisResult, Finding, Measurement
from engine.geometry import Geometry

PROBABILITY = hd.sr.CodedConcept("SL-PROB", PRIVATE_SCHEME, "Calibrated probability")
TIER = hd.sr.CodedConcept("SL-TIER", PRIVATE_SCHEME, "AI confidence tier")
TIER_CODES: dict[Tier, hd.sr.CodedConcept] = {
    tier: hd.sr.CodedConcept(f"SL-TIER-{tier.upper().replace('_', '-')}", PRIVATE_SCHEME, TIER_NAMES[tier])
    for tier in TIER_NAMES
}
GENERIC_FINDING = hd.sr.CodedConcept("SL-FINDING", PRIVATE_SCHEME, "AI finding")
WARNING = hd.sr.CodedConcept("SL-WARNING", PRIVATE_SCHEME, "AI analysis warning")
QUALITATIVE_EVALUATIONS = hd.sr.CodedConcept("C0034375", "UMLS", "Qualitative Evaluations")
PlanarGroup = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations
VolumetricGroup = hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations


def build_sr(
    result: AnalysisResult,
    sources: Sequence[Dataset],
    geometry: Geometry,
    series_number: int = 900,
) -> hd.sr.Comprehensive3DSR:
    """The SR document for ``result`` on the image series ``sources`` whose grid is ``geometry``."""
    ordered = slice_order(sources, geometry)
    algorithm = sr_algorithm(result.provenance)
    groups: list = [
        _finding_group(finding, number, ordered, geometry, algorithm)
        for number, finding in enumerate(result.findings, start=1)
    ]
    groups += _measurement_groups(result.measurements, algorithm)
    provenance = result.provenance
    device = hd.sr.DeviceObserverIdentifyingAttributes(
        uid=device_uid(provenance),
        name=f"{MANUFACTURER} {provenance.plugin_id}" if provenance else MANUFACTURER,
        manufacturer_name=MANUFACTURER,
        model_name=provenance.plugin_id if provenance else None,
    )
    context = hd.sr.ObservationContext(
        observer_device_context=hd.sr.ObserverContext(observer_type=codes.DCM.Device,
                                                      observer_identifying_attributes=device)
    )
    report = hd.sr.MeasurementReport(
        observation_context=context,
        procedure_reported=codes.SCT.ImagingProcedure,
        imaging_measurements=groups or None,
        title=codes.DCM.ImagingMeasurementReport,
    )
    if result.warnings:
        report[0].ContentSequence.append(_warnings_container(result.warnings))
    document = hd.sr.Comprehensive3DSR(
        evidence=list(ordered),
        content=report,
        series_instance_uid=generate_uid(),
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        series_description="AI findings (research use, not for clinical use)",
    )
    scheme = Dataset()
    scheme.CodingSchemeDesignator = PRIVATE_SCHEME
    scheme.CodingSchemeName = "Sightline private codes"
    scheme.CodingSchemeResponsibleOrganization = MANUFACTURER
    document.CodingSchemeIdentificationSequence = [scheme]
    return document


def _warnings_container(warnings: list[str]) -> hd.sr.ContainerContentItem:
    """TID 1500 row 12: the Qualitative Evaluations container, one TEXT item (row 14) per warning."""
    container = hd.sr.ContainerContentItem(name=QUALITATIVE_EVALUATIONS,
                                           relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
    container.ContentSequence = hd.sr.ContentSequence([
        hd.sr.TextContentItem(name=WARNING, value=text, relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
        for text in warnings
    ])
    return container


class _GroupArgs(TypedDict):
    """The arguments a finding's TID 1410 (planar) and TID 1411 (volumetric) groups share."""

    tracking_identifier: hd.sr.TrackingIdentifier
    finding_type: hd.sr.CodedConcept
    algorithm_id: hd.sr.AlgorithmIdentification
    measurements: list[hd.sr.Measurement]
    qualitative_evaluations: list[hd.sr.QualitativeEvaluation]


def _finding_group(
    finding: Finding,
    number: int,
    sources: list[Dataset],
    geometry: Geometry,
    algorithm: hd.sr.AlgorithmIdentification,
) -> PlanarGroup | VolumetricGroup:
    identifier = finding.description or f"finding {number}: {finding.label}"
    tracking = hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=identifier)
    concept = finding.concept
    finding_type = (
        hd.sr.CodedConcept(concept.value, concept.scheme, concept.meaning) if concept else GENERIC_FINDING
    )
    measurements = [hd.sr.Measurement(name=PROBABILITY, value=finding.probability, unit=codes.UCUM.NoUnits,
                                      algorithm_id=algorithm)]
    if finding.size_mm is not None:
        measurements.append(hd.sr.Measurement(name=codes.SCT.Diameter, value=finding.size_mm,
                                              unit=codes.UCUM.Millimeter, algorithm_id=algorithm))
    common = _GroupArgs(
        tracking_identifier=tracking,
        finding_type=finding_type,
        algorithm_id=algorithm,
        measurements=measurements,
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(name=TIER, value=TIER_CODES[finding.tier])],
    )
    if geometry.is_projection:
        return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            referenced_region=_image_region(finding, sources[0]), **common)
    frame_of_reference = sources[0].FrameOfReferenceUID
    box = finding.box_voxel
    if box is None or round(box[0][0]) == round(box[1][0]):
        region = hd.sr.ImageRegion3D(**_region_3d(finding, geometry),
                                     frame_of_reference_uid=frame_of_reference)
        return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(referenced_region=region, **common)
    polygons = [_rectangle_3d(box, z, geometry) for z in (box[0][0], box[1][0])]
    surface = hd.sr.VolumeSurface(
        graphic_type=hd.sr.GraphicTypeValues3D.POLYGON, graphic_data=polygons,
        frame_of_reference_uid=frame_of_reference,
        source_series=hd.sr.SourceSeriesForSegmentation(sources[0].SeriesInstanceUID),
    )
    return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        referenced_volume_surface=surface, **common)


def _region_3d(finding: Finding, geometry: Geometry) -> dict:
    if finding.box_voxel is None:
        return {"graphic_type": hd.sr.GraphicTypeValues3D.POINT,
                "graphic_data": np.asarray([finding.location_patient], dtype=float)}
    box = finding.box_voxel
    return {"graphic_type": hd.sr.GraphicTypeValues3D.POLYGON,
            "graphic_data": _rectangle_3d(box, box[0][0], geometry)}


def _rectangle_3d(box: tuple[tuple[float, ...], ...], z: float, geometry: Geometry) -> np.ndarray:
    """Closed polygon (LPS mm) through the box's in-plane corners on slice ``z``."""
    (_, y0, x0), (_, y1, x1) = box
    corners = np.asarray([(z, y0, x0), (z, y0, x1), (z, y1, x1), (z, y1, x0), (z, y0, x0)], dtype=float)
    return geometry.voxel_to_patient(corners)


def _image_region(finding: Finding, source: Dataset) -> hd.sr.ImageRegion:
    """SCOORD on the projection image, in DICOM pixel coordinates (column, row; pixel centres at +0.5)."""
    reference = hd.sr.SourceImageForRegion(source.SOPClassUID, source.SOPInstanceUID)
    if finding.box_voxel is None:
        y, x = finding.location_voxel[-2:]
        return hd.sr.ImageRegion(graphic_type=hd.sr.GraphicTypeValues.POINT,
                                 graphic_data=np.asarray([[x + 0.5, y + 0.5]]), source_image=reference)
    (y0, x0), (y1, x1) = (corner[-2:] for corner in finding.box_voxel)
    data = np.asarray([(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)], dtype=float) + 0.5
    return hd.sr.ImageRegion(graphic_type=hd.sr.GraphicTypeValues.POLYLINE, graphic_data=data,
                             source_image=reference)


def _measurement_groups(
    measurements: list[Measurement], algorithm: hd.sr.AlgorithmIdentification
) -> list[hd.sr.MeasurementsAndQualitativeEvaluations]:
    by_region: dict[str | None, list[Measurement]] = {}
    for measurement in measurements:
        by_region.setdefault(measurement.region, []).append(measurement)
    groups = []
    for region, items in by_region.items():
        identifier = f"measurements: {region or 'overall'}"
        tracking = hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=identifier)
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=tracking,
            algorithm_id=algorithm,
            measurements=[
                hd.sr.Measurement(name=measurement_concept(m.name), value=m.value,
                                  unit=hd.sr.CodedConcept(m.unit, "UCUM", m.unit), algorithm_id=algorithm)
                for m in items
            ],
        ))
    return groups


def measurement_concept(name: str) -> hd.sr.CodedConcept:
    """A private code for a measurement name (short stable code value, the name as meaning)."""
    code = "SL-" + hashlib.sha1(name.encode()).hexdigest()[:10].upper()
    return hd.sr.CodedConcept(code, PRIVATE_SCHEME, name)
