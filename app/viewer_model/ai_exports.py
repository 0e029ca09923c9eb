"""Export an AI result from the viewer: DICOM SR / SEG (on the source series' headers), NIfTI, a PDF
report and the result folder, through engine.ai.exports and the PDF writers. Qt-free."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.ai.result import AnalysisResult
from engine.catalog import Catalog, SeriesKey
from engine.volume import Volume

KINDS = ("sr", "seg", "nifti", "pdf", "folder")
LABELS = {"sr": "DICOM SR", "seg": "DICOM SEG", "nifti": "NIfTI", "pdf": "PDF report", "folder": "Result folder"}
SUFFIX = {"sr": ".dcm", "seg": ".dcm", "nifti": ".nii.gz", "pdf": ".pdf"}


@dataclass
class ExportSource:
    """What exports need besides the result: the analysed volume, its catalog key (DICOM headers for SR
    and SEG), the plugin's title and kind, and the audit log."""

    result: AnalysisResult
    volume: Volume
    key: SeriesKey | None
    catalog: Catalog
    title: str
    kind: str
    audit_log: Path | None = None


def why_unavailable(kind: str, source: ExportSource) -> str:
    """Empty when ``kind`` can be exported, else the reason (shown as the button's tooltip)."""
    result = source.result
    if kind in ("sr", "seg") and source.key is None:
        return "needs the DICOM series the result was computed on"
    if kind == "seg" and result.label_map is None:
        return "the result has no label map"
    if kind == "nifti" and result.label_map is None and result.heatmap is None:
        return "the result has no label map or heatmap"
    if kind == "pdf" and pdf_writer(source) is None:
        return f"no PDF report for {source.kind} results of 3D images"
    return ""


def export(kind: str, source: ExportSource, path: Path) -> list[Path]:
    """Write ``kind`` at ``path`` (a file, or a folder for 'folder'); returns the files written."""
    from engine.ai import exports

    result, log = source.result, source.audit_log
    if kind == "folder":
        return list(exports.export_result_folder(result, path, log).values())
    if kind == "sr":
        return [exports.export_sr(result, source_headers(source.catalog, source.key), source.volume.geometry,
                                  path, log)]
    if kind == "seg":
        return [exports.export_seg(result, source_headers(source.catalog, source.key), path, log)]
    if kind == "nifti":
        overlay = "label_map" if result.label_map is not None else "heatmap"
        return [exports.export_nifti(result, overlay, path, log)]
    if kind == "pdf":
        return [pdf_writer(source)(result, source.volume, path, source.title)]
    raise ValueError(f"unknown export {kind!r}; expected one of {', '.join(KINDS)}")


def pdf_writer(source: ExportSource) -> Callable[..., Path] | None:
    """The report writer for this result: the calcium report for calcium plugins, the one-page key-image
    report (``sightline analyze``) for projection images; None otherwise."""
    if source.kind == "calcium":
        from engine.reports.calcium import write_calcium_pdf

        return write_calcium_pdf
    if source.volume.geometry.is_projection:
        from app.cli.analyze import write_pdf

        return write_pdf
    return None


def source_headers(catalog: Catalog, key: SeriesKey) -> list:
    """The series' instance headers (no pixels), as SR and SEG reference them."""
    import pydicom

    info = catalog.series_info(key)
    return [pydicom.dcmread(io.BytesIO(instance.ref.read_bytes()), stop_before_pixels=True)
            for instance in info.instances]
