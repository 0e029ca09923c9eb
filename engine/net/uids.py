"""UID validation and the received-file layout: paths come from validated UIDs only, never header text."""

from __future__ import annotations

import re
from pathlib import Path

# PS3.5 9.1: components of digits separated by dots, no leading zero in a multi-digit component, <= 64 chars.
_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
MAX_UID_LENGTH = 64


class InvalidUidError(ValueError):
    """A UID that is not a plain PS3.5 UID (and so cannot name a file or folder)."""


def is_valid_uid(value: object) -> bool:
    """True for a PS3.5 UID: digits and dots, no empty or zero-padded component, at most 64 characters."""
    return isinstance(value, str) and len(value) <= MAX_UID_LENGTH and _UID.fullmatch(value) is not None


def checked_uid(value: object, name: str) -> str:
    """``value`` as a str if it is a valid UID, else :class:`InvalidUidError` naming ``name``."""
    text = str(value) if value is not None else ""
    if not is_valid_uid(text):
        raise InvalidUidError(f"invalid {name} {text[:80]!r}")
    return text


def instance_path(root: Path, study_uid: str, series_uid: str, sop_instance_uid: str) -> Path:
    """``root/<study>/<series>/<instance>.dcm``; every UID is validated first (:class:`InvalidUidError`)."""
    parts = (
        checked_uid(study_uid, "StudyInstanceUID"),
        checked_uid(series_uid, "SeriesInstanceUID"),
        checked_uid(sop_instance_uid, "SOPInstanceUID"),
    )
    return root / parts[0] / parts[1] / f"{parts[2]}.dcm"
