"""Brain-tumour segmentation: shared preprocessing -> ONNX Runtime (sliding window) -> regions -> findings.

numpy + onnxruntime (through the runtime's session) only. Inputs are the T1, T1c, T2 and FLAIR series
matched by role; sequences off the T1c grid are resampled onto it and the result's warnings say so.
Outputs on the T1c grid: the BraTS 2023 label map (1 necrosis, 2 oedema, 3 enhancing tumour) with the
regions WT (1+2+3), TC (1+3) and ET (3) as label regions (extra DICOM SEG segments), the temperature-scaled
whole-tumour probability as a heatmap, volumes in mL of WT / TC / ET / NCR / ED as measurements, one
finding per tumour (parts at most ``join_mm`` apart joined, e.g. oedema across the midline; confidence =
the component-level probability of the manifest's ``component_calibration``, fitted on validation from the
component's voxel probabilities and volume; plain-language description with side and approximate lobe),
the retrieval embedding and the most similar reference cases, and the domain features (the segmenter's
bottleneck, pooled over the head: domain_features.py) for the runtime's out-of-distribution check. A scan
noisier than validated (air level above the manifest's ``max_air_level``) puts every finding to "needs review".
"""

from __future__ import annotations

import numpy as np

from engine.ai.context import PluginContext
from engine.ai.result import AnalysisResult, Finding, LabelRegion, Measurement
from engine.volume import CodedConcept, Heatmap, LabelMap

from .domain_features import FEATURES_OUTPUT, PooledFeatures
from .findings import (
    REGION_LABELS,
    REGION_NAMES,
    ComponentCalibration,
    component_features,
    describe,
    locate,
    region_volumes_ml,
    tumour_components,
    tumour_embedding,
)
from .preprocessing import SEQUENCES, PreparedBrain, labels_from_regions, noise_review, prepare_brain, segment

TUMOUR = CodedConcept("126952004", "SCT", "Neoplasm of brain")
REPORTED_REGIONS = ("WT", "TC", "ET", "NCR", "ED")
LESION = CodedConcept("52988006", "SCT", "Lesion")  # WT takes in the oedema: a lesion, not all neoplasm
NEOPLASM = CodedConcept("108369006", "SCT", "Neoplasm")
SEG_REGIONS = (  # the BraTS evaluation regions, as overlapping SEG segments after the three labels
    LabelRegion("whole tumour (WT = necrosis + oedema + enhancing)", REGION_LABELS["WT"], (255, 150, 40), LESION),
    LabelRegion("tumour core (TC = necrosis + enhancing)", REGION_LABELS["TC"], (200, 60, 255), NEOPLASM),
    LabelRegion("enhancing tumour (ET)", REGION_LABELS["ET"], (255, 255, 140), NEOPLASM),
)


def run(context: PluginContext) -> AnalysisResult:
    """The plugin entry point (``logic:run``)."""
    settings = context.preprocessing
    context.report(0, 4, "preprocessing")
    prepared = prepare_brain({name: context.inputs[name] for name in SEQUENCES}, float(settings["spacing_mm"]))
    context.report(1, 4, "segmenting")
    session = context.session()
    input_name, output_name = session.get_inputs()[0].name, session.get_outputs()[0].name
    outputs = [output_name] + [o.name for o in session.get_outputs() if o.name == FEATURES_OUTPUT]
    pooled = PooledFeatures()

    def predictor(tiles: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(tiles, dtype=np.float32)
        predictions = session.run(outputs, {input_name: batch})
        if len(predictions) > 1:
            pooled.add(batch, predictions[1])
        return predictions[0]

    logits = segment(prepared, predictor, [int(n) for n in settings["window"]], float(settings["overlap"]),
                     cancel=context.cancel)
    context.report(2, 4, "describing")
    labels = labels_from_regions(logits > 0)
    probability = (1.0 / (1.0 + np.exp(-logits[0] / context.calibration.temperature))).astype(np.float32)
    geometry = prepared.source
    volumes = region_volumes_ml(labels, geometry)
    measurements = [Measurement(f"{REGION_NAMES[name]} volume", round(volumes[name], 2), "mL", region=name)
                    for name in REPORTED_REGIONS]
    findings = tumour_findings(labels, probability, prepared, float(settings["min_component_ml"]),
                               float(settings["join_mm"]),
                               ComponentCalibration.from_settings(settings.get("component_calibration")))
    location = locate(np.argwhere(labels > 0), np.argwhere(prepared.image.any(axis=0)), geometry,
                      prepared.grid) if labels.any() else None
    embedding = tumour_embedding(volumes, location) if location else None
    context.report(3, 4, "retrieval")
    similar = context.similar_cases(embedding) if embedding is not None else []
    context.report(4, 4, "done")
    return AnalysisResult(
        findings=findings,
        label_map=LabelMap(labels, geometry, context.labels),
        label_regions=list(SEG_REGIONS),
        heatmap=Heatmap(np.clip(probability, 0.0, 1.0), geometry, name="whole tumour probability"),
        measurements=measurements,
        embedding=embedding,
        similar_cases=similar,
        warnings=list(prepared.warnings),
        domain_features=pooled.vector(),
        review_reasons=[reason for reason in [noise_review(prepared, settings.get("max_air_level"))] if reason],
    )


def tumour_findings(labels: np.ndarray, probability: np.ndarray, prepared: PreparedBrain,
                    min_component_ml: float, join_mm: float, calibration: ComponentCalibration) -> list[Finding]:
    """One finding per tumour (parts at most ``join_mm`` apart joined) of at least ``min_component_ml``,
    largest first, with its component-level calibrated probability."""
    geometry = prepared.source
    voxel_ml = float(np.prod(geometry.spacing)) / 1000.0
    head = np.argwhere(prepared.image.any(axis=0))
    findings = []
    for mask in tumour_components(labels, geometry.spacing[::-1], int(np.ceil(min_component_ml / voxel_ml)),
                                  float(join_mm)):
        voxels = np.argwhere(mask)
        volumes = region_volumes_ml(np.where(mask, labels, 0), geometry)
        location = locate(voxels, head, geometry, prepared.grid)
        spread = (voxels.max(axis=0) - voxels.min(axis=0) + 1) * np.asarray(geometry.spacing[::-1])
        findings.append(Finding.at(
            geometry, tuple(voxels.mean(axis=0)), "brain tumour",
            calibration.probability(component_features(probability[mask], voxel_ml)), "needs_review",
            size_mm=round(float(spread.max()), 1), description=describe(location, volumes),
            box_voxel=(tuple(float(v) for v in voxels.min(axis=0)), tuple(float(v) for v in voxels.max(axis=0))),
            concept=TUMOUR,
        ))
    return findings
