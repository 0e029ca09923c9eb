"""The installed app's self-check (`sightline --smoke-test`): proves a bundle or a source tree works end to end.

It opens a sample study in the reading window (2x2 layout, so the offscreen VTK volume renderer draws
too), runs every discovered plugin once — analysis plugins through the AI runtime on the sample study
whose series fill their input roles (writing result.json, DICOM SR and the PDF report), a plugin whose
manifest names its own check (``[host] self_check``, e.g. a synthesis with a few DDIM steps) through that, an
added plugin that carries an ``[example]`` (an imported nnU-Net or MONAI model) on that example against its
expected output — then runs the declarative test plugin the app carries (``resources/self_check_plugin``, made
by training/self_check_plugin.py) through the engine's pipeline and compares with its expected output, as
`sightline plugins add` checks an imported plugin, and writes ``smoke.json`` plus a window screenshot to the
output folder.
Nothing is written to the user's catalog, settings or audit log.
"""

from __future__ import annotations

import json
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.resources import resource_root

if TYPE_CHECKING:
    from engine.ai.registry import Plugin, PluginRegistry
    from engine.series import SeriesInfo

WINDOW_TIMEOUT_S = 120.0
WINDOW_STUDY = "cardiac_ct"  # a 3D study, so slice views and the volume renderer all draw
SELF_CHECK_PLUGIN = "self_check_plugin"  # under resources/: a declarative plugin with example and expected output


@dataclass
class Check:
    """One line of the smoke report: what was checked, whether it passed, and the detail or the reason."""

    name: str
    ok: bool
    detail: str
    seconds: float


def samples_folder() -> Path:
    """The sample studies to check with: a source tree's ``resources/samples`` when `make samples` wrote them,
    else the user's (``<data folder>/samples``; the installed app ships none and creates them there)."""
    from app.cli.samples import sample_folders, user_samples_folder

    shipped = resource_root() / "resources" / "samples"
    return shipped if sample_folders(shipped) else user_samples_folder()


def run_self_check(out: Path, synthesis_steps: int = 2, log: Callable[[str], None] = print) -> list[Check]:
    """Run every check, write ``out/smoke.json`` and return the checks (all ``ok`` means the app works)."""
    out.mkdir(parents=True, exist_ok=True)
    samples = samples_folder()
    checks: list[Check] = []

    def record(name: str, step: Callable[[], str]) -> None:
        start = time.perf_counter()
        try:
            check = Check(name, True, step(), 0.0)
        except Exception as error:  # the report names every failure instead of stopping at the first
            traceback.print_exc()
            check = Check(name, False, f"{type(error).__name__}: {error}", 0.0)
        check.seconds = round(time.perf_counter() - start, 2)
        checks.append(check)
        log(f"SMOKE {'ok' if check.ok else 'FAILED'} {name} ({check.seconds:.1f} s): {check.detail}")

    record("samples", lambda: _check_samples(samples))
    record("pixel decoders", _check_decoders)
    record("window", lambda: _check_window(samples / WINDOW_STUDY, out))
    from engine.ai.runner import default_registry

    registry = default_registry()
    record("plugins", lambda: _check_registry(registry))
    studies = _scan_samples(samples)
    for plugin in registry.plugins.values():
        if plugin.manifest.host.self_check:
            record(f"plugin {plugin.id}", lambda p=plugin: _run_own_check(p, out, synthesis_steps))
        elif plugin.manifest.example:
            record(f"plugin {plugin.id}", lambda p=plugin: check_carried_plugin(p.folder, out))
        else:
            record(f"plugin {plugin.id}", lambda p=plugin: _run_analysis(p, studies, out))
    record("declarative plugin", lambda: check_carried_plugin(self_check_plugin_folder(), out))
    report = {"ok": all(c.ok for c in checks), "frozen": bool(getattr(sys, "frozen", False)),
              "resource_root": str(resource_root()), "python": platform.python_version(),
              "checks": [asdict(c) for c in checks],
              # what this run loaded: the installer build lists the bundled VTK libraries against these
              "vtk_modules": sorted(name for name in sys.modules if name.startswith("vtkmodules")),
              "loaded_libraries": loaded_libraries()}
    (out / "smoke.json").write_text(json.dumps(report, indent=2))
    return checks


def loaded_libraries() -> list[str]:
    """File names of the shared libraries this process has mapped (Linux; empty elsewhere)."""
    maps = Path("/proc/self/maps")
    if not maps.is_file():
        return []
    names = {Path(line.split(None, 5)[5].strip()).name for line in maps.read_text().splitlines()
             if len(line.split(None, 5)) == 6 and ".so" in line.split(None, 5)[5]}
    return sorted(names)


def self_check_plugin_folder() -> Path:
    """The declarative test plugin the app carries (``resources/self_check_plugin`` of the bundle or tree)."""
    return resource_root() / "resources" / SELF_CHECK_PLUGIN


def check_carried_plugin(folder: Path, out: Path) -> str:
    """Check the plugin in ``folder`` as `sightline plugins add` does, without installing it: every file it has
    is hashed by its manifest with that hash, and its example input gives its expected label map (per-label
    Dice at least engine.ai.install.EXAMPLE_MIN_DICE, on the expected output's grid)."""
    from engine.ai.install import check_example, check_files
    from engine.ai.manifest import MANIFEST_NAME, load_manifest

    manifest = load_manifest(folder / MANIFEST_NAME)
    problems = check_files(folder, manifest)
    if problems:
        raise RuntimeError("; ".join(problems))
    dice = check_example(folder, manifest, out / "audit.log")["dice"]
    kind = "declarative pipeline" if manifest.pipeline else f"entry point {manifest.entry_point}"
    listed = ", ".join(f"{name} {value:.4f}" for name, value in dice.items())
    return f"{manifest.id} {manifest.version} ({kind}): example output matches the expected labels (Dice {listed})"


def _check_samples(samples: Path) -> str:
    """The sample studies are there, or are created as the welcome screen creates them on the first start."""
    from app.cli.samples import create_samples, sample_folders

    names = [p.name for p in sample_folders(samples)]
    if names:
        return f"{len(names)} studies in {samples}: {', '.join(names)}"
    start = time.perf_counter()
    names = [p.name for p in create_samples(samples)]
    if not names:
        raise FileNotFoundError(f"the sample generator wrote no study into {samples}")
    return f"created {len(names)} studies in {samples} ({time.perf_counter() - start:.1f} s): {', '.join(names)}"


def _check_decoders() -> str:
    """Every decoder the loader prefers is importable (the bundle collects them by name)."""
    from pydicom.pixels import get_decoder

    from engine.dicom.codecs import PLUGIN_PREFERENCE, configure_decoders

    configure_decoders()
    missing = [f"{syntax.name}: {name}" for syntax, names in PLUGIN_PREFERENCE.items()
               for name in names if name not in get_decoder(syntax).available_plugins]
    if missing:
        raise RuntimeError("decoders missing: " + "; ".join(missing))
    return f"{len(PLUGIN_PREFERENCE)} compressed transfer syntaxes decodable"


def _check_registry(registry: PluginRegistry) -> str:
    bad = [f"{plugin.id}: {name} {status}" for plugin in registry.plugins.values()
           for name, (status, _) in plugin.hash_status().items() if status != "ok"]
    if registry.problems or bad or not registry.plugins:
        raise RuntimeError("; ".join(registry.problems + bad) or "no plugins found")
    return ", ".join(sorted(registry.plugins))


def _check_window(study: Path, out: Path) -> str:
    """Open ``study`` in a fresh main window (temporary catalog and preferences) and render every view."""
    import numpy as np
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.settings.preferences import DictStore, Preferences
    from app.viewer_model.model import VOLUME_3D
    from app.widgets.main_window import MainWindow
    from engine.catalog import Catalog

    app = QApplication.instance() or QApplication(sys.argv[:1])
    catalog = Catalog(out / "catalog.sqlite")
    window = MainWindow(Preferences(DictStore()), catalog)
    try:
        window.model.set_layout("2x2")
        window.show()
        loop = QEventLoop()
        window.settled.connect(loop.quit)
        QTimer.singleShot(int(WINDOW_TIMEOUT_S * 1000), loop.quit)
        window.open_path(study)
        loop.exec()
        app.processEvents()
        if window.model.volume is None:
            raise RuntimeError(f"{study} did not open: {window.last_error or 'timed out'}")
        shot = out / "window.png"
        if not window.grab().save(str(shot)):
            raise OSError(f"cannot write {shot}")
        rgb = window.grid.view(VOLUME_3D).canvas.last_rgb
        if rgb is None or float(np.asarray(rgb).std()) == 0.0:
            raise RuntimeError("the 3D view rendered nothing (VTK OpenGL context?)")
        return f"{study.name} {window.model.volume.array.shape} shown, 3D view rendered, {shot}"
    finally:
        window.close()
        catalog.close()


def _scan_samples(samples: Path) -> dict[Path, list[SeriesInfo]]:
    from engine.dicom.scanner import scan

    folders = sorted(p for p in samples.iterdir() if p.is_dir()) if samples.is_dir() else []
    return {folder: scan(folder).series for folder in folders}


def _study_for(plugin: Plugin, studies: dict[Path, list[SeriesInfo]]) -> Path:
    """The first sample study whose series fill every required input role of ``plugin``."""
    from engine.analysis.inputs import match_study

    for folder, series in studies.items():
        if match_study(plugin.manifest, series)[0].complete:
            return folder
    raise LookupError(f"no sample study fits the input roles of {plugin.id}")


def _run_analysis(plugin: Plugin, studies: dict[Path, list[SeriesInfo]], out: Path) -> str:
    from engine.analysis.service import analyze_study

    study = _study_for(plugin, studies)
    written = analyze_study(study, plugin.id, out / plugin.id, out / "audit.log")
    names = sorted(path.name for path in written)
    if "result.json" not in names:
        raise RuntimeError(f"no result.json among {names}")
    findings = len(json.loads((out / plugin.id / "result.json").read_text()).get("findings", []))
    return f"{study.name}: {findings} finding(s), wrote {', '.join(names)}"


def _run_own_check(plugin: Plugin, out: Path, steps: int) -> str:
    """The plugin's own check (``[host] self_check``: ``check(plugin, out, steps) -> str``)."""
    return str(plugin.host_object(plugin.manifest.host.self_check)(plugin, out, steps))
