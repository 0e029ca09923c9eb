"""Settings of the in-app DICOM receiver (Qt-free): our AE title, the address and port to listen on and the
folder received files go to, read from the preferences store (QSettings keys ``receive/*``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.preferences import Store
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
            allowed_aes=tuple(a.strip() for a in str(allowed).split(",") if a.strip()),
        )

    def describe(self) -> str:
        return f"{self.ae_title} on {self.host}:{self.port}"
