"""File-system-safe folder names for study UIDs and label-map ids."""

from __future__ import annotations

import re


def folder_name(key: str) -> str:
    """``key`` with every character outside ``A-Za-z0-9._-`` replaced by '_' (never empty, no leading dot)."""
    if not key:
        raise ValueError("a session or version key must not be empty")
    return re.sub(r"[^A-Za-z0-9._-]", "_", key).lstrip(".") or "_"
