"""List the files a scan should read: a folder (recursive), a single file, a .zip, or a DICOMDIR file-set.

A folder that holds a DICOMDIR is read through it (its referenced files, case-insensitively matched on
disk); files beside it that it does not reference are still read, but when they turn out not to be DICOM
(viewer programs on a CD, notes) they are reported as skipped rather than as errors.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from engine.series import FileError, FileRef

# Files that commonly sit next to DICOM series and are not DICOM: ignored without being read.
SIDECAR_SUFFIXES = (".json", ".nii", ".nii.gz", ".md", ".txt", ".png", ".jpg", ".jpeg", ".csv", ".html")
DICOMDIR_NAME = "DICOMDIR"
DICOMDIR_REASON = "DICOMDIR (index of a file-set, not an image)"


@dataclass
class SourceListing:
    """What to read, plus the entries already known to be skipped or broken."""

    refs: list[FileRef] = field(default_factory=list)
    quiet: set[FileRef] = field(default_factory=set)  # non-DICOM here is "skipped", not an error
    skipped: list[FileError] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)


def list_sources(path: str | Path) -> SourceListing:
    """Enumerate the DICOM candidates under ``path`` (FileNotFoundError if it does not exist)."""
    root = Path(os.path.abspath(path))
    if not root.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    listing = SourceListing()
    if root.is_dir():
        _add_folder(root, listing)
    elif root.name.upper() == DICOMDIR_NAME:
        _add_dicomdir(root, listing, {str(f).lower(): f for f in _walk(root.parent)}, set())
    else:
        _add_file(root, listing, explicit=True)
    return listing


def _walk(root: Path) -> list[Path]:
    """Every file under ``root``, in a stable order (symbolic links to folders are not followed)."""
    files: list[Path] = []
    for folder, subfolders, names in os.walk(root):
        subfolders.sort()
        files.extend(Path(folder) / name for name in sorted(names))
    return files


def _add_folder(root: Path, listing: SourceListing) -> None:
    files = _walk(root)
    on_disk = {str(f).lower(): f for f in files}
    referenced: set[Path] = set()
    dicomdir_roots: list[Path] = []
    for file in files:
        if file.name.upper() == DICOMDIR_NAME and _add_dicomdir(file, listing, on_disk, referenced):
            dicomdir_roots.append(file.parent)
    for file in files:
        if file in referenced or file.name.upper() == DICOMDIR_NAME:
            continue
        quiet = any(file.is_relative_to(r) for r in dicomdir_roots)
        _add_file(file, listing, explicit=False, quiet=quiet)


def _add_dicomdir(
    file: Path, listing: SourceListing, on_disk: dict[str, Path], referenced: set[Path]
) -> bool:
    """Add the files a DICOMDIR references; False (and an error) when the DICOMDIR is unreadable.

    The directory records are read directly rather than through ``pydicom.fileset.FileSet``, which
    silently drops records whose file is missing or whose name differs in case on disk.
    """
    listing.skipped.append(FileError(str(file), DICOMDIR_REASON))
    try:
        paths = _referenced_paths(file)
    except Exception as exc:  # pydicom raises many types for damaged files
        listing.errors.append(
            FileError(str(file), f"unreadable DICOMDIR ({exc}); its folder is scanned instead")
        )
        return False
    for path in paths:
        actual = path if path.is_file() else on_disk.get(str(path).lower())
        if actual is None:
            listing.errors.append(FileError(str(path), f"referenced by {file} but missing"))
        elif actual not in referenced:
            referenced.add(actual)
            listing.refs.append(FileRef(str(actual)))
    return True


def _referenced_paths(file: Path) -> list[Path]:
    """The files a DICOMDIR's directory records reference, relative to the DICOMDIR's folder."""
    import pydicom

    records = pydicom.dcmread(file).get("DirectoryRecordSequence")
    if records is None:
        raise ValueError("no directory records")
    paths = []
    for record in records:
        file_id = record.get("ReferencedFileID")
        if file_id:
            parts = [file_id] if isinstance(file_id, str) else list(file_id)
            paths.append(file.parent.joinpath(*(str(part).strip() for part in parts)))
    return paths


def _add_file(file: Path, listing: SourceListing, explicit: bool, quiet: bool = False) -> None:
    name = file.name.lower()
    if name.endswith(".zip"):
        _add_zip(file, listing)
    elif not explicit and (name.startswith(".") or name.endswith(SIDECAR_SUFFIXES)):
        listing.skipped.append(FileError(str(file), _sidecar_reason(name)))
    else:
        ref = FileRef(str(file))
        listing.refs.append(ref)
        if quiet:
            listing.quiet.add(ref)


def _add_zip(file: Path, listing: SourceListing) -> None:
    try:
        with zipfile.ZipFile(file) as archive:
            members = sorted(info.filename for info in archive.infolist() if not info.is_dir())
    except (zipfile.BadZipFile, OSError) as exc:
        listing.errors.append(FileError(str(file), f"unreadable zip archive ({exc})"))
        return
    for member in members:
        ref = FileRef(str(file), member)
        name = member.rsplit("/", 1)[-1].lower()
        if name.upper() == DICOMDIR_NAME:
            listing.skipped.append(FileError(ref.display(), DICOMDIR_REASON))
        elif name.endswith(".zip"):
            listing.skipped.append(FileError(ref.display(), "nested archive (not scanned)"))
        elif name.startswith(".") or name.endswith(SIDECAR_SUFFIXES) or "__MACOSX/" in member:
            listing.skipped.append(FileError(ref.display(), _sidecar_reason(name)))
        else:
            listing.refs.append(ref)


def _sidecar_reason(name: str) -> str:
    if name.startswith("."):
        return "hidden file (ignored)"
    suffix = ".nii.gz" if name.endswith(".nii.gz") else os.path.splitext(name)[1]
    return f"not DICOM ({suffix} sidecar file, ignored)"
