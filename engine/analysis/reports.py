"""Which PDF report a plugin's results get: the writer its manifest's ``[host] report`` names, else the
key-image page (radiograph or key axial slice)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from engine.ai.result import AnalysisResult
from engine.volume import Volume

if TYPE_CHECKING:
    from engine.ai.registry import Plugin

PdfWriter = Callable[[AnalysisResult, Volume, Path, str], Path]


def pdf_writer(plugin: Plugin | None) -> PdfWriter:
    """The report writer of ``plugin`` (imported from it on first use); the key-image page when it names none."""
    if plugin is not None and plugin.manifest.host.report:
        return plugin.host_object(plugin.manifest.host.report)
    from engine.reports.key_image import write_key_image_pdf

    return write_key_image_pdf
