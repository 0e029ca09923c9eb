"""The configured peers (``pacs.json`` in the per-user data folder): DIMSE address, AE titles, DICOMweb.

::

    {"pacs": [{"name": "main", "host": "pacs.example.org", "port": 104, "called_ae": "PACS",
               "our_ae": "SIGHTLINE", "receive_port": 11112, "timeout": 30,
               "dicomweb_url": "https://pacs.example.org/dicom-web",
               "auth": {"type": "basic", "username": "reader", "password_env": "PACS_PASSWORD"}}]}

``auth`` is optional: ``{"type": "basic", "username", "password" | "password_env"}`` or
``{"type": "token", "token" | "token_env"}`` (a bearer token). Prefer the ``*_env`` forms (the secret
stays in the environment); the file is written with mode 0o600 either way.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write
from engine.paths import data_dir

AUTH_TYPES = ("basic", "token")


@dataclass(frozen=True)
class Auth:
    """HTTP credentials for DICOMweb; secrets may be read from environment variables."""

    type: str
    username: str = ""
    password: str = ""
    password_env: str = ""
    token: str = ""
    token_env: str = ""

    def __post_init__(self) -> None:
        if self.type not in AUTH_TYPES:
            raise ValueError(f"unknown auth type {self.type!r}; expected one of {', '.join(AUTH_TYPES)}")

    def secret(self) -> str:
        """The password (basic) or token, from the environment variable when one is named."""
        env = self.password_env if self.type == "basic" else self.token_env
        if env:
            value = os.environ.get(env)
            if value is None:
                raise ValueError(f"environment variable {env} (the {self.type} auth secret) is not set")
            return value
        return self.password if self.type == "basic" else self.token

    def to_json(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}


@dataclass(frozen=True)
class PacsConfig:
    """One peer: where to reach it (DIMSE and DICOMweb) and which AE titles to use."""

    name: str
    host: str
    port: int
    called_ae: str
    our_ae: str = "SIGHTLINE"
    receive_port: int = 11112  # where our storage SCP listens during C-MOVE (the PACS must know it)
    timeout: float = 30.0
    dicomweb_url: str = ""
    auth: Auth | None = field(default=None)

    def __post_init__(self) -> None:
        if not self.name or not self.host:
            raise ValueError("a PACS needs a name and a host")
        for label, title in (("called_ae", self.called_ae), ("our_ae", self.our_ae)):
            if not 0 < len(title.strip()) <= 16 or "\\" in title:
                raise ValueError(f"{label} {title!r} is not an AE title (1-16 characters, no backslash)")
        for label, port in (("port", self.port), ("receive_port", self.receive_port)):
            if not 0 < int(port) < 65536:
                raise ValueError(f"{label} {port} is not a TCP port")

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "auth"}
        if self.auth is not None:
            data["auth"] = self.auth.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PacsConfig:
        values = dict(data)
        auth = values.pop("auth", None)
        known = {f for f in cls.__dataclass_fields__ if f != "auth"}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown PACS setting(s): {', '.join(sorted(unknown))}")
        return cls(**values, auth=Auth(**auth) if auth else None)


def pacs_config_path() -> Path:
    """The default ``pacs.json``."""
    return data_dir() / "pacs.json"


def load_pacs(path: str | os.PathLike | None = None) -> list[PacsConfig]:
    """Every configured PACS (an empty list when the file does not exist); ValueError for a bad file."""
    location = Path(path) if path is not None else pacs_config_path()
    if not location.exists():
        return []
    try:
        data = json.loads(location.read_text(encoding="utf-8"))
        return [PacsConfig.from_json(entry) for entry in data.get("pacs", [])]
    except (json.JSONDecodeError, TypeError, AttributeError) as error:
        raise ValueError(f"{location} is not a valid PACS list: {error}") from error


def find_pacs(name: str, path: str | os.PathLike | None = None) -> PacsConfig:
    """The PACS called ``name``; KeyError listing the configured names otherwise."""
    configs = load_pacs(path)
    for config in configs:
        if config.name == name:
            return config
    known = ", ".join(c.name for c in configs) or "none configured"
    raise KeyError(f"no PACS named {name!r} ({known}); add one with `sightline pacs add`")


def save_pacs(configs: list[PacsConfig], path: str | os.PathLike | None = None) -> Path:
    """Write the PACS list atomically with mode 0o600 (it may hold credentials); returns the path."""
    location = Path(path) if path is not None else pacs_config_path()
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ValueError("PACS names must be unique")
    with atomic_write(location, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        json.dump({"pacs": [c.to_json() for c in configs]}, handle, indent=2)
        handle.write("\n")
    return location
