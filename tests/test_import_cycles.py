"""No import circles among the `app` modules (issue 18): every import counts, at module level, inside functions
and under TYPE_CHECKING, so a part that needs the whole window cannot hide behind a deferred import."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Dotted name -> file for every module of ``package`` under ``root`` (a package is its ``__init__``)."""
    names = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imported_names(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Dotted names ``tree`` imports anywhere; ``from x import y`` gives both ``x`` and ``x.y`` (y may be a
    module), relative imports resolved against ``module``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph(root: Path = REPO, package: str = "app") -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports (names that are not modules of it are dropped)."""
    modules = module_names(root, package)
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        imported = imported_names(tree, name, path.name == "__init__.py")
        graph[name] = {other for other in imported if other in modules and other != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` as [a, b, ..., a], or None when there is none."""
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as error:
        return list(reversed(error.args[1]))
    return None


def test_app_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"a.py": "import app.b\n", "b.py": "def f():\n    from app import a\n"}, True),
        ({"a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from app.b import B\n",
          "b.py": "from app.a import A\n"}, True),
        ({"pkg/__init__.py": "", "pkg/a.py": "from . import b\n", "pkg/b.py": "from .a import A\n"}, True),
        ({"a.py": "import app.b\n", "b.py": "import engine.volume\n"}, False),
    ],
)
def test_checker_sees_every_kind_of_circle(tmp_path: Path, files: dict[str, str], expected: bool) -> None:
    for name, code in {"__init__.py": "", **files}.items():
        (tmp_path / "app" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "app" / name).write_text(code)
    assert (find_cycle(import_graph(tmp_path)) is not None) == expected
