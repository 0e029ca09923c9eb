"""`sightline analyze STUDY... --plugin ID --out DIR`: run an AI plugin headless over studies, in batch.

Each STUDY (folder, file, zip or DICOMDIR) is scanned, the series that fits the plugin's input role is
loaded and the plugin runs through the AI runtime (model hash check, audit log). Per study, DIR/<name>/
receives ``result.json`` (+ ``heatmap.nii.gz``), a DICOM SR (``sr.dcm``, TID 1500) and a one-page
``report.pdf`` (key image with boxes and heatmap, findings with tiers, similar cases, the not-for-
clinical-use line). Plugins with several input roles (e.g. four MRI sequences) go through
``app.analyze_roles``. Studies that fail, or that the plugin refuses (engine.ai.suitability: wrong body
part, view, species, spacing...), are reported one line each with the reason; the exit status is 1 if any
failed or was refused.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from engine.ai.result import AnalysisResult
    from engine.series import SeriesInfo
    from engine.volume import Volume

MAX_LISTED = 10


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="run an AI plugin on studies and write result.json, DICOM SR and a PDF per study",
        description=__doc__.splitlines()[0].split(": ", 1)[1],
    )
    parser.add_argument("studies", nargs="+", type=Path, metavar="STUDY", help="study folder, file, zip or DICOMDIR")
    parser.add_argument("--plugin", required=True, help="plugin id (see `sightline plugins`)")
    parser.add_argument("--out", required=True, type=Path, help="output folder (one subfolder per study)")
    parser.add_argument("--audit-log", type=Path, help="audit log (default: the per-user log)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from engine.ai.runner import default_registry
    from engine.ai.suitability import InputRefused

    try:
        plugin = default_registry().get(args.plugin)
    except KeyError as error:
        print(f"sightline analyze: {error.args[0]}", file=sys.stderr)
        return 2
    failures, used = 0, set()
    for study in args.studies:
        name = _study_name(study)
        while name in used:
            name += "_"
        used.add(name)
        target = args.out / name
        try:
            written = analyze_study(study, plugin.id, target, args.audit_log)
        except InputRefused as refused:  # not a study this model was validated on: no output at all
            failures += 1
            print(f"REFUSED {study}: {refused}", file=sys.stderr)
            continue
        except Exception as error:  # one bad study must not stop the batch; the message names it
            failures += 1
            print(f"FAILED {study}: {type(error).__name__}: {error}", file=sys.stderr)
            continue
        print(f"{study}: " + ", ".join(str(path) for path in written))
    if failures:
        print(f"sightline analyze: {failures} of {len(args.studies)} studies failed", file=sys.stderr)
    return 1 if failures else 0


def analyze_study(study: Path, plugin_id: str, out: Path, audit_log: Path | None = None) -> list[Path]:
    """Scan, load, run the plugin and write result folder, SR and PDF; returns the files written."""
    from engine.ai.exports import export_result_folder, export_sr
    from engine.ai.runner import default_registry, run_plugin
    from engine.dicom_scan import scan

    manifest = default_registry().get(plugin_id).manifest
    if manifest.kind in ("calcium", "segmentation") and len(manifest.inputs) == 1:
        from app.volume_analysis import analyze_volume_study  # SEG + SR over every slice of a 3D series

        return analyze_volume_study(study, plugin_id, out, audit_log)
    if len(manifest.inputs) != 1:
        from app.analyze_roles import analyze_multi_series

        return analyze_multi_series(study, plugin_id, out, audit_log)
    role = manifest.inputs[0]
    modalities = {m.upper() for m in role.modalities or manifest.modalities}
    report = scan(study)
    series = [s for s in report.series if s.modality.upper() in modalities]
    if not series:
        found = ", ".join(sorted({s.modality for s in report.series})) or "no images"
        raise ValueError(f"no {'/'.join(sorted(modalities))} series in the study (found: {found})")
    volume, source = load(series[0])
    result = run_plugin(plugin_id, {role.role: volume}, audit_log=audit_log)
    written = list(export_result_folder(result, out, audit_log).values())
    written.append(export_sr(result, [source], volume.geometry, out / "sr.dcm", audit_log))
    written.append(write_pdf(result, volume, out / "report.pdf", manifest.name))
    return written


def load(series: SeriesInfo) -> tuple[Volume, Dataset]:
    """The series' Volume and its first instance's header (the SR references it)."""
    import pydicom

    from engine.dicom_load import load_series

    source = pydicom.dcmread(io.BytesIO(series.instances[0].ref.read_bytes()), stop_before_pixels=True)
    return load_series(series), source


def write_pdf(result: AnalysisResult, volume: Volume, path: Path, title: str) -> Path:
    """One A4 page: key image with heatmap and boxes, warnings, findings with tiers, similar cases, disclaimer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.patches import Rectangle

    from engine.ai.calibration import TIER_NAMES
    from engine.reports.pdf_parts import NOT_CLINICAL, draw_similar_cases, draw_warnings, provenance_lines, save_pdf

    image = np.asarray(volume.array, dtype=np.float32)
    step = max(1, max(image.shape) // 1024)
    low, high = np.percentile(image[::step, ::step], [0.5, 99.5])
    figure = plt.figure(figsize=(8.27, 11.69))
    figure.text(0.5, 0.975, title, ha="center", va="top", fontsize=14, weight="bold")
    figure.text(0.5, 0.952, NOT_CLINICAL, ha="center", va="top", fontsize=10, color="darkred", weight="bold")
    axis = figure.add_axes([0.1, 0.42, 0.8, 0.51])
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


def _study_name(study: Path) -> str:
    name = study.resolve().name or "study"
    return name.removesuffix(".zip")
