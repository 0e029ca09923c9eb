"""One-page PDF of a coronary-calcium result: key image with the artery-coloured lesions, per-artery table
(Agatston, volume, mass), Agatston bar chart, risk category, lesion list, similar cases, provenance and the
not-for-clinical-use line."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine.ai.calibration import TIER_NAMES
from engine.ai.result import AnalysisResult
from engine.reports.pdf_parts import (
    NOT_CLINICAL,
    draw_patient_line,
    draw_similar_cases,
    draw_warnings,
    provenance_lines,
    save_pdf,
)
from engine.volume import Volume

from .chart import agatston_chart, plot_agatston, risk_lines

REGIONS = ("LM", "LAD", "LCX", "RCA", "total")
MEASURES = (("Agatston score", "Agatston"), ("Calcium volume score", "Volume (mm\u00b3)"),
            ("Calcium mass score", "Mass (mg)"))
WINDOW = (50.0, 350.0)  # centre, width (mediastinum)
MAX_LISTED = 8


def measurement_table(result: AnalysisResult) -> dict[str, dict[str, float]]:
    """{measurement name: {region: value}} of the result's numeric scores."""
    table: dict[str, dict[str, float]] = {}
    for m in result.measurements:
        if m.region in REGIONS and any(m.name == name for name, _ in MEASURES):
            table.setdefault(m.name, {})[m.region] = m.value
    return table


def key_slice(result: AnalysisResult, volume: Volume) -> int:
    """The slice with the most lesion voxels (the middle slice when there is none)."""
    if result.label_map is not None and result.label_map.array.any():
        return int(np.argmax((result.label_map.array > 0).sum(axis=(1, 2))))
    return volume.array.shape[0] // 2


def write_calcium_pdf(result: AnalysisResult, volume: Volume, path: str | os.PathLike, title: str) -> Path:
    """Write the report to ``path`` (A4 portrait); returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    chart = agatston_chart(result)
    if chart is None:
        raise ValueError("not a coronary-calcium result: it has no total Agatston score")
    table = measurement_table(result)
    figure = plt.figure(figsize=(8.27, 11.69))
    figure.text(0.5, 0.975, title, ha="center", va="top", fontsize=14, weight="bold")
    figure.text(0.5, 0.955, NOT_CLINICAL, ha="center", va="top", fontsize=10, color="darkred", weight="bold")
    draw_patient_line(figure, volume)
    z = key_slice(result, volume)
    image = figure.add_axes((0.05, 0.5, 0.5, 0.42))
    centre, width = WINDOW
    image.imshow(volume.array[z], cmap="gray", vmin=centre - width / 2, vmax=centre + width / 2)
    if result.label_map is not None:
        labels = result.label_map
        colours = np.zeros((max([lb.value for lb in labels.labels], default=0) + 1, 4))
        for label in labels.labels:
            colours[label.value] = (*(np.asarray(label.color) / 255), 1.0)
        overlay = np.ma.masked_equal(labels.array[z], 0)
        image.imshow(overlay, cmap=ListedColormap(colours), vmin=0, vmax=len(colours) - 1, interpolation="nearest")
    image.set_title(f"Key image: slice {z + 1} of {volume.array.shape[0]} (lesions coloured by artery)", fontsize=8)
    image.set_axis_off()
    plot_agatston(figure.add_axes((0.63, 0.56, 0.32, 0.3)), chart)
    figure.text(0.63, 0.52, "\n".join(risk_lines(chart)), fontsize=9, weight="bold", va="top", wrap=True)
    rows = ["Artery  " + "".join(f"{label:>16}" for _, label in MEASURES)]
    rows += [f"{region:<8}" + "".join(f"{table.get(name, {}).get(region, 0.0):>16.1f}" for name, _ in MEASURES)
             for region in REGIONS]
    lines = rows + [""] + [f"{n}. {f.description}: p={f.probability:.2f} ({TIER_NAMES[f.tier]})"
                           for n, f in enumerate(result.findings[:MAX_LISTED], start=1)]
    if len(result.findings) > MAX_LISTED:
        lines.append(f"... and {len(result.findings) - MAX_LISTED} more lesions (see result.json)")
    if not result.findings:
        lines.append("No coronary calcified lesion found.")
    lines += [""] + provenance_lines(result)
    top = draw_warnings(figure, result, left=0.06, top=0.47)
    figure.text(0.06, top, "\n".join(lines), va="top", fontsize=7.5, family="monospace")
    draw_similar_cases(figure, result, left=0.06, step=0.18, heading_y=0.185, bottom=0.05)
    return save_pdf(figure, path)

