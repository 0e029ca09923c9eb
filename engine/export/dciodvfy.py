"""Validate a DICOM file with dciodvfy (dicom3tools): its error lines, compared with the source images'."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

DCIODVFY = "dciodvfy"


def dciodvfy_available() -> bool:
    return shutil.which(DCIODVFY) is not None


def dciodvfy_messages(path: Path, timeout_s: float = 120.0) -> list[str]:
    """Every 'Error' line dciodvfy prints for ``path`` (RuntimeError when dciodvfy is not installed)."""
    if not dciodvfy_available():
        raise RuntimeError("dciodvfy (Debian package dicom3tools) is not installed")
    run = subprocess.run([DCIODVFY, str(path)], capture_output=True, timeout=timeout_s, check=False)
    lines = (run.stdout + run.stderr).decode("latin-1").splitlines()  # dciodvfy echoes values in Latin-1
    return [line.strip() for line in lines if line.startswith("Error")]


def new_errors(path: Path, source: Path) -> list[str]:
    """dciodvfy errors of ``path`` that the source image ``source`` does not have too (an SR or GSPS copies
    the patient and study modules of its source: a flaw there is the source's, not the export's)."""
    inherited = set(dciodvfy_messages(source))
    return [line for line in dciodvfy_messages(path) if line not in inherited]
