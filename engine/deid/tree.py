"""De-identification of a file, folder tree, zip or DICOMDIR into OUT/<study UID>/<series UID>/<SOP UID>.dcm.

The inputs are listed exactly as ``sightline scan`` lists them (engine.dicom.sources): folders
recursively, zip members read in place, a DICOMDIR's referenced files, and nothing outside the input
(``..`` in a DICOMDIR or zip member, symbolic links leaving the folder are refused). Output paths are built
only from the (new) UIDs, never from header text. Each unreadable or invalid input is reported with a
sentence naming the reason and the run goes on; files that are not DICOM (and sidecar files, a DICOMDIR
index) are listed as skipped; only a bad IN/OUT pair is fatal (ValueError).
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from engine.atomic import atomic_write
from engine.deid.burned_in import BurnedInAnnotationError, burned_in_reason
from engine.deid.context import DeidContext
from engine.deid.dataset import deidentify_dataset
from engine.deid.options import DeidOptions
from engine.deid.truncation import read_checked
from engine.dicom.errors import PlainError, describe
from engine.dicom.sources import list_sources
from engine.progress import CancelToken, ProgressCallback, report
from engine.series import FileRef

MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"
NOT_DICOM = "not a DICOM file"
_UID = re.compile(r"[0-9]+(\.[0-9]+)*")
_log = logging.getLogger(__name__)


@dataclass
class DeidReport:
    """What a run did: files written (source, output), refused, failed and skipped (source, reason), and
    warnings. A zip member's source is ``Path("archive.zip::member")``, as ``sightline scan`` names it."""

    written: list[tuple[Path, Path]] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)
    errors: list[tuple[Path, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line: how many files were written, refused, failed and skipped."""
        line = f"{len(self.written)} written, {len(self.refused)} refused, {len(self.errors)} errors"
        return line + (f", {len(self.skipped)} skipped" if self.skipped else "")


class _Refused(Exception):
    """The file is valid DICOM that this run will not de-identify."""


class _NotDicom(Exception):
    """The file is not DICOM at all: skipped, not an error."""


class _Invalid(PlainError):
    """The file is DICOM but cannot be de-identified as it is (the message says why)."""


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
    listing = list_sources(source)
    result = DeidReport()
    result.errors.extend((Path(e.path), e.reason) for e in listing.errors)
    result.skipped.extend((Path(e.path), e.reason) for e in listing.skipped)
    refs = listing.refs
    destinations: dict[Path, Path] = {}
    for index, ref in enumerate(refs):
        if cancel is not None:
            cancel.raise_if_cancelled()
        report(progress, index, len(refs), "de-identifying")
        path = Path(ref.display())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pydicom warns about odd values; they are kept as they are
                ds = _read(ref)
                warning = _deidentify(ds, options, context, path)
                destination = target / _relative_output(ds)
                if destination in destinations:
                    raise _Invalid(f"it has the same SOP Instance UID as {destinations[destination]}; not written")
                _write(ds, destination)
        except _Refused as refusal:
            result.refused.append((path, str(refusal)))
            continue
        except _NotDicom as reason:
            result.skipped.append((path, str(reason)))
            continue
        except Exception as exc:  # one bad file must not stop the run: record it and go on
            result.errors.append((path, describe(exc, "data")))
            continue
        destinations[destination] = path
        result.written.append((path, destination))
        if warning:
            result.warnings.append(warning)
    report(progress, len(refs), len(refs), "done")
    return result


def _check_paths(source: Path, target: Path) -> None:
    if not source.exists():
        raise ValueError(f"input {source} does not exist")
    if target.exists() and not target.is_dir():
        raise ValueError(f"output {target} exists and is not a folder")
    if source.is_dir() and (target == source or source in target.parents):
        raise ValueError("the output folder must not be the input folder or inside it")


def _read(ref: FileRef) -> Dataset:
    """Read a DICOM file or zip member, accepting one without preamble/meta only when it looks like a SOP
    instance; raises _NotDicom for anything else and _Refused for a file cut short."""
    data = ref.read_bytes()  # a zip member's size was checked against the budget when it was listed
    if data[:2] == b"\x1f\x8b":
        raise _NotDicom(f"{NOT_DICOM} (gzip-compressed: unpack it first)")
    try:
        ds, truncated = read_checked(data)
    except InvalidDicomError:
        try:
            ds, truncated = read_checked(data, force=True)
        except Exception as exc:  # noqa: BLE001 - forced reads of arbitrary bytes fail in many ways
            _log.info("%s: forced read failed: %s", ref.display(), exc)
            raise _NotDicom(NOT_DICOM) from None
        if "SOPClassUID" not in ds or "SOPInstanceUID" not in ds:
            raise _NotDicom(NOT_DICOM) from None
    if truncated:
        raise _Refused(f"{truncated}; not written")
    return ds


def _write(ds: Dataset, destination: Path) -> None:
    """Write ``ds`` atomically; a value pydicom cannot encode is a per-file error in words."""
    try:
        with atomic_write(destination) as handle:
            ds.save_as(handle, enforce_file_format=True)
    except OSError:
        raise
    except Exception as exc:
        _log.info("%s: cannot encode: %s: %s", destination, type(exc).__name__, exc)
        raise _Invalid("its de-identified copy cannot be written: a value in it cannot be encoded") from None


def _deidentify(ds: Dataset, options: DeidOptions, context: DeidContext, path: Path) -> str | None:
    """De-identify ``ds`` in place; returns a warning to report, raises _Refused for refused files."""
    meta_class = getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", "")
    sop_class = str(ds.get("SOPClassUID", "") or meta_class)
    if sop_class == MEDIA_STORAGE_DIRECTORY:
        raise _Refused("DICOMDIR: file-set directories are not de-identified; rebuild one for the output")
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID"):
        if not ds.get(keyword):
            raise _Invalid(f"it has no {keyword}, which the de-identified copy needs; not written")
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
            raise _Invalid(f"its UID {uid[:70]!r} is not a valid UID, so no output path can be built from it")
    return Path(parts[0], parts[1], parts[2] + ".dcm")
