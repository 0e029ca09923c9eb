"""Adding and removing plugins (`sightline plugins add|remove`): checks first, then an atomic install into
the per-user or machine-wide plugin folder (never the install folder), and an audit-log entry.

A plugin is accepted only when
1. its manifest is valid and every file in its folder (models, data, example, code, model card) is one the
   manifest hashes, with that hash (so a signed manifest covers every byte the plugin loads);
2. its manifest carries an Ed25519 signature of a trusted key (``engine.ai.signing``), unless the caller
   allows unsigned plugins; such a plugin's every result then says it is unsigned;
3. it runs on the example input it carries and gives the expected label map it carries.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from engine.ai import audit
from engine.ai.hashing import sha256_file
from engine.ai.manifest import MANIFEST_NAME, Manifest, ManifestError, load_manifest
from engine.ai.signing import SIGNATURE_NAME, Verdict, verify_manifest
from engine.paths import system_plugins_dir, user_plugins_dir
from engine.volume import LabelMap

EXAMPLE_MIN_DICE = 0.999
IGNORED = {MANIFEST_NAME, SIGNATURE_NAME}


class InstallRefused(RuntimeError):
    """A plugin that may not be installed (or removed); the message names the file and the reason."""


@dataclass
class InstallReport:
    plugin_id: str
    version: str
    target: Path
    verdict: Verdict
    example: dict[str, Any] = field(default_factory=dict)

    def lines(self) -> list[str]:
        lines = [f"installed {self.plugin_id} {self.version} into {self.target}",
                 f"signature: {self.verdict.describe()}"]
        if self.example:
            dice = ", ".join(f"{k} {v:.4f}" for k, v in self.example["dice"].items()) or "no labels"
            lines.append(f"example: output matches the expected labels (Dice {dice})")
        return lines


def hashed_files(manifest: Manifest) -> dict[str, str]:
    """Relative path -> SHA-256 of every file the manifest hashes."""
    files = {entry.path: entry.sha256 for entry in [*manifest.models, *manifest.files]}
    if manifest.domain is not None:
        files[manifest.domain.reference] = manifest.domain.sha256
    return files


def check_files(folder: Path, manifest: Manifest) -> list[str]:
    """Problems with the folder's files: missing, wrong hash, or present but not hashed by the manifest."""
    expected = hashed_files(manifest)
    problems = []
    for relative, digest in sorted(expected.items()):
        path = folder / relative
        if not path.is_file():
            problems.append(f"{path}: missing (the manifest hashes it)")
        elif (actual := sha256_file(path)) != digest:
            problems.append(f"{path}: SHA-256 {actual} but the manifest says {digest}")
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if "__pycache__" in path.parts or relative in IGNORED:
            continue
        if path.is_symlink():
            problems.append(f"{path}: a symbolic link (refused)")
        elif path.is_file() and relative not in expected:
            problems.append(f"{path}: not hashed by the manifest (list it under [[files]])")
    references = [manifest.retrieval.library] if manifest.retrieval is not None else []
    references += list(manifest.example.get("inputs", {}).values()) if isinstance(manifest.example, dict) else []
    for relative in references:
        if isinstance(relative, str) and relative not in expected:
            problems.append(f"{folder / relative}: loaded by the plugin but not hashed by the manifest")
    return problems


def run_example_inputs(folder: Path, inputs: dict[str, Path], audit_log: str | os.PathLike | None = None) -> LabelMap:
    """Run the plugin in ``folder`` on NIfTI ``inputs`` (role -> file); its label map."""
    from engine.ai.registry import Plugin, PluginRegistry
    from engine.ai.runner import run_plugin
    from engine.nifti import read_nifti

    manifest = load_manifest(folder / MANIFEST_NAME)
    registry = PluginRegistry()
    registry.add(Plugin(manifest=manifest, folder=folder, source=str(folder)))
    roles = {role.role: role for role in manifest.inputs}
    volumes = {}
    for role, path in inputs.items():
        modality = (roles[role].modalities or manifest.modalities)[0] if role in roles else ""
        volumes[role] = read_nifti(path, modality=modality)
    with tempfile.TemporaryDirectory() as scratch:
        log = audit_log if audit_log is not None else Path(scratch) / "audit.jsonl"
        result = run_plugin(manifest.id, volumes, registry=registry, audit_log=log)
    if result.label_map is None:
        raise InstallRefused(f"plugin {manifest.id}: its example run gave no label map to compare")
    return result.label_map


def check_example(folder: Path, manifest: Manifest, audit_log: str | os.PathLike | None = None) -> dict[str, Any]:
    """Run the carried example and compare with the carried expected labels (per-label Dice and grid)."""
    from engine.nifti import read_nifti

    example = manifest.example
    if not example:
        raise InstallRefused(f"{folder / MANIFEST_NAME}: carries no [example] input and expected output to check")
    inputs = example.get("inputs")
    expected_path = example.get("expected_labels")
    if not isinstance(inputs, dict) or not inputs or not isinstance(expected_path, str):
        raise InstallRefused(f"{folder / MANIFEST_NAME}: [example] needs inputs = {{ROLE = file}} and "
                             "expected_labels")
    for relative in [*inputs.values(), expected_path]:
        parts = PurePosixPath(str(relative))
        if not isinstance(relative, str) or parts.is_absolute() or ".." in parts.parts:
            raise InstallRefused(f"{folder / MANIFEST_NAME}: [example] path {relative!r} leaves the plugin folder")
    produced = run_example_inputs(folder, {role: folder / path for role, path in inputs.items()}, audit_log)
    expected = read_nifti(folder / expected_path)
    if not produced.geometry.same_grid(expected.geometry, tolerance_mm=1e-2):
        raise InstallRefused(f"plugin {manifest.id}: the example output is not on the grid of {expected_path}")
    dice = {}
    for label in manifest.labels:
        a, b = produced.array == label.value, np.asarray(expected.array) == label.value
        total = int(a.sum()) + int(b.sum())
        dice[label.name] = 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total
    failing = {name: value for name, value in dice.items() if value < EXAMPLE_MIN_DICE}
    if failing:
        listed = ", ".join(f"{name} Dice {value:.4f}" for name, value in failing.items())
        raise InstallRefused(f"plugin {manifest.id}: the example output differs from {expected_path} ({listed}; "
                             f"at least {EXAMPLE_MIN_DICE} required)")
    return {"dice": dice}


def unpack(source: Path, scratch: Path) -> Path:
    """The plugin folder of ``source`` (a folder or a zip, safely extracted into ``scratch``)."""
    if source.is_dir():
        root = source
    elif zipfile.is_zipfile(source):
        root = scratch / "unpacked"
        with zipfile.ZipFile(source) as archive:
            for member in archive.infolist():
                name = PurePosixPath(member.filename)
                if name.is_absolute() or ".." in name.parts or "\\" in member.filename:
                    raise InstallRefused(f"{source}: member {member.filename} points outside the archive")
                if (member.external_attr >> 16) & 0o170000 == 0o120000:
                    raise InstallRefused(f"{source}: member {member.filename} is a symbolic link")
            archive.extractall(root)
    else:
        raise InstallRefused(f"{source}: neither a plugin folder nor a zip file")
    if (root / MANIFEST_NAME).is_file():
        return root
    children = [p for p in root.iterdir() if (p / MANIFEST_NAME).is_file()]
    if len(children) != 1:
        raise InstallRefused(f"{source}: no {MANIFEST_NAME} at its top or in exactly one sub-folder")
    return children[0]


def install(source: str | os.PathLike, *, system: bool = False, allow_unsigned: bool = False, replace: bool = False,
            keys: dict | None = None, audit_log: str | os.PathLike | None = None,
            target_root: Path | None = None) -> InstallReport:
    """Check and install the plugin at ``source`` (folder or zip); InstallRefused naming the reason."""
    source = Path(source)
    root = target_root or (system_plugins_dir() if system else user_plugins_dir())
    with tempfile.TemporaryDirectory() as scratch:
        folder = unpack(source, Path(scratch))
        try:
            manifest = load_manifest(folder / MANIFEST_NAME)
        except ManifestError as error:
            raise InstallRefused(str(error)) from None
        problems = check_files(folder, manifest)
        if problems:
            raise InstallRefused(f"plugin {manifest.id} refused: " + "; ".join(problems))
        verdict = verify_manifest(folder, keys)
        if not verdict.signed and not allow_unsigned:
            raise InstallRefused(f"plugin {manifest.id} refused: {verdict.reason} (pass --allow-unsigned to install "
                                 "it anyway; every result will then say it is unsigned)")
        example = check_example(folder, manifest, audit_log)
        target = root / manifest.id
        if target.exists() and not replace:
            raise InstallRefused(f"{target}: a plugin {manifest.id} is already installed "
                                 "(remove it first or pass --replace)")
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{manifest.id}.", dir=root))
        try:
            shutil.copytree(folder, staging / "plugin", ignore=shutil.ignore_patterns("__pycache__"))
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging / "plugin", target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    report = InstallReport(manifest.id, manifest.version, target, verdict, example)
    audit.append("plugin_installed", {
        "plugin_id": manifest.id, "plugin_version": manifest.version, "source": str(source), "target": str(target),
        "manifest_sha256": sha256_file(target / MANIFEST_NAME), "signed": verdict.signed, "key_id": verdict.key_id,
        "signature": verdict.describe(), "example_dice": example.get("dice", {}),
    }, audit_log)
    return report


def remove(plugin_id: str, *, system: bool = False, audit_log: str | os.PathLike | None = None,
           target_root: Path | None = None) -> Path:
    """Remove an added plugin from the per-user (or machine-wide) folder; shipped plugins cannot be removed."""
    root = target_root or (system_plugins_dir() if system else user_plugins_dir())
    target = root / plugin_id
    if not (target / MANIFEST_NAME).is_file() or target.resolve().parent != root.resolve():
        raise InstallRefused(f"no added plugin {plugin_id!r} in {root}")
    version = load_manifest(target / MANIFEST_NAME).version if (target / MANIFEST_NAME).is_file() else "?"
    shutil.rmtree(target)
    audit.append("plugin_removed", {"plugin_id": plugin_id, "plugin_version": version, "target": str(target)},
                 audit_log)
    return target


def trust_warnings(folder: Path) -> list[str]:
    """For an added plugin (per-user or machine-wide folder) without a trusted signature: the warning every
    result carries. Shipped plugins (inside the install) and entry-point packages get none."""
    added = [user_plugins_dir().resolve(), system_plugins_dir().resolve()]
    if folder.resolve().parent not in added:
        return []
    verdict = verify_manifest(folder)
    return [] if verdict.signed else [f"unsigned plugin, installed with --allow-unsigned: {verdict.reason}"]
