"""Headless analysis of one study by a plugin that works on a 3D volume (CT / MR): the volume outputs of
`sightline analyze`.

Per study: ``result.json`` (+ label map / heatmap NIfTI), ``seg.dcm`` (DICOM SEG, BINARY, when the result
has a label map), ``sr.dcm`` (TID 1500, referencing every slice) and ``report.pdf`` (calcium plugins: the
engine.reports.calcium page). All files go through engine.ai.exports, so each is audited.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from engine.series import SeriesInfo


def is_volume_series(series: SeriesInfo) -> bool:
    """True for a stack the loader returns as a (z, y, x) volume."""
    return series.extra.get("kind", "volume") == "volume" and len(series.shape) == 3


def source_datasets(series: SeriesInfo) -> list[Dataset]:
    """Every instance's dataset (with pixels: highdicom copies image attributes into SEG / SR)."""
    import pydicom

    return [pydicom.dcmread(io.BytesIO(instance.ref.read_bytes())) for instance in series.instances]


def analyze_volume_study(study: Path, plugin_id: str, out: Path, audit_log: Path | None = None) -> list[Path]:
    """Scan ``study``, run ``plugin_id`` on its first volume of a fitting modality, write the outputs."""
    from engine.ai.exports import export_result_folder, export_seg, export_sr
    from engine.ai.runner import default_registry, run_plugin
    from engine.dicom_load import load_series
    from engine.dicom_scan import scan

    manifest = default_registry().get(plugin_id).manifest
    if len(manifest.inputs) != 1:
        raise ValueError(f"plugin {plugin_id} needs {len(manifest.inputs)} series; analyze runs one-series plugins")
    role = manifest.inputs[0]
    modalities = {m.upper() for m in role.modalities or manifest.modalities}
    found = scan(study).series
    series = [s for s in found if s.modality.upper() in modalities and is_volume_series(s)]
    if not series:
        listed = ", ".join(sorted({s.modality for s in found})) or "no images"
        raise ValueError(f"no {'/'.join(sorted(modalities))} volume in the study (found: {listed})")
    volume = load_series(series[0])
    sources = source_datasets(series[0])
    result = run_plugin(plugin_id, {role.role: volume}, audit_log=audit_log)
    out.mkdir(parents=True, exist_ok=True)
    written = list(export_result_folder(result, out, audit_log).values())
    if result.label_map is not None and result.label_map.array.any():
        written.append(export_seg(result, sources, out / "seg.dcm", audit_log))
    written.append(export_sr(result, sources, volume.geometry, out / "sr.dcm", audit_log))
    if manifest.kind == "calcium":
        from engine.reports.calcium import write_calcium_pdf

        written.append(write_calcium_pdf(result, volume, out / "report.pdf", manifest.name))
    return written
