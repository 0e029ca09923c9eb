"""Settings of the in-app DICOM receiver (Qt-free): our AE title, the address and port to listen on, the
folder received files go to and the calling AE titles let in, kept in the preferences store (QSettings keys
``receive/*``; a setting at its default is not stored), with the checks the Preferences dialog applies."""

from __future__ import annotations

import ipaddress
import os
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path

from app.settings.preferences import Store
from engine.net import DEFAULT_AE_TITLE
from engine.paths import data_dir

DEFAULT_PORT = 11112


@dataclass(frozen=True)
class ReceiveSettings:
    """Where and as whom the receiver listens; ``allowed_aes`` empty = any calling AE."""

    ae_title: str = DEFAULT_AE_TITLE
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    folder: Path | None = None  # None: <user data>/received
    allowed_aes: tuple[str, ...] = ()

    @property
    def directory(self) -> Path:
        return self.folder if self.folder is not None else data_dir() / "received"

    @classmethod
    def from_store(cls, store: Store) -> ReceiveSettings:
        """The saved settings, each missing or unreadable one at its default."""
        def get(key: str, default: object) -> object:
            value = store.value(f"receive/{key}")
            return default if value in (None, "") else value

        try:
            port = int(get("port", DEFAULT_PORT))
        except (TypeError, ValueError):
            port = DEFAULT_PORT
        folder = get("folder", None)
        allowed = get("allowed_aes", "")
        return cls(
            ae_title=str(get("ae_title", DEFAULT_AE_TITLE)),
            host=str(get("host", "0.0.0.0")),
            port=port if 0 <= port <= 65535 else DEFAULT_PORT,
            folder=Path(str(folder)) if folder else None,
            allowed_aes=split_titles(str(allowed)),
        )

    def save(self, store: Store) -> None:
        """Keep these settings; one at its default is removed, so it follows later defaults."""
        default = ReceiveSettings()
        for name in (f.name for f in fields(self)):
            value = getattr(self, name)
            if value == getattr(default, name):
                store.remove(f"receive/{name}")
            else:
                store.setValue(f"receive/{name}", _stored(value))

    def problems(self) -> list[str]:
        """Why these settings cannot be used, one message each (empty when they can)."""
        found = [ae_title_problem("AE title", self.ae_title)]
        found += [ae_title_problem("allowed calling AE title", title) for title in self.allowed_aes]
        if not 1 <= self.port <= 65535:
            found.append(f"port {self.port} is not a TCP port (1-65535)")
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            found.append(f"listen address {self.host!r} is not an IP address (0.0.0.0 listens on every interface)")
        found.append(folder_problem(self.directory))
        return [problem for problem in found if problem]

    def describe(self) -> str:
        return f"{self.ae_title} on {self.host}:{self.port}"


def restore_receive_defaults(store: Store) -> None:
    """Forget every saved receive setting."""
    for item in fields(ReceiveSettings):
        store.remove(f"receive/{item.name}")


def split_titles(text: str) -> tuple[str, ...]:
    """'PACS, MODALITY' -> ('PACS', 'MODALITY')."""
    return tuple(title.strip() for title in text.split(",") if title.strip())


def ae_title_problem(label: str, title: str) -> str | None:
    """Why ``title`` is not an AE title (DICOM: 1-16 ASCII characters, no backslash or control characters)."""
    text = title.strip()
    if not 0 < len(text) <= 16:
        return f"{label} {title!r} must have 1 to 16 characters"
    if not text.isascii() or "\\" in text or any(ord(c) < 32 or ord(c) == 127 for c in text):
        return f"{label} {title!r} may hold only ASCII letters, digits and symbols other than a backslash"
    return None


def folder_problem(folder: Path) -> str | None:
    """Why received files cannot be written to ``folder`` (None when they can): an existing folder is tried
    with a temporary file; a missing one needs its nearest existing parent to be a folder it can be made in."""
    if not folder.is_absolute():
        return f"storage folder {folder} must be an absolute path"
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        if existing == folder:
            return f"storage folder {folder} is a file, not a folder"
        return f"storage folder {folder} cannot be made: {existing} is a file"
    if existing != folder:
        writable = os.access(existing, os.W_OK | os.X_OK)
        return None if writable else f"storage folder {folder} cannot be made in {existing} (no write permission)"
    try:
        with tempfile.TemporaryFile(dir=folder):
            return None
    except OSError as error:
        return f"storage folder {folder} is not writable ({error.strerror or error})"


def _stored(value: object) -> str | int:
    if isinstance(value, tuple):
        return ", ".join(value)
    return value if isinstance(value, int) else str(value)
