"""Ed25519 signatures of plugin manifests: authenticity, not only integrity.

The manifest hashes every file the plugin loads (models, ``[[files]]``, domain data), so a signature over
the manifest's bytes covers the whole plugin. The signature lives beside it in ``manifest.toml.sig``::

    {"key_id": "<first 16 hex of sha256(public key)>", "signature": "<base64 of the 64-byte signature>"}

Public keys are files ``*.pub`` holding the 32 raw key bytes in base64 (one line); a private key file holds
the 32-byte seed in base64 (libsodium's Ed25519, through PyNaCl: 4 MB in the installer where
``cryptography`` would take 16). Trusted keys are read from the per-user and machine-wide ``trusted_keys``
folders (``engine.paths.trusted_keys_dirs``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from engine.atomic import atomic_write_bytes
from engine.paths import trusted_keys_dirs

SIGNATURE_NAME = "manifest.toml.sig"


class SignatureError(ValueError):
    """A key or signature file that cannot be read; the message names the file."""


@dataclass(frozen=True)
class Verdict:
    """``signed``: a trusted key's valid signature; otherwise ``reason`` says why not."""

    signed: bool
    key_id: str
    reason: str

    def describe(self) -> str:
        return f"signed by trusted key {self.key_id}" if self.signed else f"NOT SIGNED by a trusted key: {self.reason}"


def key_id(public: VerifyKey) -> str:
    return hashlib.sha256(bytes(public)).hexdigest()[:16]


def generate_key(private_path: str | os.PathLike, public_path: str | os.PathLike) -> str:
    """Write a new key pair (private file mode 0600); returns the key id."""
    private = SigningKey.generate()
    atomic_write_bytes(Path(private_path), base64.b64encode(bytes(private)) + b"\n")
    os.chmod(private_path, 0o600)
    atomic_write_bytes(Path(public_path), base64.b64encode(bytes(private.verify_key)) + b"\n")
    return key_id(private.verify_key)


def load_private(path: str | os.PathLike) -> SigningKey:
    return SigningKey(_raw32(Path(path), "private key"))


def load_public(path: str | os.PathLike) -> VerifyKey:
    return VerifyKey(_raw32(Path(path), "public key"))


def _raw32(path: Path, what: str) -> bytes:
    try:
        raw = base64.b64decode(path.read_text(encoding="ascii").strip(), validate=True)
    except (OSError, UnicodeDecodeError, binascii.Error) as error:
        raise SignatureError(f"{path}: not a readable {what} ({error})") from None
    if len(raw) != 32:
        raise SignatureError(f"{path}: an Ed25519 {what} has 32 bytes, this one {len(raw)}")
    return raw


def sign_manifest(folder: str | os.PathLike, private_key: str | os.PathLike) -> Path:
    """Sign ``folder/manifest.toml`` with the private key file; writes and returns the signature file."""
    manifest = Path(folder) / "manifest.toml"
    private = load_private(private_key)
    signature = private.sign(manifest.read_bytes()).signature
    payload = {"key_id": key_id(private.verify_key), "signature": base64.b64encode(signature).decode()}
    target = Path(folder) / SIGNATURE_NAME
    atomic_write_bytes(target, json.dumps(payload, indent=2).encode() + b"\n")
    return target


def trusted_keys(folders: Iterable[Path] | None = None) -> dict[str, VerifyKey]:
    """The trusted public keys by key id (unreadable key files are skipped)."""
    keys: dict[str, VerifyKey] = {}
    for folder in trusted_keys_dirs() if folders is None else folders:
        for path in sorted(Path(folder).glob("*.pub")) if Path(folder).is_dir() else []:
            try:
                public = load_public(path)
            except SignatureError:
                continue
            keys[key_id(public)] = public
    return keys


def verify_manifest(folder: str | os.PathLike, keys: dict[str, VerifyKey] | None = None) -> Verdict:
    """Whether ``folder/manifest.toml`` carries a valid signature of a trusted key. Never raises."""
    folder = Path(folder)
    signature_path = folder / SIGNATURE_NAME
    if not signature_path.is_file():
        return Verdict(False, "", f"no signature ({SIGNATURE_NAME} is missing)")
    try:
        payload = json.loads(signature_path.read_text(encoding="utf-8"))
        kid = str(payload["key_id"])
        signature = base64.b64decode(payload["signature"], validate=True)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, binascii.Error) as error:
        return Verdict(False, "", f"{signature_path} is not a readable signature ({error})")
    keys = trusted_keys() if keys is None else keys
    public = keys.get(kid)
    if public is None:
        return Verdict(False, kid, f"signed by key {kid}, which is not a trusted key")
    try:
        public.verify((folder / "manifest.toml").read_bytes(), signature)
    except (BadSignatureError, ValueError):  # a forged or a wrong-length signature
        return Verdict(False, kid, "the signature does not match the manifest (edited after signing?)")
    except OSError as error:
        return Verdict(False, kid, f"cannot read the manifest ({error})")
    return Verdict(True, kid, "")


@dataclass(frozen=True)
class TrustedKey:
    """A trusted public key: its id, its name (the key file's name without ``.pub``), its file and scope."""

    key_id: str
    name: str
    path: Path
    scope: str  # "user" | "machine"


def list_trusted_keys(folders: Iterable[Path] | None = None) -> list[TrustedKey]:
    """Every readable trusted key file, per-user folder first (unreadable files are skipped, as in
    :func:`trusted_keys`)."""
    listed = []
    folders = list(trusted_keys_dirs() if folders is None else folders)
    for index, folder in enumerate(folders):
        for path in sorted(Path(folder).glob("*.pub")) if Path(folder).is_dir() else []:
            try:
                public = load_public(path)
            except SignatureError:
                continue
            listed.append(TrustedKey(key_id(public), path.stem, path, "user" if index == 0 else "machine"))
    return listed


_KEY_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def trust_key(public_path: str | os.PathLike, system: bool = False) -> TrustedKey:
    """Add the public key file to the per-user (or machine-wide) trusted keys, under its own file name
    (``site.pub`` stays ``site``); a key already trusted there is not added twice. SignatureError names the
    file when it is not an Ed25519 public key or another key has that name."""
    source = Path(public_path)
    public = load_public(source)
    kid = key_id(public)
    folder = trusted_keys_dirs()[1 if system else 0]
    scope = "machine" if system else "user"
    for existing in list_trusted_keys([folder]):
        if existing.key_id == kid:
            return TrustedKey(kid, existing.name, existing.path, scope)
    name = _KEY_NAME.sub("_", source.stem).strip("._") or kid
    target = folder / f"{name}.pub"
    if target.exists():
        raise SignatureError(f"{target}: another trusted key is already called {name!r} (rename {source})")
    folder.mkdir(parents=True, exist_ok=True)
    raw = bytes(public)
    atomic_write_bytes(target, base64.b64encode(raw) + b"\n")
    return TrustedKey(kid, name, target, scope)
