"""List the files a scan should read: a folder (recursive), a single file, a .zip, or a DICOMDIR file-set.

A folder that holds a DICOMDIR is read through it (its referenced files, case-insensitively matched on
disk); files beside it that it does not reference are still read, but when they turn out not to be DICOM
(viewer programs on a CD, notes) they are reported as skipped rather than as errors.

Nothing outside the given folder is ever read: a DICOMDIR record whose ReferencedFileID holds ``..``, an
absolute path or a symbolic link leading out of the file-set's folder, a zip member named ``../x`` or
``/x``, and a symbolic link in a scanned folder that leads out of it are refused with an error naming them.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from engine.dicom.limits import UnsafeHeader, check_budget
from engine.series import FileError, FileRef

# Files that commonly sit next to DICOM series and are not DICOM: ignored without being read.
SIDECAR_SUFFIXES = (".json", ".nii", ".nii.gz", ".md", ".txt", ".png", ".jpg", ".jpeg", ".csv", ".html")
DICOMDIR_NAME = "DICOMDIR"
DICOMDIR_REASON = "DICOMDIR (index of a file-set, not an image)"
OUTSIDE_LINK_REASON = "a symbolic link to a file outside the scanned folder; not read"


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
        _add_dicomdir(root, listing, {str(f).lower(): f for f in _walk(root.parent, listing)}, set())
    else:
        _add_file(root, listing, explicit=True)
    return listing


def _walk(root: Path, listing: SourceListing) -> list[Path]:
    """Every file under ``root``, in a stable order. Symbolic links to folders are not followed; symbolic
    links to files outside ``root`` are refused (an error in ``listing``)."""
    files: list[Path] = []
    real_root = root.resolve()
    for folder, subfolders, names in os.walk(root):
        subfolders.sort()
        for name in sorted(names):
            file = Path(folder) / name
            if file.is_symlink() and not _inside(file, real_root):
                listing.errors.append(FileError(str(file), OUTSIDE_LINK_REASON))
            else:
                files.append(file)
    return files


def _inside(path: Path, real_root: Path) -> bool:
    """Whether ``path``, symbolic links resolved, lies inside ``real_root`` (itself resolved)."""
    try:
        return path.resolve().is_relative_to(real_root)
    except (OSError, RuntimeError):  # a link loop
        return False


def _add_folder(root: Path, listing: SourceListing) -> None:
    files = _walk(root, listing)
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
        file_ids = _referenced_file_ids(file)
    except Exception:  # noqa: BLE001 - pydicom raises many types for damaged files
        listing.errors.append(
            FileError(str(file), "the DICOMDIR is damaged and cannot be read; its folder is scanned instead")
        )
        return False
    real_root = file.parent.resolve()
    for number, parts in file_ids:
        path = file.parent.joinpath(*parts)
        if not _confined(parts) or not _inside(path, real_root):
            shown = "\\".join(parts)
            listing.errors.append(
                FileError(
                    str(file),
                    f"directory record {number} references {shown!r}, which lies outside the DICOMDIR's "
                    "folder; that file is not read",
                )
            )
            continue
        actual = path if path.is_file() else on_disk.get(str(path).lower())
        if actual is None:
            listing.errors.append(FileError(str(path), f"referenced by {file} but missing"))
        elif actual not in referenced:
            referenced.add(actual)
            listing.refs.append(FileRef(str(actual)))
    return True


def _referenced_file_ids(file: Path) -> list[tuple[int, list[str]]]:
    """(record number from 1, ReferencedFileID components) of the DICOMDIR's directory records."""
    import pydicom

    records = pydicom.dcmread(file).get("DirectoryRecordSequence")
    if records is None:
        raise ValueError("no directory records")
    file_ids = []
    for number, record in enumerate(records, start=1):
        file_id = record.get("ReferencedFileID")
        if file_id:
            parts = [file_id] if isinstance(file_id, str) else list(file_id)
            file_ids.append((number, [str(part).strip() for part in parts]))
    return file_ids


def _confined(parts: list[str]) -> bool:
    """Whether file ID components name a file below the file-set root: no ``..``, absolute, drive-qualified
    or NUL-holding component (``/`` inside a component, which some writers use, is allowed otherwise)."""
    for part in parts:
        segments = part.replace("\\", "/").split("/")
        if part.startswith(("/", "\\")) or ".." in segments or ":" in part or "\0" in part:
            return False
    return True


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
            infos = sorted((info for info in archive.infolist() if not info.is_dir()), key=lambda i: i.filename)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        listing.errors.append(FileError(str(file), "the zip archive is damaged and cannot be read"))
        return
    for info in infos:
        member = info.filename
        ref = FileRef(str(file), member)
        name = member.rsplit("/", 1)[-1].lower()
        refusal = _member_refusal(info)
        if refusal:
            listing.errors.append(FileError(ref.display(), refusal))
        elif name.upper() == DICOMDIR_NAME:
            listing.skipped.append(FileError(ref.display(), DICOMDIR_REASON))
        elif name.endswith(".zip"):
            listing.skipped.append(FileError(ref.display(), "nested archive (not scanned)"))
        elif name.startswith(".") or name.endswith(SIDECAR_SUFFIXES) or "__MACOSX/" in member:
            listing.skipped.append(FileError(ref.display(), _sidecar_reason(name)))
        else:
            listing.refs.append(ref)


def _member_refusal(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member is not read (a name leaving the archive, a size beyond the budget), or None."""
    parts = info.filename.replace("\\", "/").split("/")
    if info.filename.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
        return "the member's name points outside the archive (an absolute path or '..'); not read"
    try:
        check_budget(info.file_size, "the unpacked member")
    except UnsafeHeader as exc:
        return f"{exc}; not read"
    return None


def _sidecar_reason(name: str) -> str:
    if name.startswith("."):
        return "hidden file (ignored)"
    suffix = ".nii.gz" if name.endswith(".nii.gz") else os.path.splitext(name)[1]
    return f"not DICOM ({suffix} sidecar file, ignored)"
