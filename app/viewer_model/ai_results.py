"""What the viewer shows of an AnalysisResult, for any plugin: overlay layers (boxes / points, heatmap,
label map), finding rows with their confidence tier as text and colour, measurement rows, similar-case
entries and the provenance status line. Qt-free (Slicer's Logic), tested without a window."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.viewer_model.layers import HeatmapLayer, LabelLayer, Layer, Marker, MarkerLayer
from engine.ai.result import AnalysisResult, Finding, SimilarCase
from engine.geometry import Geometry

TIER_TEXT = {"high": "HIGH", "medium": "MEDIUM", "needs_review": "NEEDS REVIEW"}
TIER_COLOR = {"high": (255, 72, 72), "medium": (255, 170, 40), "needs_review": (110, 190, 255)}
NOT_FOR_CLINICAL_USE = "Research software: NOT FOR CLINICAL USE"


@dataclass(frozen=True)
class FindingRow:
    """One line of the findings list; ``point`` is where the views centre when it is clicked."""

    number: int
    label: str
    confidence: str  # tier in words and the probability, e.g. "HIGH 0.94"
    color: tuple[int, int, int]
    size: str
    description: str
    point: np.ndarray


@dataclass(frozen=True)
class MeasurementRow:
    name: str
    value: str
    unit: str
    region: str


def confidence_text(finding: Finding) -> str:
    """The tier in capitals and the calibrated probability (never colour alone); a probability that would
    round to 1.00 reads ">0.99", since no model output is certainty."""
    probability = ">0.99" if finding.probability >= 0.995 else f"{finding.probability:.2f}"
    return f"{TIER_TEXT[finding.tier]} {probability}"


def finding_rows(result: AnalysisResult) -> list[FindingRow]:
    """Findings in the plugin's order, numbered from 1 (the numbers the markers carry)."""
    return [
        FindingRow(number, finding.label, confidence_text(finding), TIER_COLOR[finding.tier],
                   f"{finding.size_mm:.1f} mm" if finding.size_mm is not None else "",
                   finding.description, np.asarray(finding.location_patient, float))
        for number, finding in enumerate(result.findings, start=1)
    ]


def measurement_rows(result: AnalysisResult) -> list[MeasurementRow]:
    """One row per measurement; dimensionless units ("1") and UCUM annotations ("{category}") show no unit."""
    return [MeasurementRow(m.name, f"{m.value:.4g}", display_unit(m.unit), m.region or "")
            for m in result.measurements]


def display_unit(unit: str) -> str:
    """The unit as a reader reads it: none for "1" and for UCUM annotations in braces, else the UCUM code."""
    return "" if unit == "1" or (unit.startswith("{") and unit.endswith("}")) else unit


def result_layers(result: AnalysisResult, geometry: Geometry, title: str) -> list[Layer]:
    """Overlay layers of the result, bottom first: heatmap, label map, then the finding markers."""
    layers: list[Layer] = []
    if result.heatmap is not None:
        layers.append(HeatmapLayer(result.heatmap, name=f"{title}: {result.heatmap.name or 'heatmap'}",
                                   opacity=0.4, threshold=0.2))
    if result.label_map is not None:
        layers.append(LabelLayer(result.label_map, name=f"{title}: labels", opacity=0.45,
                                 provenance=result.provenance, regions=result.label_regions))
    if result.findings:
        markers = [finding_marker(number, finding, geometry)
                   for number, finding in enumerate(result.findings, start=1)]
        layers.append(MarkerLayer(markers, name=f"{title}: findings"))
    return layers


def finding_marker(number: int, finding: Finding, geometry: Geometry) -> Marker:
    """A box (from the finding's voxel box) or a point, labelled with its number and confidence."""
    text = f"{number} {confidence_text(finding)}"
    color = TIER_COLOR[finding.tier]
    if finding.box_voxel is None:
        return Marker(tuple(finding.location_patient), text, None, color)
    first, last = (geometry.voxel_to_patient(np.asarray(corner, float)) for corner in finding.box_voxel)
    center = (first + last) / 2
    return Marker(tuple(float(v) for v in center), text, tuple(float(v) for v in np.abs(last - first)), color)


def similar_case_caption(case: SimilarCase) -> str:
    return f"{case.case_id}\n{case.label}\nsimilarity {case.similarity:.2f}"


def provenance_line(result: AnalysisResult) -> str:
    """Plugin and version, short model hash(es), runtime and duration."""
    p = result.provenance
    if p is None:
        return ""
    models = ", ".join(f"{name} {sha[:12]}" for name, sha in p.models.items())
    providers = "/".join(provider.removesuffix("ExecutionProvider") for provider in p.providers) or "?"
    return (f"{p.plugin_id} {p.plugin_version} · model {models} · onnxruntime {p.onnxruntime_version} "
            f"({providers}) · {p.duration_s:.2f} s · {p.started_utc}")
