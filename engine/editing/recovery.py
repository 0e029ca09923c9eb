"""Crash recovery of an editing session: ``recovery/<key>/`` in the user data folder holds

- ``base.npz``: the label map when the session started (compressed), with geometry, label table, key,
  start time and a random token; written once, atomically (temp + fsync + rename);
- ``journal.bin``: an append-only journal of user actions — edit diffs, undo, redo, and the partial diff
  of a brush stroke still in progress — each record framed with its length and CRC-32, appended with one
  ``write`` and fsynced before the action returns. A record cut short by a crash fails its check and is
  ignored, with everything after it.

So every finished action is on disk when it returns (nothing finished is lost); only a stroke still in
progress is at risk, and :meth:`EditSession.flush` — which the app calls on a timer of at most 5 s —
journals it, so at most the last 5 s of painting are lost. Replaying the journal on the base rebuilds the
label map and its undo history.
"""

from __future__ import annotations

import os
import shutil
import struct
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine.atomic import atomic_write_bytes
from engine.editing.codec import edit_from_bytes, edit_to_bytes, label_map_from_npz, label_map_to_npz
from engine.editing.history import DEFAULT_LIMIT, Edit, History
from engine.editing.naming import folder_name
from engine.paths import data_dir
from engine.volume import LabelMap

BASE_NAME = "base.npz"
JOURNAL_NAME = "journal.bin"
_FRAME = struct.Struct("<IIc")  # payload length, CRC-32 of kind + payload, kind
HEADER, EDIT, UNDO, REDO, PARTIAL = b"H", b"E", b"U", b"R", b"P"


class RecoveryError(ValueError):
    """A recovery folder that cannot be read; the message names the file."""


def recovery_root() -> Path:
    """Where recovery sessions live: ``<user data>/recovery``."""
    return data_dir() / "recovery"


def session_folder(key: str) -> Path:
    """The folder of the session for ``key`` (a study UID or label-map id; unsafe characters replaced)."""
    return recovery_root() / folder_name(key)


@dataclass(frozen=True)
class RecoverableSession:
    """A session left behind by a crash (or still open): when it started and was last saved, and how many
    actions its journal holds."""

    key: str
    folder: Path
    description: str
    started_utc: str
    saved_utc: str
    actions: int


class RecoveryJournal:
    """The open journal of one editing session; every ``record_*`` call is durable when it returns."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._fd = os.open(folder / JOURNAL_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    @classmethod
    def start(
        cls, key: str, label_map: LabelMap, description: str = "", history_limit: int = DEFAULT_LIMIT
    ) -> RecoveryJournal:
        """Begin a session for ``key`` from ``label_map``, replacing any earlier session of that key."""
        folder = session_folder(key)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        token = uuid.uuid4().hex
        meta = {
            "key": key,
            "description": description,
            "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "token": token,
            "history_limit": history_limit,
        }
        atomic_write_bytes(folder / BASE_NAME, label_map_to_npz(label_map, meta))
        journal = cls(folder)
        journal._append(HEADER, token.encode())
        return journal

    @classmethod
    def reopen(cls, session: RecoverableSession) -> RecoveryJournal:
        """Continue a recovered session's journal (a damaged tail is cut off first)."""
        _, meta = _read_base(session.folder)
        path = session.folder / JOURNAL_NAME
        end = sum(size for _, _, size in _records(path, meta["token"]))
        if path.exists():
            os.truncate(path, end)
        journal = cls(session.folder)
        if end == 0:
            journal._append(HEADER, meta["token"].encode())
        return journal

    def record_edit(self, edit: Edit) -> None:
        self._append(EDIT, edit_to_bytes(edit))

    def record_partial(self, edit: Edit) -> None:
        """The stroke in progress so far (relative to the state when it began)."""
        self._append(PARTIAL, edit_to_bytes(edit))

    def record_undo(self) -> None:
        self._append(UNDO, b"")

    def record_redo(self) -> None:
        self._append(REDO, b"")

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def discard(self) -> None:
        """Close and delete the session (after the correction was saved, or the user threw it away)."""
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _append(self, kind: bytes, payload: bytes) -> None:
        record = _FRAME.pack(len(payload), zlib.crc32(kind + payload), kind) + payload
        written = os.write(self._fd, record)
        while written < len(record):
            written += os.write(self._fd, record[written:])
        os.fsync(self._fd)


def find_recoverable() -> list[RecoverableSession]:
    """Every session with a readable base in the recovery folder, most recently saved first."""
    root = recovery_root()
    found = []
    for folder in sorted(root.iterdir()) if root.exists() else []:
        try:
            _, meta = _read_base(folder)
        except RecoveryError:
            continue
        journal = folder / JOURNAL_NAME
        saved = (journal if journal.exists() else folder / BASE_NAME).stat().st_mtime
        actions = sum(kind in (EDIT, UNDO, REDO) for kind, _, _ in _records(journal, meta["token"]))
        found.append(RecoverableSession(
            key=meta["key"],
            folder=folder,
            description=meta["description"],
            started_utc=meta["started_utc"],
            saved_utc=datetime.fromtimestamp(saved, UTC).isoformat(timespec="seconds"),
            actions=actions,
        ))
    return sorted(found, key=lambda session: session.saved_utc, reverse=True)


def recover(session: RecoverableSession) -> tuple[LabelMap, History]:
    """The label map and undo history at the last durable action (a stroke in progress counts as done)."""
    label_map, meta = _read_base(session.folder)
    history = History(meta["history_limit"])
    pending: Edit | None = None
    for kind, payload, _ in _records(session.folder / JOURNAL_NAME, meta["token"]):
        if kind == PARTIAL:
            pending = edit_from_bytes(payload)
            continue
        if kind == HEADER:
            continue
        pending = None
        if kind == EDIT:
            edit = edit_from_bytes(payload)
            edit.redo(label_map)
            history.push(edit)
        elif kind == UNDO:
            history.undo(label_map)
        elif kind == REDO:
            history.redo(label_map)
    if pending is not None and not pending.diff.is_empty:
        pending.redo(label_map)
        history.push(pending)
    return label_map, history


def discard(session: RecoverableSession) -> None:
    """Delete a recoverable session."""
    shutil.rmtree(session.folder, ignore_errors=True)


def _read_base(folder: Path) -> tuple[LabelMap, dict]:
    path = folder / BASE_NAME
    try:
        return label_map_from_npz(path.read_bytes())
    except (OSError, ValueError, KeyError) as error:
        raise RecoveryError(f"{path}: not a readable recovery base ({error})") from None


def _records(path: Path, token: str) -> Iterator[tuple[bytes, bytes, int]]:
    """(kind, payload, record size) of each intact record after a header that matches ``token``."""
    if not path.exists():
        return
    data = path.read_bytes()
    offset = 0
    while offset + _FRAME.size <= len(data):
        length, crc, kind = _FRAME.unpack_from(data, offset)
        end = offset + _FRAME.size + length
        payload = data[offset + _FRAME.size : end]
        if end > len(data) or zlib.crc32(kind + payload) != crc:
            return
        if offset == 0 and (kind != HEADER or payload != token.encode()):
            return
        yield kind, payload, end - offset
        offset = end
