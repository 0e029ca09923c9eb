"""Coronary calcium: candidate lesions -> LesionNet (ONNX Runtime) -> artery per lesion -> exact scores.

numpy + onnxruntime (through the runtime's session) + this package's calcium modules only. Candidates are the >= 130 HU
26-connected components inside the body with a countable per-slice lesion (candidates.py);
the model assigns each to non-coronary / LM / LAD / LCX / RCA from the same inputs it was trained on
(features.py). The artery label map (lesion voxels coloured by artery) is then scored with
the exact Agatston / volume / mass rules (scoring.py), so the numbers depend on the model only
through the artery assignment. Findings: one per coronary lesion, with the calibrated probability of its
artery, its peak voxel, equivalent diameter and a plain-language description. Domain features for the
runtime's out-of-distribution check are image-level (domain_features.py): the classifier sees candidate
lesions only, and a calcium-free heart has none.
"""

from __future__ import annotations

import numpy as np

from engine.ai.context import PluginContext
from engine.ai.result import AnalysisResult, Finding, Measurement
from engine.geometry import Geometry
from engine.volume import LabelMap, Volume

from .candidates import Candidate, find_candidates
from .domain_features import ct_domain_features
from .features import candidate_inputs
from .risk import CATEGORY_KEYS
from .rules import ARTERIES, DEFAULT_MASS_CALIBRATION, ScoringRules
from .scoring import CalciumReport, score_arteries
from .similarity import profile_embedding

ROLE = "ct"
N_CLASSES = 1 + len(ARTERIES)


def run(context: PluginContext) -> AnalysisResult:
    """The plugin entry point (``logic:run``)."""
    volume = _ct(context.inputs[ROLE])
    rules = ScoringRules(mass_calibration=float(context.preprocessing.get("mass_calibration",
                                                                          DEFAULT_MASS_CALIBRATION)))
    context.report(0, 3, "finding calcified lesions")
    candidates = find_candidates(volume.array, volume.geometry, rules)
    context.report(1, 3, "assigning lesions to arteries")
    logits = np.zeros((0, N_CLASSES), dtype=np.float32)
    if candidates.items:
        inputs = candidate_inputs(volume.array, volume.geometry, candidates)
        logits = context.session().run(["logits"], inputs)[0]
    probabilities = context.calibration.probabilities(logits).reshape(-1, N_CLASSES)
    classes = probabilities.argmax(axis=1)
    lookup = np.concatenate([[0], classes]).astype(np.uint8)
    labels = LabelMap(lookup[candidates.components], volume.geometry, context.labels)
    context.report(2, 3, "scoring")
    report = score_arteries(volume.array, labels.array, volume.geometry, rules)
    label_names = {label.value: label.name for label in context.labels}
    findings = [lesion_finding(volume.geometry, item, int(c), float(p[c]), label_names[int(c)])
                for item, c, p in zip(candidates.items, classes, probabilities, strict=True) if c > 0]
    embedding = profile_embedding({n: s.agatston for n, s in report.arteries.items()}, len(findings))
    context.report(3, 3, "done")
    return AnalysisResult(findings=findings, label_map=labels, measurements=measurements(report),
                          embedding=embedding, similar_cases=context.similar_cases(embedding),
                          domain_features=ct_domain_features(volume.array))


def _ct(volume: Volume) -> Volume:
    if volume.array.ndim != 3 or volume.is_colour:
        raise ValueError(f"coronary_calcium_ct needs an axial CT volume, got an image of shape {volume.array.shape}")
    return volume


def measurements(report: CalciumReport) -> list[Measurement]:
    """Agatston, volume and mass per artery and in total, plus the risk category (index and CAC-DRS grade)."""
    out = []
    for region, score in [*report.arteries.items(), ("total", report.total)]:
        out += [Measurement("Agatston score", round(score.agatston, 3), "1", region),
                Measurement("Calcium volume score", round(score.volume_mm3, 3), "mm3", region),
                Measurement("Calcium mass score", round(score.mass_mg, 3), "mg", region)]
    category = report.category
    out.append(Measurement(f"Risk category: {category.name} ({category.range_text})",
                           float(CATEGORY_KEYS.index(category.key)), "{category}", "total"))
    out.append(Measurement(f"CAC-DRS Agatston grade {category.cac_drs}", float(category.cac_drs[1:]),
                           "{grade}", "total"))
    return out


def lesion_finding(geometry: Geometry, item: Candidate, artery: int, probability: float, label: str) -> Finding:
    """A finding for one coronary lesion (tier stamped by the runtime from the manifest thresholds)."""
    name = ARTERIES[artery]
    score = item.score
    diameter = 2.0 * float(np.sqrt(score.max_area_mm2 / np.pi))
    description = (f"{name} calcified plaque, {score.area_mm2:.0f} mm\u00b2, Agatston {score.agatston:.0f}, "
                   f"peak {score.peak_hu:.0f} HU")
    return Finding.at(geometry, item.peak_voxel, label, probability, "needs_review", size_mm=round(diameter, 1),
                      description=description)
