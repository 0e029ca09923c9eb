"""Header-only DICOM scanner: find every loadable stack under a folder, a file, a .zip or a DICOMDIR.

Only headers are read (``stop_before_pixels``); the pixel data element's length is checked against the
file size and the image size so that truncated files are reported here, not when the loader hits them.
Files that are not DICOM or are damaged go to ``errors``; DICOM objects without an image (SR, RT plan,
SEG, DICOMDIR), duplicate copies of an instance and known sidecar files (.json, .nii.gz, ...) go to
``skipped``. One bad file never stops the scan.

``SeriesInfo.extra`` keys set here for the loader and the viewer:

- ``kind``: ``"volume"`` (z, y, x), ``"projection"`` (y, x) or ``"cine"`` (frames of one multi-frame
  image without positions as (t, y, x); z spacing 1 means "one frame").
- ``positions``: volumes built from positions: ImagePositionPatient of each slice, in slice order (mm).
- ``rescale``: volumes: ``[slope, intercept]`` of each slice in slice order, when any slice has them
  (for enhanced multi-frame they come from PixelValueTransformationSequence per frame).
- ``gaps``: ``[{"after_slice": i, "missing": n}]`` where slices are missing (the volume is not padded).
- ``tilt_deg``: angle between the stack axis and the slice normal of a tilted / sheared stack.
- ``split``: why this stack is one part of a split series, e.g. ``"EchoNumbers=2"``, ``"sagittal"``,
  ``"256x256"``, ``"localizer"``, ``"occurrence 2"``.
- ``samples_per_pixel``: present when > 1 (colour images: the pixel array gets a trailing channel axis).
- ``pixel_spacing_source``: 2D images: ``"PixelSpacing"``, ``"ImagerPixelSpacing"`` or ``"assumed"``.
- ``frame_time_ms``: cine stacks with a FrameTime.
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.dicom.errors import describe
from engine.dicom.header import HeaderRecord, NotAnImage, NotDicom, read_header
from engine.dicom.pixels import HeaderCache
from engine.dicom.sources import list_sources
from engine.dicom.stacks import group_series
from engine.progress import CancelToken, ProgressCallback, report
from engine.series import FileError, FileRef, ScanResult

# Header parsing is GIL-bound Python, so threads only overlap the time spent waiting for files to open.
# Measured on 1500 files of 64x64 (2-core machine): warm local disk 0.85 s with 1 worker, 1.3-1.8 s with
# 4; with 2 ms added per open (a network share) 4.7 s with 1 worker, 1.3 s with 4. On 400 CT slices of a
# local disk: 0.26 s with 1 worker, 0.51 s with 4 (warm), 0.33 s and 0.55 s (cold page cache). So a scan
# reads local files with one worker and network file systems with four; unknown storage gets four.
DEFAULT_WORKERS = 4
LOCAL_WORKERS = 1
NETWORK_FILE_SYSTEMS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs",
                                  "lustre", "fuse.sshfs", "fuse.s3fs", "fuse.rclone", "davfs", "fuse.davfs2"})


@dataclass
class ScanReport(ScanResult):
    """A ScanResult plus the files knowingly left out (non-image DICOM, duplicates, sidecars)."""

    skipped: list[FileError] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """``{"series": [...], "errors": [...], "skipped": [{"path", "reason"}]}``."""
        return {**super().to_json(), "skipped": [s.to_json() for s in self.skipped]}


def scan(
    path: str | Path,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    workers: int | None = None,
) -> ScanReport:
    """Scan a folder (recursively), a file, a .zip or a DICOMDIR; FileNotFoundError if ``path`` is absent.
    ``workers``: files read in parallel (default: by the storage ``path`` is on, see :func:`workers_for`)."""
    listing = list_sources(path)
    workers = workers_for(Path(path)) if workers is None else workers
    result = scan_files(listing.refs, progress, cancel, quiet=listing.quiet, workers=workers)
    result.errors[:0] = listing.errors
    result.skipped[:0] = listing.skipped
    return result


def workers_for(path: Path, mounts: Path = Path("/proc/self/mounts")) -> int:
    """How many files to read in parallel under ``path``: one on a local file system, four on a network file
    system or where the mount table cannot tell (no /proc: not Linux)."""
    try:
        table = mounts.read_text(encoding="utf-8", errors="replace").splitlines()
        target = path.resolve()
    except OSError:
        return DEFAULT_WORKERS
    best, fs_type = -1, ""
    for line in table:
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point = Path(fields[1].replace("\\040", " "))
        if (target == mount_point or mount_point in target.parents) and len(mount_point.parts) > best:
            best, fs_type = len(mount_point.parts), fields[2]
    if best < 0:
        return DEFAULT_WORKERS
    return DEFAULT_WORKERS if fs_type in NETWORK_FILE_SYSTEMS else LOCAL_WORKERS


def scan_files(
    refs: Iterable[FileRef],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    quiet: set[FileRef] | frozenset[FileRef] = frozenset(),
    workers: int = DEFAULT_WORKERS,
) -> ScanReport:
    """Read the headers of ``refs`` and group them into stacks.

    ``progress(done, total, path)`` is called once per file; ``cancel`` is checked per file and raises
    :class:`engine.progress.Cancelled`. Files in ``quiet`` that are not DICOM are skipped, not errors.
    """
    refs = list(refs)
    result = ScanReport()
    records: list[HeaderRecord] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about every odd value; problems are reported below
        for done, (ref, outcome) in enumerate(_read_all(refs, cancel, workers), start=1):
            if isinstance(outcome, HeaderRecord):
                records.append(outcome)
            elif isinstance(outcome, NotDicom) and ref in quiet:
                result.skipped.append(FileError(ref.display(), "not DICOM (not referenced by the DICOMDIR)"))
            elif isinstance(outcome, NotAnImage):
                result.skipped.append(FileError(ref.display(), str(outcome)))
            else:
                result.errors.append(FileError(ref.display(), _reason(outcome)))
            report(progress, done, len(refs), ref.display())
        result.series, duplicates = group_series(records)
    result.skipped.extend(duplicates)
    return result


def _read_all(
    refs: list[FileRef], cancel: CancelToken | None, workers: int
) -> Iterator[tuple[FileRef, HeaderRecord | Exception]]:
    """(ref, record or exception) for every ref; zip members share one open archive per zip file."""
    files = [r for r in refs if r.member is None]
    cache = HeaderCache()  # shared: the files of a series repeat most header facts
    members: dict[str, list[FileRef]] = {}
    for ref in refs:
        if ref.member is not None:
            members.setdefault(ref.path, []).append(ref)
    if workers > 1 and len(files) > 1:
        with ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(_read_one, ref, None, cancel, cache) for ref in files]
            try:
                for ref, future in zip(files, futures, strict=True):
                    _check(cancel)
                    yield ref, future.result()
            finally:
                for future in futures:
                    future.cancel()
    else:
        for ref in files:
            _check(cancel)
            yield ref, _read_one(ref, None, cancel, cache)
    for zip_path, zip_refs in members.items():
        with zipfile.ZipFile(zip_path) as archive:
            for ref in zip_refs:
                _check(cancel)
                yield ref, _read_one(ref, archive, cancel, cache)


def _read_one(
    ref: FileRef, archive: zipfile.ZipFile | None, cancel: CancelToken | None, cache: HeaderCache | None = None
) -> HeaderRecord | Exception:
    """The header record of one file, or the exception that says why there is none."""
    if cancel is not None and cancel.cancelled:
        return NotAnImage("cancelled")
    try:
        return read_header(ref, archive, cache)
    except Exception as exc:  # the file boundary: pydicom and the OS raise many exception types
        return exc


def _check(cancel: CancelToken | None) -> None:
    if cancel is not None:
        cancel.raise_if_cancelled()


def _reason(exc: Exception) -> str:
    return describe(exc, "header")
