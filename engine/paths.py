"""Where Sightline keeps per-user data (catalog, settings, audit log, added plugins) and the machine-wide
plugins and trusted keys: never inside the install folder."""

from __future__ import annotations

import os
import sys
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


def user_plugins_dir() -> Path:
    """Plugins `sightline plugins add` installed for this user (not created here)."""
    return data_dir() / "plugins"


def machine_dir() -> Path:
    """The machine-wide Sightline folder: $SIGHTLINE_MACHINE_DIR, else %PROGRAMDATA%\\Sightline (Windows),
    /Library/Application Support/Sightline (macOS), /usr/local/share/sightline (other). Not created here."""
    explicit = os.environ.get("SIGHTLINE_MACHINE_DIR")
    if explicit:
        return Path(explicit)
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "Sightline"
    if sys.platform == "darwin":
        return Path("/Library/Application Support/Sightline")
    return Path("/usr/local/share/sightline")


def system_plugins_dir() -> Path:
    """Plugins installed for every user of the machine (`sightline plugins add --system`)."""
    return machine_dir() / "plugins"


def trusted_keys_dirs() -> list[Path]:
    """Folders of trusted Ed25519 public keys (*.pub): the per-user one, then the machine-wide one."""
    return [data_dir() / "trusted_keys", machine_dir() / "trusted_keys"]
