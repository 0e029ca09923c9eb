"""De-identification of a file or folder tree into OUT/<study UID>/<series UID>/<SOP instance UID>.dcm.

Output paths are built only from the (new) UIDs, never from header text. Each unreadable or invalid
input is reported with its reason and the run goes on; only a bad IN/OUT pair is fatal (ValueError).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from engine.atomic import atomic_write
from engine.deid.burned_in import BurnedInAnnotationError, burned_in_reason
from engine.deid.context import DeidContext
from engine.deid.dataset import deidentify_dataset
from engine.deid.options import DeidOptions
from engine.progress import CancelToken, ProgressCallback, report

MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"
_UID = re.compile(r"[0-9]+(\.[0-9]+)*")


@dataclass
class DeidReport:
    """What a run did: files written (source, output), refused and failed (source, reason), warnings."""

    written: list[tuple[Path, Path]] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)
    errors: list[tuple[Path, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: how many files were written, refused and failed."""
        return f"{len(self.written)} written, {len(self.refused)} refused, {len(self.errors)} errors"


class _Refused(Exception):
    """The file is valid DICOM that this run will not de-identify."""


def deidentify_tree(
    in_path: str | os.PathLike,
    out_path: str | os.PathLike,
    options: DeidOptions,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    context: DeidContext | None = None,
) -> DeidReport:
    """De-identify every file under ``in_path`` into ``out_path``; ``context`` holds the key."""
    source, target = Path(in_path).resolve(), Path(out_path).resolve()
    _check_paths(source, target)
    context = context or DeidContext()
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    result = DeidReport()
    destinations: dict[Path, Path] = {}
    for index, path in enumerate(files):
        if cancel is not None:
            cancel.raise_if_cancelled()
        report(progress, index, len(files), "de-identifying")
        try:
            ds = _read(path)
            warning = _deidentify(ds, options, context, path)
            destination = target / _relative_output(ds)
            if destination in destinations:
                raise ValueError(f"same SOP Instance UID as {destinations[destination]}")
            with atomic_write(destination) as handle:
                ds.save_as(handle, enforce_file_format=True)
        except _Refused as refusal:
            result.refused.append((path, str(refusal)))
            continue
        except Exception as exc:  # one bad file must not stop the run: record it and go on
            result.errors.append((path, f"{type(exc).__name__}: {exc}"))
            continue
        destinations[destination] = path
        result.written.append((path, destination))
        if warning:
            result.warnings.append(warning)
    report(progress, len(files), len(files), "done")
    return result


def _check_paths(source: Path, target: Path) -> None:
    if not source.exists():
        raise ValueError(f"input {source} does not exist")
    if target.exists() and not target.is_dir():
        raise ValueError(f"output {target} exists and is not a folder")
    if source.is_dir() and (target == source or source in target.parents):
        raise ValueError("the output folder must not be the input folder or inside it")


def _read(path: Path) -> Dataset:
    """Read a DICOM file, accepting files without preamble/meta only when they look like SOP instances."""
    try:
        return pydicom.dcmread(path)
    except InvalidDicomError:
        ds = pydicom.dcmread(path, force=True)
        if "SOPClassUID" not in ds or "SOPInstanceUID" not in ds:
            raise InvalidDicomError("not a DICOM file") from None
        return ds


def _deidentify(ds: Dataset, options: DeidOptions, context: DeidContext, path: Path) -> str | None:
    """De-identify ``ds`` in place; returns a warning to report, raises _Refused for refused files."""
    meta_class = getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", "")
    sop_class = str(ds.get("SOPClassUID", "") or meta_class)
    if sop_class == MEDIA_STORAGE_DIRECTORY:
        raise _Refused("DICOMDIR: file-set directories are not de-identified; rebuild one for the output")
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID"):
        if not ds.get(keyword):
            raise ValueError(f"missing {keyword}")
    reason = burned_in_reason(ds)
    try:
        deidentify_dataset(ds, options, context)
    except BurnedInAnnotationError as exc:
        raise _Refused(f"{exc}; use --allow-burned-in after checking the pixels") from None
    return f"{path}: {reason}; de-identified with burned-in annotations allowed" if reason else None


def _relative_output(ds: Dataset) -> Path:
    """study/series/instance.dcm from the dataset's (new) UIDs, each checked to be a plain UID."""
    parts = [str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)]
    for uid in parts:
        if len(uid) > 64 or not _UID.fullmatch(uid):
            raise ValueError(f"invalid UID {uid!r}: cannot build an output path")
    return Path(parts[0], parts[1], parts[2] + ".dcm")
