"""Plugin discovery, model-hash verification and lazy loading of plugin logic (npe2 style).

Plugins come from folders (each subfolder holding a ``manifest.toml``; by default the repository's ``plugins/``
plus the folders listed in ``$SIGHTLINE_PLUGIN_PATH``, separated like PATH) and from the ``sightline.plugins``
entry-point group, whose values name a package and the manifest inside it (``my_package:manifest.toml``).
Discovery reads manifests only; a plugin's entry function is imported the first time it runs, after every
model file has been checked against its SHA-256, and the parts its manifest's ``[host]`` table names (report,
widgets, subcommands) when the host first needs them.

A shipped plugin's modules import as ``plugins.<id>`` (the same modules training imports), a plugin in
another folder as a package of its own whose ``__path__`` is that folder; either way its modules import each
other relatively.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.resources
import os
import sys
import threading
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from engine.ai.hashing import sha256_file
from engine.ai.manifest import MANIFEST_NAME, Manifest, ManifestError, load_manifest
from engine.paths import system_plugins_dir, user_plugins_dir
from engine.resources import resource_root

ENTRY_POINT_GROUP = "sightline.plugins"
REPO_PLUGINS = resource_root() / "plugins"  # the repository's, or the frozen bundle's
PATH_VARIABLE = "SIGHTLINE_PLUGIN_PATH"  # more plugin folders, os.pathsep-separated
HashStatus = Literal["ok", "mismatch", "missing"]


class PluginRefused(RuntimeError):
    """A plugin that may not run (model file missing or not the file its manifest names)."""


@dataclass
class Plugin:
    """A discovered plugin: its manifest, its folder and how to import its logic."""

    manifest: Manifest
    folder: Path
    source: str  # where it was found, for listings and errors
    package: str | None = None  # importable package for entry-point plugins; None for folder plugins
    _verified: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def id(self) -> str:
        return self.manifest.id

    def model_path(self, name: str) -> Path:
        """Absolute path of the model file called ``name``."""
        return self.folder / self.manifest.model(name).path

    def resource_path(self, relative: str) -> Path:
        """Absolute path of a file the manifest names relative to the plugin folder."""
        return self.folder / relative

    def hash_status(self) -> dict[str, tuple[HashStatus, str]]:
        """For every model and hashed file: ('ok' | 'mismatch' | 'missing', actual hash or ''). Never raises."""
        status: dict[str, tuple[HashStatus, str]] = {}
        for model in [*self.manifest.models, *self.manifest.files]:
            path = self.folder / model.path
            if not path.is_file():
                status[model.name] = ("missing", "")
                continue
            actual = sha256_file(path)
            status[model.name] = ("ok" if actual == model.sha256 else "mismatch", actual)
        return status

    def verify_models(self) -> None:
        """Check the SHA-256 of every model and hashed file (again only when its size or mtime changed since)."""
        with self._lock:
            for model in [*self.manifest.models, *self.manifest.files]:
                path = self.folder / model.path
                what = "model file" if model in self.manifest.models else "file"
                try:
                    stat = path.stat()
                except OSError:
                    raise PluginRefused(f"plugin {self.id}: {what} {path} is missing") from None
                signature = (stat.st_size, stat.st_mtime_ns)
                if self._verified.get(model.name) == signature:
                    continue
                actual = sha256_file(path)
                if actual != model.sha256:
                    self._verified.pop(model.name, None)
                    raise PluginRefused(
                        f"plugin {self.id} refused: {what} {path} has SHA-256 {actual}, "
                        f"but the manifest expects {model.sha256}"
                    )
                self._verified[model.name] = signature

    def load_entry(self) -> Callable[..., Any]:
        """Import the plugin's logic module and return its entry function (imports happen only here); a
        declarative plugin's entry is the engine's pipeline runner."""
        if self.manifest.pipeline:
            from engine.ai.pipeline.run import run_pipeline

            return run_pipeline
        module_name, function_name = self.manifest.entry_point.split(":")
        entry = getattr(self._module(module_name), function_name, None)
        if not callable(entry):
            raise PluginRefused(f"plugin {self.id}: {module_name}.py has no function {function_name}()")
        return entry

    def host_object(self, spec: str) -> Any:
        """The object a manifest names as ``module:attribute`` inside this plugin (a ``[host]`` part), importing
        the module on first use; PluginRefused names what is missing."""
        module_name, attribute = spec.split(":")
        module = self._module(module_name)
        if not hasattr(module, attribute):
            raise PluginRefused(f"plugin {self.id}: {module_name}.py has no {attribute}")
        return getattr(module, attribute)

    def _module(self, module_name: str) -> types.ModuleType:
        package = self.package or _folder_package(self)
        try:
            return importlib.import_module(f"{package}.{module_name}")
        except ImportError as error:
            raise PluginRefused(
                f"plugin {self.id}: cannot import {module_name} from {self.folder} ({error})"
            ) from None


@dataclass
class PluginRegistry:
    """The discovered plugins by id, plus the problems met while discovering (one line each)."""

    plugins: dict[str, Plugin] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def get(self, plugin_id: str) -> Plugin:
        """The plugin with ``plugin_id`` (KeyError listing the known ids)."""
        try:
            return self.plugins[plugin_id]
        except KeyError:
            known = ", ".join(sorted(self.plugins)) or "none"
            raise KeyError(f"no plugin {plugin_id!r} (known: {known})") from None

    def add(self, plugin: Plugin) -> None:
        """Register ``plugin``; a second plugin with the same id is refused and reported."""
        if plugin.id in self.plugins:
            first = self.plugins[plugin.id]
            self.problems.append(
                f"{plugin.source}: duplicate plugin id {plugin.id!r} (keeping {first.source})"
            )
            return
        self.plugins[plugin.id] = plugin


def discover(folders: Iterable[str | os.PathLike] | None = None, entry_points: bool = True) -> PluginRegistry:
    """Find plugins in ``folders`` (default: the repository's plugins/, then the machine-wide and per-user
    plugin folders that `sightline plugins add` installs into) and, if asked, the entry points."""
    registry = PluginRegistry()
    for folder in default_folders() if folders is None else folders:
        for plugin_dir in sorted(Path(folder).iterdir()) if Path(folder).is_dir() else []:
            manifest_path = plugin_dir / MANIFEST_NAME
            if manifest_path.is_file():
                _add_from_manifest(registry, manifest_path, source=str(plugin_dir), package=None)
    if entry_points:
        for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            source = f"entry point {entry.name} = {entry.value}"
            try:
                package_files = importlib.resources.files(entry.module)
                manifest_path = Path(str(package_files / (entry.attr or MANIFEST_NAME)))
            except (ImportError, TypeError) as error:
                registry.problems.append(f"{source}: cannot locate the package ({error})")
                continue
            _add_from_manifest(registry, manifest_path, source=source, package=entry.module)
    return registry


def default_folders() -> list[Path]:
    """The repository's (or bundle's) plugins/, the folders of ``$SIGHTLINE_PLUGIN_PATH``, then the machine-wide
    and per-user plugin folders that `sightline plugins add` installs into."""
    extra = os.environ.get(PATH_VARIABLE, "")
    return [REPO_PLUGINS, *(Path(part) for part in extra.split(os.pathsep) if part.strip()),
            system_plugins_dir(), user_plugins_dir()]


def _add_from_manifest(registry: PluginRegistry, path: Path, source: str, package: str | None) -> None:
    try:
        manifest = load_manifest(path)
    except ManifestError as error:
        registry.problems.append(str(error))
        return
    registry.add(Plugin(manifest=manifest, folder=path.parent, source=source, package=package))


_FOLDER_PACKAGE_LOCK = threading.Lock()


def _folder_package(plugin: Plugin) -> str:
    """``plugins.<folder>`` for a shipped plugin; else a package object whose __path__ is the plugin folder, so
    its modules import (relatively) from there."""
    if plugin.folder.parent.resolve() == REPO_PLUGINS.resolve() and plugin.folder.name.isidentifier():
        return f"plugins.{plugin.folder.name}"
    name = "_sightline_plugin_" + plugin.id.replace("-", "_")
    with _FOLDER_PACKAGE_LOCK:
        existing = sys.modules.get(name)
        if existing is None or list(getattr(existing, "__path__", [])) != [str(plugin.folder)]:
            for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
                del sys.modules[loaded]
            package = types.ModuleType(name, f"Sightline plugin {plugin.id} ({plugin.folder})")
            package.__path__ = [str(plugin.folder)]
            sys.modules[name] = package
    return name
