"""Which PDF report a plugin's results get."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.ai.result import AnalysisResult
from engine.volume import Volume

PdfWriter = Callable[[AnalysisResult, Volume, Path, str], Path]


def pdf_writer(kind: str) -> PdfWriter:
    """The calcium report for calcium plugins, else the key-image page (radiograph or key axial slice)."""
    if kind == "calcium":
        from engine.reports.calcium import write_calcium_pdf

        return write_calcium_pdf
    from engine.reports.key_image import write_key_image_pdf

    return write_key_image_pdf
