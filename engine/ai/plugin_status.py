"""What Preferences ▸ Plugins shows for each discovered plugin (Qt-free): where it was found, whether every
hashed file is intact, who signed its manifest, whether it carries validated domain data, and its model card.

Hash status covers the models, the ``[[files]]`` and the domain reference: "ok", or "mismatch" / "missing"
naming the first such file (all of them in ``problems``). Signature: "signed by <key name>" (a trusted key's
valid signature), "unsigned" (no ``manifest.toml.sig``) or "bad signature" (unreadable, not matching the
manifest, or made by a key that is not trusted; ``signature_detail`` says which).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from engine.ai.hashing import sha256_file
from engine.ai.registry import REPO_PLUGINS, Plugin, PluginRegistry, discover
from engine.ai.signing import SIGNATURE_NAME, TrustedKey, list_trusted_keys, trusted_keys, verify_manifest
from engine.paths import system_plugins_dir, user_plugins_dir

MODEL_CARD_NAME = "MODEL_CARD.md"
NO_DOMAIN = "none: every finding needs review"


@dataclass(frozen=True)
class PluginStatus:
    """One row of the Plugins page."""

    plugin_id: str
    name: str
    version: str
    source: str  # "shipped" | "machine" | "user" | "entry point" | "other"
    folder: Path
    hash_status: str  # "ok" | "mismatch: <file>" | "missing: <file>"
    signature: str  # "signed by <key name>" | "unsigned" | "bad signature"
    signature_detail: str
    domain: str  # "validated domain data (...)" | NO_DOMAIN
    model_card: Path | None
    problems: list[str] = field(default_factory=list)  # one line per altered or missing file

    @property
    def intact(self) -> bool:
        return self.hash_status == "ok"


def source_of(plugin: Plugin) -> str:
    """Which plugin folder ``plugin`` came from: shipped (the install), machine-wide, per-user, or other."""
    if plugin.package is not None:
        return "entry point"
    parent = plugin.folder.resolve().parent
    for label, root in (("shipped", REPO_PLUGINS), ("machine", system_plugins_dir()), ("user", user_plugins_dir())):
        if parent == root.resolve():
            return label
    return "other"


def file_hash_status(plugin: Plugin) -> tuple[str, list[str]]:
    """("ok" | "mismatch: <path>" | "missing: <path>", every problem) over models, [[files]] and domain data."""
    manifest = plugin.manifest
    entries = [(entry.path, entry.sha256) for entry in [*manifest.models, *manifest.files]]
    if manifest.domain is not None:
        entries.append((manifest.domain.reference, manifest.domain.sha256))
    problems = []
    for relative, expected in entries:
        path = plugin.folder / relative
        if not path.is_file():
            problems.append(f"missing: {relative}")
        elif sha256_file(path) != expected:
            problems.append(f"mismatch: {relative}")
    return (problems[0] if problems else "ok"), problems


def signature_status(folder: Path, keys: dict | None = None, names: dict[str, str] | None = None) -> tuple[str, str]:
    """("signed by <key name>" | "unsigned" | "bad signature", detail)."""
    verdict = verify_manifest(folder, keys)
    if verdict.signed:
        name = (names or {}).get(verdict.key_id, verdict.key_id)
        return f"signed by {name}", f"trusted key {name} ({verdict.key_id})"
    if not (folder / SIGNATURE_NAME).is_file():
        return "unsigned", verdict.reason
    return "bad signature", verdict.reason


def domain_status(plugin: Plugin) -> str:
    domain = plugin.manifest.domain
    if domain is None:
        return NO_DOMAIN
    return f"validated domain data ({domain.reference}, k={domain.k}, threshold {domain.threshold:g})"


def plugin_status(plugin: Plugin, keys: dict | None = None, key_list: Iterable[TrustedKey] | None = None
                  ) -> PluginStatus:
    """The row of one plugin (hashes every listed file; call once per refresh)."""
    key_list = list(list_trusted_keys() if key_list is None else key_list)
    names = {key.key_id: key.name for key in reversed(key_list)}  # per-user names win
    hashes, problems = file_hash_status(plugin)
    signature, detail = signature_status(plugin.folder, keys, names)
    card = plugin.folder / MODEL_CARD_NAME
    manifest = plugin.manifest
    return PluginStatus(manifest.id, manifest.name, manifest.version, source_of(plugin), plugin.folder, hashes,
                        signature, detail, domain_status(plugin), card if card.is_file() else None, problems)


def plugin_statuses(registry: PluginRegistry | None = None) -> list[PluginStatus]:
    """A row per discovered plugin (default: every plugin folder and entry point), sorted by id."""
    registry = discover() if registry is None else registry
    keys, key_list = trusted_keys(), list_trusted_keys()
    return [plugin_status(registry.plugins[plugin_id], keys, key_list) for plugin_id in sorted(registry.plugins)]


def read_model_card(status: PluginStatus) -> str:
    """The model card's Markdown, or a line saying the plugin has none."""
    if status.model_card is None:
        return f"# {status.name}\n\nThis plugin carries no {MODEL_CARD_NAME}."
    try:
        return status.model_card.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return f"# {status.name}\n\nThe model card {status.model_card} cannot be read ({error})."
