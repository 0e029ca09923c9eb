"""Export an AnalysisResult to files — result folder (JSON + NIfTI), DICOM SR, DICOM SEG, one NIfTI overlay —
each written atomically and recorded in the audit log with the SHA-256 of every file written."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydicom.dataset import Dataset

from engine.ai import audit
from engine.ai.dicom_common import ExportError, dataset_bytes
from engine.ai.dicom_seg import build_seg
from engine.ai.dicom_sr import build_sr
from engine.ai.hashing import sha256_file
from engine.ai.result import AnalysisResult
from engine.ai.result_json import result_sha256, save_result
from engine.atomic import atomic_write_bytes
from engine.geometry import Geometry
from engine.nifti import write_nifti

LogPath = str | os.PathLike | None


def export_result_folder(
    result: AnalysisResult, folder: str | os.PathLike, audit_log: LogPath = None
) -> dict[str, Path]:
    """``result.json`` plus label map / heatmap NIfTI files in ``folder``."""
    written = save_result(result, folder)
    _record("result folder", list(written.values()), result, audit_log)
    return written


def export_sr(
    result: AnalysisResult,
    sources: Sequence[Dataset],
    geometry: Geometry,
    path: str | os.PathLike,
    audit_log: LogPath = None,
) -> Path:
    """A DICOM Comprehensive 3D SR (TID 1500) of the findings and measurements, at ``path``."""
    target = Path(path)
    atomic_write_bytes(target, dataset_bytes(build_sr(result, sources, geometry)))
    _record("DICOM SR", [target], result, audit_log)
    return target


def export_seg(
    result: AnalysisResult, sources: Sequence[Dataset], path: str | os.PathLike, audit_log: LogPath = None
) -> Path:
    """A DICOM SEG of the result's label map (and its label regions), at ``path``."""
    if result.label_map is None:
        raise ExportError("the result has no label map to export as DICOM SEG")
    target = Path(path)
    seg = build_seg(result.label_map, sources, result.provenance, regions=result.label_regions)
    atomic_write_bytes(target, dataset_bytes(seg))
    _record("DICOM SEG", [target], result, audit_log)
    return target


def export_nifti(
    result: AnalysisResult,
    overlay: Literal["label_map", "heatmap"],
    path: str | os.PathLike,
    audit_log: LogPath = None,
) -> Path:
    """The result's label map or heatmap as a NIfTI file at ``path`` (.nii or .nii.gz)."""
    image = result.label_map if overlay == "label_map" else result.heatmap
    if image is None:
        raise ExportError(f"the result has no {overlay.replace('_', ' ')} to export")
    target = write_nifti(image, path)
    _record(f"NIfTI {overlay}", [target], result, audit_log)
    return target


def _record(kind: str, files: list[Path], result: AnalysisResult, audit_log: LogPath) -> None:
    provenance = result.provenance
    audit.append("export", {
        "kind": kind,
        "files": {str(path.resolve()): sha256_file(path) for path in files},
        "result": result_sha256(result),
        "plugin_id": provenance.plugin_id if provenance else None,
        "inputs": {role: ids.series_uid for role, ids in provenance.inputs.items()} if provenance else {},
    }, audit_log)
