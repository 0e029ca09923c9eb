"""The one-page PDF of an AI result on its key image: the image (a radiograph, or the key axial slice of a
volume) with the heatmap and finding boxes, warnings, findings with their tiers, measurements, similar
cases, provenance and the not-for-clinical-use line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from engine.ai.calibration import TIER_NAMES
from engine.ai.result import AnalysisResult
from engine.geometry import Geometry
from engine.reports.pdf_parts import (
    NOT_CLINICAL,
    draw_patient_line,
    draw_similar_cases,
    draw_warnings,
    provenance_lines,
    save_pdf,
)
from engine.volume import Heatmap, Volume

MAX_LISTED = 10


def write_key_image_pdf(result: AnalysisResult, volume: Volume, path: Path, title: str) -> Path:
    """One A4 page for ``result`` on ``volume`` (a 3D volume is reduced to its key axial slice first)."""
    if volume.array.ndim == 3 and not volume.is_colour:
        result, volume = key_slice(result, volume)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    image = np.asarray(volume.array, dtype=np.float32)
    step = max(1, max(image.shape) // 1024)
    low, high = np.percentile(image[::step, ::step], [0.5, 99.5])
    figure = plt.figure(figsize=(8.27, 11.69))
    figure.text(0.5, 0.975, title, ha="center", va="top", fontsize=14, weight="bold")
    figure.text(0.5, 0.955, NOT_CLINICAL, ha="center", va="top", fontsize=10, color="darkred", weight="bold")
    draw_patient_line(figure, volume)
    axis = figure.add_axes((0.1, 0.42, 0.8, 0.51))
    axis.imshow(image[::step, ::step], cmap="gray", vmin=low, vmax=high)
    if result.heatmap is not None:
        heat = result.heatmap.array[::step, ::step]
        axis.imshow(np.ma.masked_less(heat, 0.05), cmap="jet", alpha=0.45, vmin=0, vmax=1)
    for number, finding in enumerate(result.findings, start=1):
        if finding.box_voxel is not None:
            (r0, c0), (r1, c1) = (np.asarray(corner[-2:]) / step for corner in finding.box_voxel)
            axis.add_patch(Rectangle((c0, r0), c1 - c0, r1 - r0, fill=False, color="yellow", linewidth=1.2))
            axis.text(c1 + 4, r0, str(number), color="yellow", fontsize=9, weight="bold")
    axis.set_axis_off()
    lines = [f"{n}. {f.description or f.label}: probability {f.probability:.2f} ({TIER_NAMES[f.tier]})"
             for n, f in enumerate(result.findings[:MAX_LISTED], start=1)]
    if len(result.findings) > MAX_LISTED:
        lines.append(f"... and {len(result.findings) - MAX_LISTED} more (see result.json)")
    lines = lines or ["No finding above the reporting threshold."]
    lines += [f"{m.name}: {m.value:.2f}" for m in result.measurements]
    lines += provenance_lines(result)
    top = draw_warnings(figure, result, left=0.08, top=0.405)
    figure.text(0.08, top, "\n".join(lines), va="top", fontsize=8, family="monospace")
    draw_similar_cases(figure, result, left=0.08, step=0.17, heading_y=0.205, bottom=0.06)
    save_pdf(figure, path)
    return path


def key_slice(result: AnalysisResult, volume: Volume) -> tuple[AnalysisResult, Volume]:
    """The result and volume reduced to the key axial slice: the one with the most labelled voxels, else the
    strongest heatmap, else the middle slice."""
    if result.label_map is not None and result.label_map.array.any():
        z = int(np.argmax((result.label_map.array > 0).sum(axis=(1, 2))))
    elif result.heatmap is not None:
        z = int(np.argmax(result.heatmap.array.max(axis=(1, 2))))
    else:
        z = volume.array.shape[0] // 2
    geometry = volume.geometry
    origin = geometry.voxel_to_patient(np.array([z, 0.0, 0.0]))
    flat = Geometry(shape=geometry.shape[1:], spacing=geometry.spacing, origin=tuple(origin),
                    direction=geometry.direction)
    heatmap = None if result.heatmap is None else Heatmap(result.heatmap.array[z], flat, result.heatmap.name)
    page = dataclasses.replace(result, heatmap=heatmap, label_map=None)
    return page, Volume(volume.array[z], flat, volume.modality, volume.ids, volume.meta)
