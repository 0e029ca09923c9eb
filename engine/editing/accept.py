"""Accept a correction: write the ``final`` version, export it as DICOM SEG and NIfTI, and record the
acceptance (change summary, file hashes, the original's model hashes) in the hash-chained audit log."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from engine.ai import audit
from engine.ai.dicom_common import dataset_bytes
from engine.ai.hashing import sha256_file
from engine.atomic import atomic_write_bytes
from engine.editing.seg_export import build_correction_seg
from engine.editing.summary import ChangeSummary, change_summary
from engine.editing.versions import ORIGINAL, VersionInfo, VersionStore, current_user
from engine.nifti import write_nifti
from engine.volume import LabelMap

AUDIT_EVENT = "correction accepted"
SEG_NAME = "final_seg.dcm"
NIFTI_NAME = "final.nii.gz"


@dataclass(frozen=True)
class AcceptedCorrection:
    """What accepting wrote: the final version's provenance, the summary, the exports, the audit entry."""

    final: VersionInfo
    summary: ChangeSummary
    nifti_path: Path
    seg_path: Path | None
    audit_entry: dict[str, Any]


def accept_correction(
    store: VersionStore,
    final: LabelMap,
    export_folder: str | os.PathLike,
    sources: Sequence[Dataset] | None = None,
    audit_log: str | os.PathLike | None = None,
) -> AcceptedCorrection:
    """Save ``final`` as the final version and export it (SEG only when the source images are given).

    The SEG is built first, so that a map it cannot describe (e.g. a label without a coded concept) is
    refused before anything is written.
    """
    original_info = store.info(ORIGINAL)
    annotator = current_user()
    seg = build_correction_seg(final, sources, original_info, annotator) if sources else None
    summary = change_summary(store.load(ORIGINAL), final)
    info = store.save_final(final, summary)
    folder = Path(export_folder)
    nifti_path = write_nifti(final, folder / NIFTI_NAME)
    seg_path = None
    if seg is not None:
        seg_path = folder / SEG_NAME
        atomic_write_bytes(seg_path, dataset_bytes(seg))
    files = [nifti_path] + ([seg_path] if seg_path else [])
    entry = audit.append(AUDIT_EVENT, {
        "final_sha256": info.array_sha256,
        "original_sha256": info.based_on_sha256,
        "plugin_id": info.plugin_id,
        "plugin_version": info.plugin_version,
        "models": info.models,
        "summary": summary.to_json(),
        "files": {str(path.resolve()): sha256_file(path) for path in files},
    }, audit_log)
    return AcceptedCorrection(info, summary, nifti_path, seg_path, entry)
