"""Atomic, no-clobber writes of received instances under ``root/<study>/<series>/<instance>.dcm``.

Each file is written to a hidden temp file in its final folder, fsynced, then renamed into place, so a
reader (or a crash) never sees half a file and a failed write (full disk) leaves nothing behind. An
instance that is already stored is never overwritten: identical bytes are a no-op, different bytes keep
the first copy and are reported as a conflict (PS3.4 B.4.1 leaves duplicate handling to the SCP; ours is
"first one wins", so a re-send cannot silently change what a reader already opened).
"""

from __future__ import annotations

import contextlib
import enum
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from engine.atomic import fsync_directory, write_temp_beside
from engine.net.uids import instance_path

DIRECTORY_MODE = 0o750
FILE_MODE = 0o640
TEMP_SUFFIX = ".part"


class WriteOutcome(enum.Enum):
    """What happened to one instance."""

    STORED = "stored"  # a new file was written
    IDENTICAL = "identical"  # the same bytes were already stored
    CONFLICT = "conflict"  # different bytes were already stored under this SOP Instance UID; kept those


@dataclass(frozen=True)
class WrittenInstance:
    """Where an instance lives and how it got there."""

    path: Path
    outcome: WriteOutcome


class InstanceStore:
    """Writes instances under ``root`` (created with mode 0o750); safe to share between threads."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).absolute()
        _make_directory(self.root)
        self._lock = threading.Lock()

    def path_for(self, study_uid: str, series_uid: str, sop_instance_uid: str) -> Path:
        """The file of an instance (UIDs validated: :class:`engine.net.uids.InvalidUidError`)."""
        return instance_path(self.root, study_uid, series_uid, sop_instance_uid)

    def write(self, study_uid: str, series_uid: str, sop_instance_uid: str, data: bytes) -> WrittenInstance:
        """Store ``data`` (a whole Part 10 file) atomically; an OSError (disk full) leaves no file behind."""
        target = self.path_for(study_uid, series_uid, sop_instance_uid)
        _make_directory(target.parent.parent)
        _make_directory(target.parent)
        if target.exists():  # cheap early answer for re-sends; decided again under the lock below
            return WrittenInstance(target, _compare(target, data))
        temp_name = write_temp_beside(target, data, FILE_MODE, TEMP_SUFFIX)
        try:
            with self._lock:
                if target.exists():
                    return WrittenInstance(target, _compare(target, data))
                os.replace(temp_name, target)
            fsync_directory(target.parent)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
        return WrittenInstance(target, WriteOutcome.STORED)


def _compare(path: Path, data: bytes) -> WriteOutcome:
    same = path.stat().st_size == len(data) and path.read_bytes() == data
    return WriteOutcome.IDENTICAL if same else WriteOutcome.CONFLICT


def _make_directory(path: Path) -> None:
    """Create ``path`` (and parents) with mode 0o750 whatever the umask; existing folders are kept as is."""
    if path.is_dir():
        return
    _make_directory(path.parent)
    try:
        path.mkdir(mode=DIRECTORY_MODE)
    except FileExistsError:
        return
    os.chmod(path, DIRECTORY_MODE)

