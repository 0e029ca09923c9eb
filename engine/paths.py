"""Where Sightline keeps per-user data (catalog, settings, audit log): never inside the install folder."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """The per-user data folder: $SIGHTLINE_HOME, else $XDG_DATA_HOME/sightline, else ~/.local/share/sightline."""
    explicit = os.environ.get("SIGHTLINE_HOME")
    if explicit:
        base = Path(explicit)
    else:
        xdg = os.environ.get("XDG_DATA_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".local" / "share") / "sightline"
    base.mkdir(parents=True, exist_ok=True)
    return base


def catalog_path() -> Path:
    """The default SQLite catalog file."""
    return data_dir() / "catalog.sqlite"
