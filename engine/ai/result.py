"""AnalysisResult: what every AI plugin returns (ARCHITECTURE §2), independent of how it is saved or exported."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.ai.calibration import TIERS, Tier
from engine.geometry import Geometry, float3
from engine.volume import CodedConcept, Heatmap, LabelMap, SourceIds


@dataclass
class Finding:
    """One finding: label, calibrated probability and tier, where it is and how big.

    ``location_voxel`` is the continuous array-order index of its centre, (z, y, x) or (y, x);
    ``location_patient`` the same point in LPS mm; ``box_voxel`` optional (first, last) corner indices in
    array order; ``concept`` the coded concept reported in DICOM SR.
    """

    label: str
    probability: float
    tier: Tier
    location_voxel: tuple[float, ...]
    location_patient: tuple[float, float, float]
    size_mm: float | None = None
    description: str = ""
    box_voxel: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    concept: CodedConcept | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"finding {self.label!r}: probability must be in 0..1, got {self.probability}")
        if self.tier not in TIERS:
            raise ValueError(f"finding {self.label!r}: tier must be one of {TIERS}, got {self.tier!r}")
        if len(self.location_voxel) not in (2, 3) or len(self.location_patient) != 3:
            raise ValueError(f"finding {self.label!r}: location needs 2-3 voxel and 3 patient coordinates")
        if self.size_mm is not None and not (math.isfinite(self.size_mm) and self.size_mm >= 0):
            raise ValueError(f"finding {self.label!r}: size must be a non-negative number of mm")
        if self.box_voxel is not None and not all(
            len(corner) == len(self.location_voxel) for corner in self.box_voxel
        ):
            raise ValueError(f"finding {self.label!r}: box corners need as many indices as the location")

    @classmethod
    def at(
        cls,
        geometry: Geometry,
        location_voxel: tuple[float, ...],
        label: str,
        probability: float,
        tier: Tier,
        **details: Any,
    ) -> Finding:
        """A finding at array-order index ``location_voxel`` of ``geometry`` (patient point computed)."""
        patient = geometry.voxel_to_patient(np.asarray(location_voxel, dtype=float))
        return cls(
            label=label,
            probability=float(probability),
            tier=tier,
            location_voxel=tuple(float(v) for v in location_voxel),
            location_patient=float3(patient),
            **details,
        )


@dataclass(frozen=True)
class Measurement:
    """A named value with a UCUM unit, e.g. ('Agatston score', 112.0, '1', region='LAD')."""

    name: str
    value: float
    unit: str
    region: str | None = None


@dataclass(frozen=True)
class SimilarCase:
    """A retrieved reference case: id, cosine similarity, its label and its thumbnail file."""

    case_id: str
    similarity: float
    label: str
    thumbnail: str


@dataclass(frozen=True)
class LabelRegion:
    """A named union of label values, e.g. the BraTS whole tumour = labels 1, 2 and 3; DICOM SEG exports it
    as one more (overlapping) segment after the labels' own."""

    name: str
    values: tuple[int, ...]
    color: tuple[int, int, int]
    concept: CodedConcept


@dataclass(frozen=True)
class ExcludedFinding:
    """A finding the plausibility bounds removed, kept with the reason (never dropped silently)."""

    label: str
    probability: float
    size_mm: float | None
    description: str
    reason: str

    @classmethod
    def of(cls, finding: Finding, reason: str) -> ExcludedFinding:
        return cls(finding.label, finding.probability, finding.size_mm, finding.description, reason)


@dataclass(frozen=True)
class DomainScore:
    """How far the input lies from the model's validated domain (``engine.ai.domain``): the score, the
    threshold set on validation data, and the method; ``None`` score = no validated domain data."""

    score: float | None
    threshold: float | None
    method: str

    @property
    def in_domain(self) -> bool:
        return self.score is not None and self.threshold is not None and self.score <= self.threshold

    def banner(self) -> str:
        """The reader's words for an input outside the domain ('' inside it)."""
        if self.in_domain:
            return ""
        if self.score is None:
            return "no validated domain data: every finding needs review"
        return (f"outside the model's validated domain (score {self.score:.3f}, threshold {self.threshold:.3f}): "
                "every finding needs review")


@dataclass
class Provenance:
    """Who made a result and how: plugin, models (name -> SHA-256), runtime, timing and the input series."""

    plugin_id: str
    plugin_version: str
    models: dict[str, str]
    onnxruntime_version: str
    providers: list[str]
    started_utc: str
    duration_s: float
    inputs: dict[str, SourceIds] = field(default_factory=dict)

    def audit_details(self, status: str) -> dict:
        """The audit-log fields of a run with this provenance (``status`` first; inputs are the caller's)."""
        return {
            "status": status,
            "plugin_id": self.plugin_id,
            "plugin_version": self.plugin_version,
            "models": self.models,
            "onnxruntime_version": self.onnxruntime_version,
            "providers": list(self.providers),
            "started_utc": self.started_utc,
            "duration_s": round(self.duration_s, 6),
        }


@dataclass
class AnalysisResult:
    """Findings, optional overlays (label map, heatmap, regions of the label map), measurements, retrieval,
    warnings for the reader (e.g. a series resampled onto another's grid) and provenance.

    ``domain_features`` is the plugin's feature vector for the domain check (not saved); the runtime fills
    ``domain`` (the score) and ``excluded`` (findings the plausibility bounds removed, with reasons).
    ``review_reasons``: the plugin's own image-level checks that found the input outside what the model was
    validated on (e.g. noisier); the runtime puts every finding to "needs review" and shows each reason."""

    findings: list[Finding] = field(default_factory=list)
    label_map: LabelMap | None = None
    label_regions: list[LabelRegion] = field(default_factory=list)
    heatmap: Heatmap | None = None
    measurements: list[Measurement] = field(default_factory=list)
    embedding: np.ndarray | None = None
    similar_cases: list[SimilarCase] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    provenance: Provenance | None = None
    domain_features: np.ndarray | None = None
    domain: DomainScore | None = None
    excluded: list[ExcludedFinding] = field(default_factory=list)
    review_reasons: list[str] = field(default_factory=list)
