"""Exports of a result shown in the viewer (DICOM SR / SEG on the source series' headers, NIfTI, the PDF and
the result folder), through engine.ai.exports and the plugin's PDF writer. The AI panel's buttons call these."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.ai.result import AnalysisResult
from engine.analysis.headers import read_headers
from engine.analysis.reports import PdfWriter, pdf_writer
from engine.series import SeriesInfo
from engine.volume import Volume

KINDS = ("sr", "seg", "nifti", "pdf", "folder")
LABELS = {"sr": "DICOM SR", "seg": "DICOM SEG", "nifti": "NIfTI", "pdf": "PDF report", "folder": "Result folder"}
SUFFIX = {"sr": ".dcm", "seg": ".dcm", "nifti": ".nii.gz", "pdf": ".pdf"}


@dataclass
class ExportSource:
    """What exports need besides the result: the analysed volume, the series it came from (its DICOM
    headers for SR and SEG; None for an image that is not DICOM), the plugin's name, its PDF writer
    (engine.analysis.reports.pdf_writer; None: the key-image page) and the audit log."""

    result: AnalysisResult
    volume: Volume
    series: SeriesInfo | None
    title: str
    report: PdfWriter | None = None
    audit_log: Path | None = None


def why_unavailable(kind: str, source: ExportSource) -> str:
    """Empty when ``kind`` can be exported, else the reason (shown as the button's tooltip)."""
    result = source.result
    if kind in ("sr", "seg") and source.series is None:
        return "needs the DICOM series the result was computed on"
    if kind == "seg" and (result.label_map is None or not result.label_map.array.any()):
        return "the result labels no voxel"
    if kind == "nifti" and result.label_map is None and result.heatmap is None:
        return "the result has no label map or heatmap"
    return ""


def export(kind: str, source: ExportSource, path: Path) -> list[Path]:
    """Write ``kind`` at ``path`` (a file, or a folder for 'folder'); returns the files written."""
    from engine.ai import exports

    result, log = source.result, source.audit_log
    if kind == "folder":
        return list(exports.export_result_folder(result, path, log).values())
    if kind in ("sr", "seg"):
        if source.series is None:
            raise ValueError(why_unavailable(kind, source))
        headers = read_headers(source.series)
        if kind == "sr":
            return [exports.export_sr(result, headers, source.volume.geometry, path, log)]
        return [exports.export_seg(result, headers, path, log)]
    if kind == "nifti":
        overlay: Literal["label_map", "heatmap"] = "label_map" if result.label_map is not None else "heatmap"
        return [exports.export_nifti(result, overlay, path, log)]
    if kind == "pdf":
        write = source.report or pdf_writer(None)
        return [write(result, source.volume, path, source.title)]
    raise ValueError(f"unknown export {kind!r}; expected one of {', '.join(KINDS)}")
