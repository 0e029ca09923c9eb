"""BENCH startup: cold start to the shown main window with the catalog listed, vs a bare PySide6 + VTK window
(QMainWindow + one offscreen VTK render) started the same way in the same run."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUNS = 3

BARE = """
from PySide6.QtWidgets import QApplication, QMainWindow, QLabel
import vtkmodules.vtkRenderingOpenGL2
from vtkmodules.vtkRenderingCore import vtkRenderWindow, vtkRenderer
app = QApplication([])
window = QMainWindow(); window.setCentralWidget(QLabel("bare")); window.resize(1600, 1000); window.show()
render_window = vtkRenderWindow(); render_window.SetOffScreenRendering(1); render_window.AddRenderer(vtkRenderer())
render_window.Render()
app.processEvents()
"""

OURS = """
from PySide6.QtWidgets import QApplication
from app.settings.preferences import Preferences
from app.settings.store import qsettings
from app.widgets.main_window import MainWindow
from engine.catalog import Catalog
app = QApplication([])
window = MainWindow(Preferences(qsettings()), Catalog())
window.show()
app.processEvents()
assert window.browser.tree.topLevelItemCount() >= 0
import os; os._exit(0)
"""


def timed(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
               PYTHONPATH=str(REPO), SIGHTLINE_HOME=tempfile.mkdtemp(prefix="sightline_bench_"))
    ours = min(timed(OURS, env) for _ in range(RUNS))
    bare = min(timed(BARE, env) for _ in range(RUNS))
    print(f"BENCH startup ours={ours:.3f} baseline={bare:.3f} ratio={ours / bare:.2f} runs={RUNS}")


if __name__ == "__main__":
    main()
