"""Plugins are self-contained packages (issue 18 §4): no plugin-specific code lives in the core. No module of
engine/ or app/ imports a plugin's modules, names a shipped plugin by its id, or branches on a plugin kind; the
host reaches a plugin only through the registry and the parts its manifest's ``[host]`` table names. A plugin's
Qt part (widget.py) is imported by nothing but the app (through the manifest)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORE = ("engine", "app")
KINDS = {"detection", "segmentation", "calcium", "synthesis"}  # engine.ai.manifest.Kind


def shipped_ids(root: Path = REPO) -> list[str]:
    return sorted(path.parent.name for path in (root / "plugins").glob("*/manifest.toml"))


def _kind_comparison(node: ast.Compare) -> bool:
    """``<x>.kind == "calcium"``, ``kind != "synthesis"``, ``kind in (...)``: a branch on a plugin kind."""
    sides = [node.left, *node.comparators]
    if not any((isinstance(side, ast.Attribute) and side.attr == "kind") or (isinstance(side, ast.Name)
                                                                              and side.id == "kind")
               for side in sides):
        return False
    constants = [c for side in sides for c in ast.walk(side) if isinstance(c, ast.Constant)]
    return any(isinstance(c.value, str) and c.value in KINDS for c in constants)


def core_violations(root: Path = REPO, ids: list[str] | None = None) -> list[str]:
    """Every place in engine/ and app/ that knows a particular plugin, as 'path:line: what'."""
    ids = shipped_ids(root) if ids is None else ids
    found = []
    for layer in CORE:
        for path in sorted((root / layer).rglob("*.py")):
            name = path.relative_to(root)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                modules: list[str] = []
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                found += [f"{name}:{node.lineno}: imports {m}" for m in modules if m.split(".")[0] == "plugins"]
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    found += [f"{name}:{node.lineno}: names plugin {i}" for i in ids if i in node.value]
                if isinstance(node, ast.Compare) and _kind_comparison(node):
                    found.append(f"{name}:{node.lineno}: branches on a plugin kind")
    return found


def widget_importers(root: Path = REPO) -> list[str]:
    """Modules other than the app that import a plugin's widget module (its Qt part)."""
    found = []
    for layer in ("engine", "plugins", "training"):
        for path in sorted((root / layer).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = ("." * node.level) + (node.module or "")
                    names = [base] + [f"{base.rstrip('.')}.{alias.name}" for alias in node.names]
                if any(n.split(".")[-1] == "widget" for n in names) and path.name != "widget.py":
                    found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_the_shipped_plugins_are_found() -> None:
    assert shipped_ids() == ["brain_tumor_mri", "chest_xray_nodules", "coronary_calcium_ct", "prostate_synthesis"]


def test_no_plugin_specific_code_in_engine_or_app() -> None:
    assert core_violations() == []


def test_only_the_app_imports_a_plugin_widget() -> None:
    assert widget_importers() == []


def test_the_core_keeps_no_plugin_package() -> None:
    """The moved packages stay moved: no engine/calcium, engine/synthesis, brain preprocessing, calcium report."""
    gone = ["engine/calcium", "engine/synthesis", "engine/preprocessing/brain.py",
            "engine/preprocessing/brain_findings.py", "engine/reports/calcium.py", "engine/reports/calcium_chart.py",
            "app/widgets/synthesis_panel.py", "app/jobs/synthesis.py", "app/viewer_model/synthesis_form.py",
            "app/cli/synthesize.py", "app/cli/calcium_score.py"]
    assert [path for path in gone if (REPO / path).exists()] == []


@pytest.mark.parametrize(
    ("layer", "code"),
    [
        ("engine", "from plugins.coronary_calcium_ct.scoring import score_arteries\n"),
        ("app", "def f():\n    import plugins.prostate_synthesis.runner\n"),
        ("app", "PLUGIN = 'prostate_synthesis'\n"),
        ("engine", "def f(manifest):\n    if manifest.kind == 'calcium':\n        return 1\n"),
        ("engine", "def f(kind):\n    return 1 if kind != 'synthesis' else 2\n"),
        ("app", "def f(plugin):\n    return plugin.manifest.kind in ('detection', 'calcium')\n"),
    ],
)
def test_the_checker_catches_plugin_code_in_the_core(tmp_path: Path, layer: str, code: str) -> None:
    (tmp_path / layer).mkdir()
    (tmp_path / layer / "bad.py").write_text(code)
    ids = ["coronary_calcium_ct", "prostate_synthesis"]
    assert len(core_violations(tmp_path, ids)) == 1


@pytest.mark.parametrize("code", ["from . import widget\n", "from .widget import Panel\n",
                                  "import plugins.x.widget\n"])
def test_the_checker_catches_logic_importing_a_widget(tmp_path: Path, code: str) -> None:
    (tmp_path / "plugins" / "x").mkdir(parents=True)
    (tmp_path / "plugins" / "x" / "logic.py").write_text(code)
    (tmp_path / "plugins" / "x" / "widget.py").write_text("from PySide6 import QtWidgets\n")
    assert len(widget_importers(tmp_path)) == 1
