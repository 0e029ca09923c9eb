"""DICOM to NIfTI or NRRD, one file per stack, each with a JSON sidecar (what `sightline convert` does).

The input is read exactly as `sightline scan` and the viewer read it (engine.dicom: a folder, a zip, a
DICOMDIR or a file; stacks split where a series holds several; geometry checked), and every stack is
loaded with the viewer's loader, so the voxels written are the ones the viewer shows: modality values
(CT in Hounsfield units), palette colour as RGB, MONOCHROME1 inverted. 8-bit colour goes into NIfTI as
RGB24, as dcm2niix writes it; deeper colour (16-bit RGB) only into NRRD. Geometry is written as the
loader's LPS grid: NIfTI gets it through engine.nifti (RAS in the file, as ITK and dcm2niix store it),
NRRD as ``left-posterior-superior`` (engine.convert_nrrd).

The sidecar follows dcm2niix's BIDS sidecar where the same fact exists (``Modality``,
``SeriesDescription``, ``SeriesNumber``, ``ImageType``, ``BodyPartExamined``, ``SliceThickness``,
``ImageOrientationPatientDICOM``, ``ConversionSoftware``...) and adds what a reader needs to trust the
file: the source UIDs, the voxel spacing and grid, and every warning of the scan and the load (gaps,
tilt, assumed spacing, filled slices). Like dcm2niix's default it holds no patient identifiers, and
file names come from the series number and description only.

Every file is written atomically; a stack that cannot be loaded or written is reported with the reason
and the run goes on. Progress is reported per stack and the run can be cancelled between stacks.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.atomic import atomic_write_bytes
from engine.dicom.errors import describe
from engine.dicom.loader import LoadError, load_series
from engine.dicom.scanner import scan
from engine.progress import Cancelled, CancelToken, ProgressCallback, report
from engine.series import FileError, SeriesInfo
from engine.volume import Volume

FORMATS = {"nifti": ".nii.gz", "nrrd": ".nrrd"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 60


class ConvertError(Exception):
    """A stack that cannot be written in the chosen format (the message says why, in words)."""


@dataclass
class ConvertedStack:
    """One written stack: the image file, its sidecar and the warnings both carry."""

    series_uid: str
    stack_index: int
    description: str
    image: Path
    sidecar: Path
    warnings: list[str] = field(default_factory=list)


@dataclass
class ConvertReport:
    """What a run did: stacks written and failed, and the files the scan could not use or left out."""

    written: list[ConvertedStack] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (stack label, reason)
    errors: list[FileError] = field(default_factory=list)
    skipped: list[FileError] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{len(self.written)} written, {len(self.failed)} failed, {len(self.errors)} file errors, "
                f"{len(self.skipped)} skipped")


def convert(
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    fmt: str = "nifti",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ConvertReport:
    """Convert every stack under ``path`` into ``out_dir`` (created if needed) as ``fmt`` ("nifti" or
    "nrrd"). FileNotFoundError when ``path`` does not exist, ValueError for an unknown format or an
    output that is not a folder; everything else is reported per stack or per file."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    target = Path(out_dir)
    if target.exists() and not target.is_dir():
        raise ValueError(f"output {target} exists and is not a folder")
    scanned = scan(Path(path), cancel=cancel)
    result = ConvertReport(errors=list(scanned.errors), skipped=list(scanned.skipped))
    taken: set[str] = set()
    total = len(scanned.series)
    for done, series in enumerate(scanned.series):
        report(progress, done, total, f"converting {stack_label(series)}")
        if cancel is not None:
            cancel.raise_if_cancelled()
        stem = output_stem(series, taken)
        try:
            result.written.append(convert_stack(series, target, stem, fmt, cancel))
        except Cancelled:
            raise
        except (LoadError, ConvertError) as exc:
            result.failed.append((stack_label(series), str(exc)))
        except Exception as exc:  # one bad stack must not stop the run: say why and go on
            result.failed.append((stack_label(series), _write_reason(exc)))
    report(progress, total, total, "done")
    return result


def convert_stack(
    series: SeriesInfo, out_dir: Path, stem: str, fmt: str = "nifti", cancel: CancelToken | None = None
) -> ConvertedStack:
    """Load one stack and write ``out_dir/stem.<ext>`` and ``out_dir/stem.json``."""
    volume = load_series(series, cancel=cancel)
    warnings = conversion_warnings(volume, series)
    image = out_dir / (stem + FORMATS[fmt])
    write_image(volume, image, fmt)
    sidecar = out_dir / (stem + ".json")
    document = sidecar_document(volume, series, image.name, fmt, warnings)
    atomic_write_bytes(sidecar, (json.dumps(document, indent=2) + "\n").encode("utf-8"))
    return ConvertedStack(series.series_uid, series.stack_index, series.description, image, sidecar, warnings)


def write_image(volume: Volume, path: Path, fmt: str) -> Path:
    """Write ``volume`` to ``path`` in ``fmt`` (atomically, by the format's writer)."""
    if fmt != "nrrd" and volume.is_colour and (volume.array.shape[-1] != 3 or volume.array.dtype != np.uint8):
        raise ConvertError(f"a colour image with {volume.array.shape[-1]} samples of {volume.array.dtype}: NIfTI "
                           "holds colour only as 8-bit RGB (RGB24); convert it with --format nrrd")
    try:
        if fmt == "nrrd":
            from engine.convert_nrrd import write_nrrd

            return write_nrrd(volume, path)
        from engine.nifti import write_nifti

        return write_nifti(volume, path)
    except ValueError as exc:  # the writers' refusals are sentences naming the file and the reason
        raise ConvertError(str(exc)) from None


def conversion_warnings(volume: Volume, series: SeriesInfo) -> list[str]:
    """The scan's and the loader's warnings, plus what the file format cannot say about this stack."""
    warnings = [str(w) for w in volume.meta.get("warnings", [])]
    kind = series.extra.get("kind", "volume")
    if kind == "cine":
        warnings.append("cine: the third axis is time (one frame per slice), not a position in space")
    elif volume.geometry.is_projection:
        warnings.append("projection image: written as a single slice; its position along the beam is unknown")
    if not volume.spacing_known:
        warnings.append("pixel spacing unknown: 1 mm is written, distances in this file are not real sizes")
    if volume.meta.get("inverted_monochrome1"):
        warnings.append("MONOCHROME1: values are inverted so that higher values are brighter")
    return warnings


def sidecar_document(volume: Volume, series: SeriesInfo, image_name: str, fmt: str,
                     warnings: list[str]) -> dict[str, Any]:
    """The JSON sidecar: dcm2niix's BIDS names where the fact is the same, plus UIDs, grid and warnings."""
    geometry = volume.geometry
    meta = volume.meta
    direction = geometry.direction
    document: dict[str, Any] = {
        "Modality": series.modality,
        "SeriesDescription": series.description,
        "SeriesNumber": series.series_number,
    }
    for key in ("BodyPartExamined", "ViewPosition", "ContrastBolusAgent", "RescaleType", "Units"):
        if meta.get(key):
            document[key] = meta[key]
    if meta.get("ImageType"):
        document["ImageType"] = str(meta["ImageType"]).split("\\")
    thickness = _number(meta.get("SliceThickness"))
    if thickness is not None:
        document["SliceThickness"] = thickness
    if not geometry.is_projection and series.extra.get("kind", "volume") == "volume":
        document["SpacingBetweenSlices"] = geometry.spacing[2]
    document.update({
        "ImageOrientationPatientDICOM": [*map(float, direction[:, 0]), *map(float, direction[:, 1])],
        "ImagePositionPatientFirst": [float(v) for v in geometry.origin],
        "VoxelSpacing": [float(s) for s in geometry.spacing],
        "Dimensions": [int(n) for n in reversed(geometry.shape)] + ([1] if geometry.is_projection else []),
        "Samples": int(volume.array.shape[-1]) if volume.is_colour else 1,
        "DataType": str(volume.array.dtype),
        "StudyInstanceUID": series.study_uid,
        "SeriesInstanceUID": series.series_uid,
        "FrameOfReferenceUID": series.frame_of_reference_uid,
        "StackIndex": series.stack_index,
        "StackKind": series.extra.get("kind", "volume"),
        "NumberOfSourceFiles": len(series.instances),
        "ImageFile": image_name,
        "ImageFormat": "NIfTI-1" if fmt == "nifti" else "NRRD",
        "Warnings": warnings,
        "ConversionSoftware": "Sightline",
        "ConversionSoftwareVersion": _version(),
    })
    if series.extra.get("split"):
        document["StackSplit"] = str(series.extra["split"])
    return document


def output_stem(series: SeriesInfo, taken: set[str]) -> str:
    """``<series number>_<description>[_stack<n>]`` made safe for any file system, unique within ``taken``
    (which it updates). Built from the series number and description only, never from patient data."""
    number = f"{series.series_number:04d}" if series.series_number is not None else "0000"
    text = _UNSAFE.sub("_", series.description or series.modality or "series").strip("._-")[:MAX_NAME]
    stem = f"{number}_{text or 'series'}"
    if series.stack_index:
        stem += f"_stack{series.stack_index + 1}"
    unique, count = stem, 1
    while unique.lower() in taken:
        count += 1
        unique = f"{stem}_{count}"
    taken.add(unique.lower())
    return unique


def stack_label(series: SeriesInfo) -> str:
    """How a stack is named in messages: its number, description and UID."""
    number = "" if series.series_number is None else f"#{series.series_number} "
    stack = f" (stack {series.stack_index + 1})" if series.stack_index else ""
    return f"series {number}{series.description!r} {series.series_uid}{stack}".replace("  ", " ")


def _write_reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"the output cannot be written ({exc.strerror or exc})"
    return describe(exc, "pixel data")


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _version() -> str:
    try:
        return importlib.metadata.version("sightline")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
