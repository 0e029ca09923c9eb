"""Plausibility of outputs: physical bounds a plugin declares (manifest ``[plausibility]``), applied after
inference. Nothing is dropped or flagged silently: every exclusion keeps its reason (result.json
``excluded``) and every flag becomes a warning that caps all findings to "needs review".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.ai.result import AnalysisResult, ExcludedFinding
from engine.ai.schema_check import FieldError


@dataclass(frozen=True)
class Plausibility:
    """Manifest ``[plausibility]``. ``finding_size_mm``: findings outside are dropped; ``max_findings``: more
    findings than this flag the whole result; ``measurements``: name -> [low, high], outside flags it."""

    finding_size_mm: tuple[float, float] | None = None
    max_findings: int | None = None
    measurements: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bounds = {"finding_size_mm": self.finding_size_mm} | {f"measurements.{k}": v
                                                              for k, v in self.measurements.items()}
        for name, pair in bounds.items():
            if pair is not None and not pair[0] <= pair[1]:
                raise FieldError(name, f"must be [low, high] with low <= high, got {list(pair)}")
        if self.max_findings is not None and self.max_findings < 1:
            raise FieldError("max_findings", f"must be at least 1, got {self.max_findings}")


def apply_bounds(bounds: Plausibility, result: AnalysisResult) -> list[str]:
    """Drop findings whose size is outside the bounds (into ``result.excluded``); return the flags (reasons
    the whole result is implausible)."""
    if bounds.finding_size_mm is not None:
        low, high = bounds.finding_size_mm
        kept = []
        for finding in result.findings:
            if finding.size_mm is not None and not low <= finding.size_mm <= high:
                reason = f"size {finding.size_mm:g} mm outside the plausible {low:g}-{high:g} mm"
                result.excluded.append(ExcludedFinding.of(finding, reason))
            else:
                kept.append(finding)
        result.findings = kept
    flags = []
    if bounds.max_findings is not None and len(result.findings) > bounds.max_findings:
        flags.append(f"implausible: {len(result.findings)} findings (at most {bounds.max_findings} expected)")
    for measurement in result.measurements:
        low_high = bounds.measurements.get(measurement.name)
        if low_high is not None and not low_high[0] <= measurement.value <= low_high[1]:
            unit = "" if measurement.unit == "1" else f" {measurement.unit}"
            flags.append(f"implausible: {measurement.name} {measurement.value:g}{unit} outside "
                         f"{low_high[0]:g}-{low_high[1]:g}{unit}")
    return flags
