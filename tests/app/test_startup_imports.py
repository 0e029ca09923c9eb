"""Start-up stays light: the main window's modules do not import the heavy libraries that only some actions
need (scipy ~0.6 s, ONNX Runtime, highdicom, matplotlib, torch, pydicom with its decoders); those load on first
use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("scipy", "onnxruntime", "highdicom", "matplotlib", "torch", "pydicom")


def test_the_main_window_imports_no_heavy_library() -> None:
    code = ("import sys; import app.widgets.main_window; "
            f"print(sorted({{n.split('.')[0] for n in sys.modules}} & set({HEAVY!r})))")
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
