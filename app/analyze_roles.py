"""Multi-series plugins for `sightline analyze` (e.g. brain_tumor_mri with T1, T1c, T2, FLAIR).

The study's series are matched to the plugin's input roles by the runtime (``engine.ai.roles.match_roles``:
series description, modality, sequence tags; ``overrides`` role -> SeriesInstanceUID win), each matched
series is loaded and the plugin runs through the AI runtime. Written per study: ``result.json`` (+ NIfTI
overlays), a DICOM SR, a DICOM SEG when the result has a label map, and the one-page PDF of
``app.cli.analyze.write_pdf`` on the key axial slice (the one with the most labelled voxels, else
the strongest heatmap). SR and SEG reference the series whose grid the result lies on (the manifest's
``[preprocessing] reference_role`` when it names one).
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from engine.ai.exports import export_result_folder, export_seg, export_sr
from engine.ai.result import AnalysisResult
from engine.ai.roles import SeriesCandidate, match_roles
from engine.ai.runner import default_registry, run_plugin
from engine.dicom_load import load_series
from engine.dicom_scan import scan
from engine.geometry import Geometry
from engine.series import SeriesInfo
from engine.volume import Heatmap, Volume

SEQUENCE_TAGS = ("ScanningSequence", "SequenceVariant", "ContrastBolusAgent", "InversionTime")


def analyze_multi_series(study: Path, plugin_id: str, out: Path, audit_log: Path | None = None,
                         overrides: Mapping[str, str] | None = None) -> list[Path]:
    """Scan ``study``, match and load one series per role, run the plugin, write the exports; the files."""
    from app.cli.analyze import write_pdf

    manifest = default_registry().get(plugin_id).manifest
    stacks = scan(study).series
    keyed = {_key(info, stacks): info for info in stacks}
    match = match_roles(manifest.inputs, [candidate(key, info) for key, info in keyed.items()],
                        {role: _key_for_uid(uid, keyed) for role, uid in (overrides or {}).items()})
    if not match.complete:
        found = ", ".join(f"{info.description or '?'} ({info.modality})" for info in stacks) or "no images"
        raise ValueError(f"no series for role(s) {', '.join(match.missing)} (found: {found})")
    volumes = {role: load_series(keyed[key]) for role, key in match.assignment.items()}
    result = run_plugin(plugin_id, volumes, audit_log=audit_log)
    role = reference_role(result, volumes, manifest.preprocessing.get("reference_role"))
    sources = read_headers(keyed[match.assignment[role]])
    written = list(export_result_folder(result, out, audit_log).values())
    written.append(export_sr(result, sources, volumes[role].geometry, out / "sr.dcm", audit_log))
    if result.label_map is not None:
        written.append(export_seg(result, sources, out / "seg.dcm", audit_log))
    page_result, page_volume = key_slice(result, volumes[role])
    written.append(write_pdf(page_result, page_volume, out / "report.pdf", manifest.name))
    return written


def candidate(key: str, info: SeriesInfo) -> SeriesCandidate:
    """What role matching sees of a scanned series (description, modality, sequence tags of its first image)."""
    tags: dict[str, str] = {}
    if info.instances:
        header = pydicom.dcmread(io.BytesIO(info.instances[0].ref.read_bytes()), stop_before_pixels=True)
        for keyword in SEQUENCE_TAGS:
            value = header.get(keyword)
            if value is not None:
                tags[keyword] = "\\".join(map(str, value)) if isinstance(value, pydicom.multival.MultiValue) \
                    else str(value)
    return SeriesCandidate(series_uid=key, description=info.description, modality=info.modality, tags=tags)


def reference_role(result: AnalysisResult, volumes: Mapping[str, Volume], preferred: str | None = None) -> str:
    """The role whose grid the result's label map (or heatmap) lies on — ``preferred`` (the manifest's
    ``[preprocessing] reference_role``) first, then in role order; the first role when there is no overlay."""
    overlay = result.label_map or result.heatmap
    ordered = sorted(volumes.items(), key=lambda item: item[0] != preferred)
    for role, volume in ordered:
        if overlay is None or volume.geometry.same_grid(overlay.geometry):
            return role
    raise ValueError("the result's overlays lie on none of the input series' grids")


def read_headers(info: SeriesInfo) -> list[Dataset]:
    """Every instance header of a series (no pixel data), for SR evidence and SEG source references."""
    return [pydicom.dcmread(io.BytesIO(instance.ref.read_bytes()), stop_before_pixels=True)
            for instance in info.instances]


def key_slice(result: AnalysisResult, volume: Volume) -> tuple[AnalysisResult, Volume]:
    """The result and volume reduced to the key axial slice, for the one-page PDF."""
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


def _key(info: SeriesInfo, stacks: list[SeriesInfo]) -> str:
    shared = sum(other.series_uid == info.series_uid for other in stacks) > 1
    return f"{info.series_uid}#{info.stack_index}" if shared else info.series_uid


def _key_for_uid(uid: str, keyed: Mapping[str, SeriesInfo]) -> str:
    for key, info in keyed.items():
        if uid in (key, info.series_uid):
            return key
    raise ValueError(f"series {uid} is not in the study")
