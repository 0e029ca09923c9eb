"""Where the read-only files Sightline ships live (plugins/, resources/), from a source tree or a bundle."""

from __future__ import annotations

import sys
from pathlib import Path


def resource_root() -> Path:
    """The folder holding ``plugins/`` and ``resources/``: PyInstaller's unpacked bundle folder
    (``sys._MEIPASS``) in the frozen app, else the repository root."""
    bundle = getattr(sys, "_MEIPASS", None)
    return Path(bundle) if bundle else Path(__file__).resolve().parents[1]
