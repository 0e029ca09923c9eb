"""``result.json``: the versioned JSON form of an AnalysisResult, with its overlays as NIfTI files beside it.

The schema is documented in ``resources/schemas/analysis_result.schema.json`` (JSON Schema 2020-12).
A result folder holds ``result.json`` plus ``label_map.nii.gz`` / ``heatmap.nii.gz`` when present; the
JSON records each overlay's file and the SHA-256 of its voxels, checked on load. Version 2 added
``warnings`` and ``label_regions``, version 3 ``domain`` (the domain score) and ``excluded`` (findings the
plausibility bounds removed); older files are still read (without them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from engine.ai.hashing import sha256_json
from engine.ai.result import (
    AnalysisResult,
    DomainScore,
    ExcludedFinding,
    Finding,
    LabelRegion,
    Measurement,
    Provenance,
    SimilarCase,
)
from engine.atomic import atomic_write_bytes
from engine.nifti import read_nifti, write_nifti
from engine.volume import CodedConcept, Heatmap, Label, LabelMap, SourceIds, Volume

SCHEMA_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
RESULT_NAME = "result.json"
LABEL_MAP_NAME = "label_map.nii.gz"
HEATMAP_NAME = "heatmap.nii.gz"


class ResultFileError(ValueError):
    """A result folder that cannot be read back; the message names the file."""


def array_sha256(array: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and little-endian C-order bytes."""
    data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    digest = hashlib.sha256(f"{data.dtype.str}{list(data.shape)}".encode())
    digest.update(data.tobytes())
    return digest.hexdigest()


def result_to_json(result: AnalysisResult) -> dict[str, Any]:
    """The JSON document for ``result`` (overlays referenced by file name and voxel hash)."""
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "clinical_use": False,
        "findings": [_finding_json(f) for f in result.findings],
        "measurements": [
            {"name": m.name, "value": m.value, "unit": m.unit, "region": m.region}
            for m in result.measurements
        ],
        "embedding": None if result.embedding is None else [float(v) for v in result.embedding],
        "similar_cases": [
            {"case_id": c.case_id, "similarity": c.similarity, "label": c.label, "thumbnail": c.thumbnail}
            for c in result.similar_cases
        ],
        "label_map": None,
        "label_regions": [region_to_json(region) for region in result.label_regions],
        "heatmap": None,
        "warnings": list(result.warnings),
        "domain": None if result.domain is None else _domain_json(result.domain),
        "excluded": [dataclasses.asdict(item) for item in result.excluded],
        "provenance": None if result.provenance is None else _provenance_json(result.provenance),
    }
    if result.label_map is not None:
        document["label_map"] = {
            "file": LABEL_MAP_NAME,
            "array_sha256": array_sha256(result.label_map.array),
            "labels": [_label_json(label) for label in result.label_map.labels],
        }
    if result.heatmap is not None:
        document["heatmap"] = {
            "file": HEATMAP_NAME,
            "array_sha256": array_sha256(result.heatmap.array),
            "name": result.heatmap.name,
        }
    return document


def result_sha256(result: AnalysisResult) -> str:
    """One hash for the whole result (its JSON, which includes the overlays' voxel hashes)."""
    return sha256_json(result_to_json(result))


def save_result(result: AnalysisResult, folder: str | os.PathLike) -> dict[str, Path]:
    """Write ``result.json`` and the overlay NIfTI files into ``folder`` (each atomically); returns them."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if result.label_map is not None:
        written["label_map"] = write_nifti(result.label_map, target / LABEL_MAP_NAME)
    if result.heatmap is not None:
        written["heatmap"] = write_nifti(result.heatmap, target / HEATMAP_NAME)
    text = json.dumps(result_to_json(result), indent=2, allow_nan=False) + "\n"
    atomic_write_bytes(target / RESULT_NAME, text.encode())
    written["result"] = target / RESULT_NAME
    return written


def load_result(path: str | os.PathLike) -> AnalysisResult:
    """Read a result folder (or its ``result.json``) back into an AnalysisResult."""
    source = Path(path)
    if source.is_dir():
        source = source / RESULT_NAME
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ResultFileError(f"{source}: cannot read the result ({error})") from None
    version = document.get("schema_version") if isinstance(document, dict) else None
    if version not in READABLE_VERSIONS:
        expected = " or ".join(str(v) for v in READABLE_VERSIONS)
        raise ResultFileError(f"{source}: unsupported schema_version {version!r} (expected {expected})")
    try:
        return _result_from_json(document, source.parent, version)
    except (KeyError, TypeError, ValueError) as error:
        raise ResultFileError(f"{source}: malformed result ({type(error).__name__}: {error})") from None


def _result_from_json(document: dict[str, Any], folder: Path, version: int) -> AnalysisResult:
    label_map = heatmap = None
    if document["label_map"] is not None:
        entry = document["label_map"]
        image = _read_overlay(folder / entry["file"], entry["array_sha256"])
        labels = [_label_from_json(item) for item in entry["labels"]]
        label_map = LabelMap(array=image.array, geometry=image.geometry, labels=labels)
    if document["heatmap"] is not None:
        entry = document["heatmap"]
        image = _read_overlay(folder / entry["file"], entry["array_sha256"])
        heatmap = Heatmap(array=image.array, geometry=image.geometry, name=entry["name"])
    embedding = document["embedding"]
    since_2, since_3 = version >= 2, version >= 3
    domain = document["domain"] if since_3 else None
    return AnalysisResult(
        findings=[_finding_from_json(item) for item in document["findings"]],
        label_map=label_map,
        label_regions=[region_from_json(item) for item in document["label_regions"]] if since_2 else [],
        heatmap=heatmap,
        measurements=[Measurement(**item) for item in document["measurements"]],
        embedding=None if embedding is None else np.asarray(embedding, dtype=np.float32),
        similar_cases=[SimilarCase(**item) for item in document["similar_cases"]],
        warnings=list(document["warnings"]) if since_2 else [],
        domain=None if domain is None else DomainScore(domain["score"], domain["threshold"], domain["method"]),
        excluded=[ExcludedFinding(**item) for item in document["excluded"]] if since_3 else [],
        provenance=None if document["provenance"] is None else _provenance_from_json(document["provenance"]),
    )


def _read_overlay(path: Path, expected: str) -> Volume:
    image = read_nifti(path)
    if array_sha256(image.array) != expected:
        raise ResultFileError(f"{path}: voxels do not match the hash recorded in {RESULT_NAME}")
    return image


def _concept_json(concept: CodedConcept | None) -> dict[str, str] | None:
    if concept is None:
        return None
    return {"scheme": concept.scheme, "value": concept.value, "meaning": concept.meaning}


def _concept_from_json(item: dict[str, str] | None) -> CodedConcept | None:
    if item is None:
        return None
    return CodedConcept(value=item["value"], scheme=item["scheme"], meaning=item["meaning"])


def _label_json(label: Label) -> dict[str, Any]:
    return {"value": label.value, "name": label.name, "color": list(label.color),
            "concept": _concept_json(label.concept)}


def _label_from_json(item: dict[str, Any]) -> Label:
    return Label(value=item["value"], name=item["name"], color=tuple(item["color"]),
                 concept=_concept_from_json(item["concept"]))


def region_to_json(region: LabelRegion) -> dict[str, Any]:
    """The JSON form of a label region (result.json, label-version records)."""
    return {"name": region.name, "values": list(region.values), "color": list(region.color),
            "concept": _concept_json(region.concept)}


def region_from_json(item: dict[str, Any]) -> LabelRegion:
    """The label region of its JSON form (a region always has a coded concept: SEG exports it as a segment)."""
    concept = _concept_from_json(item["concept"])
    if concept is None:
        raise ValueError(f"label region {item['name']!r} has no coded concept")
    return LabelRegion(name=item["name"], values=tuple(item["values"]), color=tuple(item["color"]), concept=concept)


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "label": finding.label,
        "probability": finding.probability,
        "tier": finding.tier,
        "location_voxel": list(finding.location_voxel),
        "location_patient": list(finding.location_patient),
        "size_mm": finding.size_mm,
        "description": finding.description,
        "box_voxel": None if finding.box_voxel is None else [list(c) for c in finding.box_voxel],
        "concept": _concept_json(finding.concept),
    }


def _finding_from_json(item: dict[str, Any]) -> Finding:
    box = item["box_voxel"]
    return Finding(
        label=item["label"],
        probability=item["probability"],
        tier=item["tier"],
        location_voxel=tuple(item["location_voxel"]),
        location_patient=tuple(item["location_patient"]),
        size_mm=item["size_mm"],
        description=item["description"],
        box_voxel=None if box is None else (tuple(box[0]), tuple(box[1])),
        concept=_concept_from_json(item["concept"]),
    )


def _domain_json(domain: DomainScore) -> dict[str, Any]:
    return {"score": domain.score, "threshold": domain.threshold, "method": domain.method,
            "in_domain": domain.in_domain}


def _provenance_json(provenance: Provenance) -> dict[str, Any]:
    return {
        "plugin_id": provenance.plugin_id,
        "plugin_version": provenance.plugin_version,
        "models": dict(provenance.models),
        "onnxruntime_version": provenance.onnxruntime_version,
        "providers": list(provenance.providers),
        "started_utc": provenance.started_utc,
        "duration_s": provenance.duration_s,
        "inputs": {role: _ids_json(ids) for role, ids in provenance.inputs.items()},
    }


def _provenance_from_json(item: dict[str, Any]) -> Provenance:
    return Provenance(**{**item, "inputs": {role: SourceIds(**ids) for role, ids in item["inputs"].items()}})


def _ids_json(ids: SourceIds) -> dict[str, str]:
    return {"study_uid": ids.study_uid, "series_uid": ids.series_uid,
            "frame_of_reference_uid": ids.frame_of_reference_uid}

