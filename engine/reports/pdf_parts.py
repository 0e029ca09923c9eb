"""Pieces every one-page AI report shares: the not-for-clinical-use line, the result's warnings, the
provenance lines, the strip of similar reference cases and the atomic save (matplotlib figures, imported
by the caller)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

from engine.ai.result import AnalysisResult
from engine.atomic import atomic_write
from engine.volume import Volume

NOT_CLINICAL = "Research software. Phantom-trained model. NOT FOR CLINICAL USE."
WARNING_CHARS = 88  # per line at 8 pt: clear of the calcium report's risk text on the right
WARNING_LINE = 0.0125  # figure fraction of an A4 page per 8 pt line


def patient_line(volume: Volume) -> str:
    """Whose images these are, as the header names them: patient name and ID, study date and description."""
    patient, study = volume.meta.get("patient", {}), volume.meta.get("study", {})
    name = str(patient.get("PatientName", "")).replace("^", " ").strip()
    date = str(study.get("StudyDate", ""))
    date = f"{date[:4]}-{date[4:6]}-{date[6:8]}" if len(date) == 8 and date.isdigit() else date
    parts = [name or "patient name not in the header", f"ID {patient.get('PatientID') or '?'}",
             f"study {date or 'date not in the header'}", str(study.get("StudyDescription", "")).strip()]
    return "Patient: " + " · ".join(part for part in parts if part)


def draw_patient_line(figure: Any, volume: Volume) -> None:
    """The patient line under the title (every report page names whose images it shows)."""
    figure.text(0.5, 0.941, patient_line(volume), ha="center", va="top", fontsize=8.5)


def provenance_lines(result: AnalysisResult) -> list[str]:
    """Plugin, version, short model hash, runtime and run time ([] without provenance)."""
    if result.provenance is None:
        return []
    p = result.provenance
    return [f"{p.plugin_id} {p.plugin_version}, model sha256 {next(iter(p.models.values()))[:16]}...",
            f"onnxruntime {p.onnxruntime_version}, run {p.started_utc}"]


def draw_warnings(figure: Any, result: AnalysisResult, left: float, top: float) -> float:
    """The result's warnings, each starting "WARNING:", in bold dark red from ``top`` down; returns where the
    text below them may start (``top`` when there is none)."""
    lines = [line for text in result.warnings for line in textwrap.wrap(f"WARNING: {text}", WARNING_CHARS)]
    if not lines:
        return top
    figure.text(left, top, "\n".join(lines), va="top", fontsize=8, color="darkred", weight="bold")
    return top - WARNING_LINE * (len(lines) + 1)


def draw_similar_cases(figure: Any, result: AnalysisResult, left: float, step: float, heading_y: float,
                       bottom: float) -> None:
    """Up to five reference-case thumbnails with id, similarity and a short label under each."""
    import matplotlib.pyplot as plt

    cases = result.similar_cases[:5]
    if cases:
        figure.text(left, heading_y, "Most similar reference cases (phantoms):", fontsize=9, weight="bold")
    for index, case in enumerate(cases):
        thumb = figure.add_axes([left + index * step, bottom, 0.13, 0.11])
        try:
            thumb.imshow(plt.imread(case.thumbnail), cmap="gray")
        except OSError:
            pass
        thumb.set_title(f"{case.case_id}\nsim {case.similarity:.2f}", fontsize=6)
        label = case.label if len(case.label) <= 28 else case.label[:27] + "…"
        thumb.text(0.5, -0.04, label, transform=thumb.transAxes, fontsize=5, va="top", ha="center")
        thumb.set_axis_off()


def save_pdf(figure: Any, path: str | os.PathLike) -> Path:
    """Footer line, atomic write of the figure as PDF, figure closed; returns the path."""
    import matplotlib.pyplot as plt

    figure.text(0.5, 0.015, NOT_CLINICAL, ha="center", fontsize=8, color="darkred")
    target = Path(path)
    with atomic_write(target, "wb") as handle:
        figure.savefig(handle, format="pdf")
    plt.close(figure)
    return target
