"""Installer pieces that need no build: frozen entry point, resource lookup, spec, deb tree, desktop entry."""

from __future__ import annotations

import ast
import configparser
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.resources import resource_root

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "resources" / "packaging"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, PACKAGING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


entry = _load("sightline_main")
builder = _load("build_installer")


def test_command_line_of_the_frozen_app(tmp_path: Path) -> None:
    assert entry.command_line([]) == ["view"]
    assert entry.command_line(["--smoke-test", "--out", "x"]) == ["smoke-test", "--out", "x"]
    assert entry.command_line([str(tmp_path)]) == ["view", str(tmp_path)]
    assert entry.command_line(["plugins", "--json"]) == ["plugins", "--json"]


def test_software_rendering_switch() -> None:
    assert not entry.software_rendering({}, "linux")
    env = {entry.SOFTWARE_SWITCH: "1", "QT_OPENGL": "desktop"}
    assert entry.software_rendering(env, "linux")
    assert env["QT_OPENGL"] == "desktop"  # what the user set wins
    assert env["LIBGL_ALWAYS_SOFTWARE"] == "1" and env["GALLIUM_DRIVER"] == "llvmpipe"
    windows = {entry.SOFTWARE_SWITCH: "yes"}
    assert entry.software_rendering(windows, "win32")
    assert windows["QT_OPENGL"] == "software" and "LIBGL_ALWAYS_SOFTWARE" not in windows


def test_resource_root_follows_the_bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from app.settings.preferences import RESOURCES
    from engine.ai.registry import REPO_PLUGINS
    from engine.deid.profile import TABLE_PATH

    assert resource_root() == ROOT
    assert REPO_PLUGINS == ROOT / "plugins" and RESOURCES == ROOT / "resources"
    assert TABLE_PATH.is_relative_to(ROOT / "resources")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resource_root() == tmp_path


def _spec_list(name: str) -> list[str]:
    """A list assigned in build.spec: a literal, or literals and earlier such lists joined with +."""
    tree = ast.parse((ROOT / "build.spec").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return _list_value(node.value)
    raise AssertionError(f"{name} not in build.spec")


def _list_value(node: ast.expr) -> list[str]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _list_value(node.left) + _list_value(node.right)
    if isinstance(node, ast.Name):
        return _spec_list(node.id)
    return list(ast.literal_eval(node))


def test_spec_keeps_training_code_and_torch_out() -> None:
    excludes = _spec_list("EXCLUDES")
    assert {"torch", "tests", "sklearn", "transformers", "SimpleITK"} <= set(excludes)
    assert all(not name.startswith(("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets")) for name in excludes)
    # all of training except the phantom generators that write the sample studies on the first start
    packages = {p.name for p in (ROOT / "training").iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    modules = {p.stem for p in (ROOT / "training").glob("*.py") if p.stem != "__init__"}
    assert {f"training.{name}" for name in (packages | modules) - {"phantoms"}} <= set(excludes)
    assert not [name for name in excludes if name in ("training", "training.phantoms")]


def test_phantom_generators_need_no_excluded_package() -> None:
    """training.phantoms runs inside the bundle: it may import only what the bundle carries."""
    excludes = set(_spec_list("EXCLUDES"))
    for path in (ROOT / "training" / "phantoms").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for name in names:
                assert not any(name == e or name.startswith(e + ".") for e in excludes), f"{path.name}: {name}"


def test_spec_ships_no_sample_studies(tmp_path: Path) -> None:
    spec = (ROOT / "build.spec").read_text()
    assert '("resources", "samples")' in spec and "SKIP_PREFIXES" in spec


def test_every_plugin_has_logic_the_spec_analyses() -> None:
    manifests = sorted(path.parent.name for path in (ROOT / "plugins").glob("*/manifest.toml"))
    assert manifests and manifests == sorted(path.parent.name for path in (ROOT / "plugins").glob("*/logic.py"))


def test_desktop_entry() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(PACKAGING / "sightline.desktop")
    section = parser["Desktop Entry"]
    assert section["Type"] == "Application" and section["Icon"] == "sightline"
    assert section["Exec"].split()[0] == "/usr/bin/sightline"
    if shutil.which("desktop-file-validate"):
        subprocess.run(["desktop-file-validate", str(PACKAGING / "sightline.desktop")], check=True)


def test_deb_tree_and_control(tmp_path: Path) -> None:
    bundle = tmp_path / "dist" / "sightline"
    (bundle / "_internal").mkdir(parents=True)
    (bundle / "sightline").write_bytes(b"\x7fELF" + bytes(2048))
    (bundle / "_internal" / "data.bin").write_bytes(bytes(4096))
    staging = builder.stage_deb(bundle, tmp_path / "deb", "1.2.3")
    assert (staging / "opt/sightline/sightline").is_file()
    link = staging / "usr/bin/sightline"
    assert link.is_symlink() and str(link.readlink()) == "/opt/sightline/sightline"
    assert (staging / "usr/share/applications/sightline.desktop").is_file()
    assert (staging / "usr/share/icons/hicolor/256x256/apps/sightline.png").is_file()
    control = (staging / "DEBIAN/control").read_text()
    assert "Package: sightline\nVersion: 1.2.3\n" in control and "$" not in control
    assert "NOT FOR CLINICAL USE" in control
    installed = int(control.split("Installed-Size: ")[1].split()[0])
    assert installed >= (2052 + 4096) // 1024


def test_budget_lines() -> None:
    lines = builder.budget_lines(700 * builder.MB, {"a.deb": 100 * builder.MIB})
    assert lines == ["BUDGET unpacked_size=700MB target=600MB OVER",
                     "BUDGET compressed_size=100MiB target=180MiB ok a.deb"]
    assert builder.over_budget(lines)
    assert not builder.over_budget(builder.budget_lines(500 * builder.MB, {"a.deb": 100 * builder.MIB}))
    assert builder.over_budget(builder.budget_lines(500 * builder.MB, {"a.tar.xz": 181 * builder.MIB}))


def test_tarball_is_xz_and_unpacks_to_the_bundle_folder(tmp_path: Path) -> None:
    import tarfile

    bundle = tmp_path / "sightline"
    (bundle / "_internal").mkdir(parents=True)
    (bundle / "sightline").write_bytes(b"\x7fELF" + bytes(4096))
    (bundle / "_internal" / "data.bin").write_bytes(bytes(range(256)) * 64)
    archive = builder.make_tarball(bundle, tmp_path / "s.tar.xz")
    assert archive.read_bytes()[:6] == b"\xfd7zXZ\x00"
    with tarfile.open(archive, "r:xz") as unpacked:
        names = unpacked.getnames()
        assert unpacked.extractfile("sightline/_internal/data.bin").read() == bytes(range(256)) * 64
    assert {"sightline", "sightline/sightline", "sightline/_internal/data.bin"} <= set(names)
    assert not list(tmp_path.glob("*.partial"))


def test_vtk_report_marks_what_the_smoke_test_loaded(tmp_path: Path) -> None:
    vtk = tmp_path / "sightline" / "_internal" / "vtkmodules"
    vtk.mkdir(parents=True)
    (vtk / "libvtkRenderingCore-9.5.so").write_bytes(bytes(2_000_000))
    (vtk / "libvtkIOImage-9.5.so").write_bytes(bytes(1_000_000))
    smoke = {"loaded_libraries": ["libvtkRenderingCore-9.5.so", "libc.so.6"], "vtk_modules": ["vtkmodules.a"]}
    lines = builder.vtk_report(tmp_path / "sightline", smoke)
    assert lines[0].startswith("VTK kept 2 libraries, 3 MB") and "loaded 1 of these" in lines[0]
    assert any("libvtkRenderingCore-9.5.so  (loaded by the smoke test)" in line for line in lines)
    assert any("libvtkIOImage-9.5.so  (not loaded by the smoke test)" in line for line in lines)


def test_icon_is_a_square_png() -> None:
    header = (PACKAGING / "sightline.png").read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(header[16:20], "big") == int.from_bytes(header[20:24], "big") >= 256
