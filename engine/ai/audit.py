"""Append-only, hash-chained audit log (JSON Lines) of AI runs and exports.

Each line is one entry ``{seq, time_utc, user, event, details, prev_hash, hash}`` where ``hash`` is the
SHA-256 of the canonical JSON of the entry without ``hash`` and ``prev_hash`` is the previous entry's hash
(64 zeros for the first). A sidecar ``<log>.head`` file, rewritten atomically after every append, holds the
entry count and last hash, so that cutting entries off the end is detected too. Appends hold an exclusive
``fcntl`` lock on ``<log>.lock`` and are fsynced, so several processes may write at once.

Limitation: the chain has no secret key. It proves that nobody edited, inserted, reordered or removed an
entry *without recomputing every later hash and the head file*; it does not stop someone who does that.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.ai.hashing import sha256_json
from engine.atomic import atomic_write_bytes
from engine.paths import data_dir

LOG_NAME = "audit.jsonl"
GENESIS_HASH = "0" * 64
_FIELDS = ("seq", "time_utc", "user", "event", "details", "prev_hash", "hash")


class AuditError(RuntimeError):
    """The log cannot be appended to (its last entry is damaged)."""


@dataclass(frozen=True)
class Verification:
    """The outcome of :func:`verify`: ``bad_entry`` is the 1-based line of the first bad entry, if any."""

    ok: bool
    entries: int
    bad_entry: int | None = None
    reason: str = ""


def default_log_path() -> Path:
    """The per-user audit log."""
    return data_dir() / LOG_NAME


def head_path(log: Path) -> Path:
    return log.with_name(log.name + ".head")


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``entry`` without its ``hash`` field."""
    return sha256_json({key: value for key, value in entry.items() if key != "hash"})


def append(event: str, details: dict[str, Any], log: str | os.PathLike | None = None) -> dict[str, Any]:
    """Append one entry to ``log`` (default: the per-user log) and return it."""
    path = Path(log) if log is not None else default_log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        last = _last_entry(path)
        entry: dict[str, Any] = {
            "seq": 0 if last is None else last["seq"] + 1,
            "time_utc": datetime.now(UTC).isoformat(timespec="microseconds"),
            "user": _user(),
            "event": event,
            "details": details,
            "prev_hash": GENESIS_HASH if last is None else last["hash"],
        }
        entry["hash"] = entry_hash(entry)
        line = (json.dumps(entry, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n").encode()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        head = {"entries": entry["seq"] + 1, "last_hash": entry["hash"]}
        atomic_write_bytes(head_path(path), json.dumps(head).encode())
    return entry


def read_entries(log: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Every entry of the log, in order (no verification; see :func:`verify`)."""
    path = Path(log) if log is not None else default_log_path()
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def verify(log: str | os.PathLike | None = None) -> Verification:
    """Check the chain entry by entry, then the head file; names the first bad entry and why."""
    path = Path(log) if log is not None else default_log_path()
    if not path.exists():
        if head_path(path).exists():
            return Verification(False, 0, 1, f"{path} is missing but its head file exists (log deleted)")
        return Verification(True, 0)
    previous, count = GENESIS_HASH, 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            problem = _entry_problem(raw, number - 1, previous)
            if problem:
                return Verification(False, number - 1, number, problem)
            previous, count = json.loads(raw)["hash"], number
    return _check_head(path, count, previous)


def _entry_problem(raw: bytes, seq: int, previous: str) -> str:
    if not raw.endswith(b"\n"):
        return "incomplete last line (write interrupted, or the file was cut)"
    try:
        entry = json.loads(raw)
    except ValueError:
        return "not valid JSON"
    if not isinstance(entry, dict) or set(entry) != set(_FIELDS):
        return f"not an audit entry (fields must be {', '.join(_FIELDS)})"
    if entry["hash"] != entry_hash(entry):
        return "hash does not match the entry's content (entry edited)"
    if entry["seq"] != seq:
        return f"sequence number {entry['seq']} where {seq} was expected (entry inserted, deleted or moved)"
    if entry["prev_hash"] != previous:
        return "prev_hash does not match the previous entry (entry inserted, deleted or moved)"
    return ""


def _check_head(path: Path, count: int, last_hash: str) -> Verification:
    head_file = head_path(path)
    if not head_file.exists():
        if count == 0:
            return Verification(True, 0)
        reason = f"head file {head_file} is missing: the end cannot be checked"
        return Verification(False, count, count, reason)
    try:
        head = json.loads(head_file.read_text())
        recorded, recorded_hash = int(head["entries"]), str(head["last_hash"])
    except (ValueError, KeyError, TypeError):
        return Verification(False, count, count, f"head file {head_file} is unreadable")
    if recorded > count:
        return Verification(False, count, count + 1, f"log truncated: the head records {recorded} entries, "
                                                     f"the log holds {count}")
    if recorded < count:
        return Verification(False, count, recorded + 1, f"entries after the recorded end: the head records "
                                                        f"{recorded} entries, the log holds {count}")
    if recorded_hash != last_hash:
        return Verification(False, count, count, "last entry differs from the one the head file records")
    return Verification(True, count)


def _last_entry(path: Path) -> dict[str, Any] | None:
    """The last entry, read from the end of the file (logs grow without bound)."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        end = handle.tell()
        block = 4096
        while True:
            start = max(0, end - block)
            handle.seek(start)
            data = handle.read(end - start)
            body = data.rstrip(b"\n")
            if b"\n" in body or start == 0:
                break
            block *= 2
    try:
        return json.loads(body.rsplit(b"\n", 1)[-1])
    except ValueError:
        raise AuditError(f"{path}: the last entry is damaged; run `sightline audit verify`") from None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path.with_name(path.name + ".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return str(os.getuid())
