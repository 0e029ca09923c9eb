"""Run a plugin on a study's series and write its outputs: the one path of `sightline analyze` and the AI panel.

``analyze_series`` loads the chosen series (reusing volumes already in memory), runs the plugin through the
runtime (suitability, domain, plausibility, audit) and names the role whose grid the result lies on;
``write_outputs`` writes result.json (+ NIfTI overlays), a DICOM SR, a DICOM SEG when the result labels
voxels, and the plugin's PDF; ``analyze_study`` does all of it for a folder, file, zip or DICOMDIR.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.ai.exports import export_result_folder, export_seg, export_sr
from engine.ai.registry import Plugin, PluginRegistry
from engine.ai.result import AnalysisResult
from engine.ai.runner import default_registry, run_plugin
from engine.analysis.headers import read_headers
from engine.analysis.inputs import match_study
from engine.analysis.reports import pdf_writer
from engine.progress import CancelToken, ProgressCallback
from engine.series import SeriesInfo
from engine.volume import Volume


@dataclass
class Analysis:
    """A finished run: the plugin, its result, the input volumes and series by role (a series is None for a
    volume that is not catalogued), and the role whose grid the result's overlays lie on."""

    plugin: Plugin
    result: AnalysisResult
    volumes: dict[str, Volume]
    series: dict[str, SeriesInfo | None]
    reference_role: str

    @property
    def reference_volume(self) -> Volume:
        return self.volumes[self.reference_role]


def analyze_series(
    plugin_id: str,
    series: Mapping[str, SeriesInfo | None],
    loaded: Mapping[str, Volume] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    *,
    registry: PluginRegistry | None = None,
    audit_log: str | Path | None = None,
) -> Analysis:
    """Load each role's series (unless ``loaded`` has it), run the plugin and return the Analysis."""
    from engine.dicom.loader import load_series

    plugin = (registry or default_registry()).get(plugin_id)
    volumes = dict(loaded or {})
    for role, info in series.items():
        if role not in volumes:
            if info is None:
                raise ValueError(f"role {role}: no series and no loaded volume")
            volumes[role] = load_series(info, cancel=cancel)
    result = run_plugin(plugin_id, volumes, progress, cancel, registry=registry, audit_log=audit_log)
    role = reference_role(result, volumes, plugin.manifest.preprocessing.get("reference_role"))
    return Analysis(plugin, result, volumes, {role: series.get(role) for role in volumes}, role)


def analyze_study(study: Path, plugin_id: str, out: Path, audit_log: Path | None = None,
                  overrides: Mapping[str, str] | None = None, *, registry: PluginRegistry | None = None
                  ) -> list[Path]:
    """Scan ``study``, match its series to the plugin's roles (``overrides`` role -> series UID win), run the
    plugin and write the outputs into ``out``; returns the files written."""
    from engine.dicom.scanner import scan

    plugin = (registry or default_registry()).get(plugin_id)
    found = scan(study).series
    match, keyed = match_study(plugin.manifest, found, overrides)
    if not match.complete:
        listed = ", ".join(f"{info.description or '?'} ({info.modality}, {'3D' if len(info.shape) == 3 else '2D'})"
                           for info in found) or "no images"
        raise ValueError(f"no series for role(s) {', '.join(match.missing)} (found: {listed})")
    chosen = {role: keyed[key] for role, key in match.assignment.items()}
    analysis = analyze_series(plugin_id, chosen, registry=registry, audit_log=audit_log)
    return write_outputs(analysis, out, audit_log)


def write_outputs(analysis: Analysis, out: Path, audit_log: str | Path | None = None) -> list[Path]:
    """result.json (+ overlays), SR, SEG (when voxels are labelled) and the PDF in ``out``; the files."""
    result, manifest = analysis.result, analysis.plugin.manifest
    out.mkdir(parents=True, exist_ok=True)
    written = list(export_result_folder(result, out, audit_log).values())
    info = analysis.series.get(analysis.reference_role)
    if info is not None:
        sources = read_headers(info)
        written.append(export_sr(result, sources, analysis.reference_volume.geometry, out / "sr.dcm", audit_log))
        if result.label_map is not None and result.label_map.array.any():
            written.append(export_seg(result, sources, out / "seg.dcm", audit_log))
    written.append(pdf_writer(analysis.plugin)(result, analysis.reference_volume, out / "report.pdf", manifest.name))
    return written


def reference_role(result: AnalysisResult, volumes: Mapping[str, Volume], preferred: str | None = None) -> str:
    """The role whose grid the result's label map (or heatmap) lies on — ``preferred`` (the manifest's
    ``[preprocessing] reference_role``) first, then in role order; the first role when there is no overlay."""
    overlay = result.label_map or result.heatmap
    ordered = sorted(volumes.items(), key=lambda item: item[0] != preferred)
    for role, volume in ordered:
        if overlay is None or volume.geometry.same_grid(overlay.geometry):
            return role
    raise ValueError("the result's overlays lie on none of the input series' grids")
