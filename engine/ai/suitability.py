"""Input suitability: is a series one the plugin was validated on? Checked before inference, from the header.

A plugin declares what it accepts as data (manifest ``[suitability]``): the anatomic region, the view, the
plausible pixel spacing and slice thickness, contrast, the minimum age, image types it refuses. The header
facts come from ``Volume.meta`` (the loader copies them from the first instance, see
``engine.dicom.pixels.SUBJECT_KEYWORDS``). Every check is silent when the header is: the image-level domain
check (``engine.ai.domain``) decides then.

A failed hard check refuses the study (``InputRefused``, naming the series and the reason); a soft one lets
the plugin run and adds a warning to every output. Non-human subjects are always refused: every shipped
model was validated on (phantoms of) adult humans.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

from engine.ai.schema_check import FieldError
from engine.volume import Volume

HUMAN = re.compile(r"(?i)^\s*(human|homo sapiens|h\. sapiens)\s*$")
SpacingPolicy = Literal["required", "sizes_withheld"]


class InputRefused(RuntimeError):
    """A study the plugin must not analyse; the message names the series and every reason."""

    def __init__(self, plugin_id: str, reasons: list[str]) -> None:
        super().__init__(f"{plugin_id} refuses the study: " + "; ".join(reasons))
        self.reasons = list(reasons)


@dataclass(frozen=True)
class Suitability:
    """Manifest ``[suitability]``: what a plugin accepts. Empty lists and None mean "not checked"."""

    body_parts: list[str] = field(default_factory=list)  # BodyPartExamined / AnatomicRegionSequence terms
    region_name: str = ""  # what a refusal calls the expected study, e.g. "chest radiograph"
    views: list[str] = field(default_factory=list)  # accepted ViewPosition values
    warn_views: list[str] = field(default_factory=list)  # accepted, but each output carries a warning
    pixel_spacing_mm: tuple[float, float] | None = None  # plausible in-plane spacing
    spacing: SpacingPolicy = "required"  # when the spacing is missing, 0 or assumed
    slice_thickness_mm: tuple[float, float] | None = None
    contrast: Literal["any", "none"] = "any"  # "none": a ContrastBolusAgent refuses
    min_age_years: float | None = None
    refused_image_types: list[str] = field(default_factory=list)  # e.g. LOCALIZER

    def __post_init__(self) -> None:
        for name in ("pixel_spacing_mm", "slice_thickness_mm"):
            bounds = getattr(self, name)
            if bounds is not None and not 0 < bounds[0] <= bounds[1]:
                raise FieldError(name, f"must be [low, high] with 0 < low <= high, got {list(bounds)}")
        unknown = sorted(set(self.warn_views) - set(self.views)) if self.views else []
        if unknown:
            raise FieldError("warn_views", f"must also be listed in views: {', '.join(unknown)}")


@dataclass
class Assessment:
    """What the checks found for a set of inputs: hard refusals, warnings, and whether sizes can be given."""

    refusals: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sizes_known: bool = True


def assess(rules: Suitability, inputs: dict[str, Volume]) -> Assessment:
    """Check every input series against ``rules`` (no pixels are read, only header facts and geometry)."""
    assessment = Assessment()
    for role, volume in inputs.items():
        name = series_name(role, volume)
        for reason in _hard_reasons(rules, volume):
            assessment.refusals.append(f"{name}: {reason}")
        for warning in _soft_reasons(rules, volume):
            assessment.warnings.append(f"{name}: {warning}")
        if not volume.spacing_known:
            if rules.spacing == "required":
                assessment.refusals.append(f"{name}: pixel spacing unknown (missing, 0 or only assumed); this "
                                           "model measures in mm")
            else:
                assessment.sizes_known = False
                assessment.warnings.append(f"{name}: pixel spacing unknown (missing, 0 or only assumed): no size "
                                           "in mm is given")
    return assessment


def series_name(role: str, volume: Volume) -> str:
    """How a refusal names a series: role, description and SeriesInstanceUID."""
    description = str(volume.meta.get("description") or "").strip()
    uid = volume.ids.series_uid or str(volume.meta.get("source") or "no UID")
    return f"{role} series '{description}' ({uid})" if description else f"{role} series ({uid})"


def _hard_reasons(rules: Suitability, volume: Volume) -> list[str]:
    meta = volume.meta
    reasons = []
    species_keyword = next((k for k in ("PatientSpeciesDescription", "PatientSpeciesCode") if _text(meta.get(k))),
                           None)
    species = _text(meta.get(species_keyword)) if species_keyword else ""
    if species and not HUMAN.match(species):
        reasons.append(f"veterinary study: {species_keyword} {species}")
    elif _text(meta.get("PatientBreedDescription")):
        reasons.append(f"veterinary study: PatientBreedDescription {_text(meta.get('PatientBreedDescription'))}")
    reasons += _region_reasons(rules, meta)
    view = _text(meta.get("ViewPosition")).upper()
    if rules.views and view and view not in {v.upper() for v in rules.views}:
        reasons.append(f"view {view} is not one of {', '.join(rules.views)}")
    image_type = {part.strip().upper() for part in _text(meta.get("ImageType")).split("\\")}
    refused = sorted(image_type & {t.upper() for t in rules.refused_image_types})
    if refused:
        reasons.append(f"ImageType {'/'.join(refused)} is not a diagnostic image")
    if rules.pixel_spacing_mm is not None and volume.spacing_known:
        low, high = rules.pixel_spacing_mm
        spacing = min(volume.spacing[:2])
        if not low <= spacing <= high:
            reasons.append(f"pixel spacing {spacing:g} mm lies outside the validated {low:g}-{high:g} mm")
    thickness = _number(meta.get("SliceThickness"))
    if rules.slice_thickness_mm is not None and thickness is not None:
        low, high = rules.slice_thickness_mm
        if not low <= thickness <= high:
            reasons.append(f"slice thickness {thickness:g} mm lies outside the validated {low:g}-{high:g} mm")
    agent = _text(meta.get("ContrastBolusAgent"))
    if rules.contrast == "none" and agent:
        reasons.append(f"contrast-enhanced (ContrastBolusAgent {agent}); the model needs a non-contrast scan")
    age = age_years(_text(meta.get("PatientAge")))
    if rules.min_age_years is not None and age is not None and age < rules.min_age_years:
        reasons.append(f"patient age {_text(meta.get('PatientAge'))} is below {rules.min_age_years:g} years "
                       "(validated on adults)")
    return reasons


def _region_reasons(rules: Suitability, meta: dict) -> list[str]:
    if not rules.body_parts:
        return []
    accepted = {part.upper() for part in rules.body_parts}
    expected = rules.region_name or "/".join(rules.body_parts)
    reasons = []
    for keyword in ("BodyPartExamined", "AnatomicRegion"):
        value = _text(meta.get(keyword))
        if value and value.upper() not in accepted:
            reasons.append(f"not a {expected}: {keyword} {value}")
    return reasons


def _soft_reasons(rules: Suitability, volume: Volume) -> list[str]:
    view = _text(volume.meta.get("ViewPosition")).upper()
    if view and view in {v.upper() for v in rules.warn_views}:
        validated = ", ".join(v for v in rules.views if v.upper() not in {w.upper() for w in rules.warn_views})
        return [f"{view} view: the model was validated on {validated or 'other'} views"]
    return []


def age_years(text: str) -> float | None:
    """DICOM AS ('045Y', '006M', '003W', '010D') in years; None when absent or malformed."""
    match = re.fullmatch(r"\s*(\d{1,3})\s*([DWMY])\s*", text or "")
    if not match:
        return None
    per_year = {"D": 365.25, "W": 52.18, "M": 12.0, "Y": 1.0}[match.group(2)]
    return int(match.group(1)) / per_year


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _number(value: object) -> float | None:
    try:
        number = float(str(value))
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
