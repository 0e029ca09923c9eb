"""ARCHITECTURE §1 layer contracts, enforced by walking every import statement (including ones inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# layer -> top-level modules it must never import
FORBIDDEN = {
    "engine": {"app", "plugins", "training", "PySide6", "vtk", "vtkmodules", "pyvista", "torch"},
    "plugins": {"PySide6", "vtk", "vtkmodules", "pyvista", "torch", "training", "app"},
    "app": {"training", "torch"},
    "training": {"app"},
}
# A plugin may ship a Qt widget (widget.py) that only the app imports; it may use the app's Qt helpers
# (app.jobs' BackgroundJob, app.widgets), never the other way round.
PLUGIN_WIDGET_ALLOWED = {"PySide6", "app"}


def imported_top_levels(source: str, filename: str) -> set[str]:
    """Top-level module names imported anywhere in ``source`` (absolute imports only)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module", "__import__"
        ) and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            names.add(node.args[0].value.split(".")[0])
    return names


def violations(root: Path = REPO) -> list[str]:
    """Every import that breaks a layer contract, as 'path: imports X'."""
    found = []
    for layer, forbidden in FORBIDDEN.items():
        for path in sorted((root / layer).rglob("*.py")):
            banned = set(forbidden)
            if layer == "plugins" and path.name == "widget.py":
                banned -= PLUGIN_WIDGET_ALLOWED
            for name in sorted(imported_top_levels(path.read_text(), str(path)) & banned):
                found.append(f"{path.relative_to(root)}: imports {name}")
    return found


def test_no_layer_contract_is_broken() -> None:
    assert violations() == []


@pytest.mark.parametrize(
    ("layer", "filename", "code"),
    [
        ("engine", "bad.py", "import PySide6.QtWidgets\n"),
        ("engine", "bad.py", "def f():\n    from torch import nn\n"),
        ("engine", "bad.py", "import importlib\nimportlib.import_module('vtk')\n"),
        ("plugins", "x/logic.py", "import vtkmodules.all\n"),
        ("app", "bad.py", "from training.phantoms import chest\n"),
        ("training", "bad.py", "import app.cli\n"),
    ],
)
def test_checker_catches_a_violation(tmp_path: Path, layer: str, filename: str, code: str) -> None:
    target = tmp_path / layer / filename
    target.parent.mkdir(parents=True)
    target.write_text(code)
    assert len(violations(tmp_path)) == 1


def test_plugin_widget_may_use_qt(tmp_path: Path) -> None:
    target = tmp_path / "plugins" / "x" / "widget.py"
    target.parent.mkdir(parents=True)
    target.write_text("from PySide6 import QtWidgets\n")
    assert violations(tmp_path) == []


def test_headless_cli_never_loads_qt_or_vtk() -> None:
    import subprocess
    import sys

    code = (
        "import sys, app.cli\n"
        "app.cli.build_parser()\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'vtk', 'vtkmodules', 'torch')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
