"""Entry point of the installed (PyInstaller) Sightline app.

``Sightline`` alone opens the reading window; ``Sightline PATH`` opens PATH in it; ``--smoke-test`` runs
the self-check; ``--write-samples --out DIR`` is the child process that writes the phantom sample studies
(`sightline samples` and the welcome screen start it; the bundle carries ``training.phantoms`` for it and
none of the rest of ``training``); anything else is a `sightline` subcommand. Before any Qt import it
loads ONNX Runtime: on Windows, Qt's wheels bring an older MSVC runtime, and ONNX Runtime loaded after
it can fail to start.
``SIGHTLINE_SOFTWARE_RENDERING=1`` selects software OpenGL (Mesa llvmpipe) for Qt and VTK, for old GPU
drivers, virtual machines and remote desktops.
"""

from __future__ import annotations

import ctypes.util
import multiprocessing
import os
import sys
from collections.abc import MutableMapping
from pathlib import Path

SOFTWARE_SWITCH = "SIGHTLINE_SOFTWARE_RENDERING"


def software_rendering(env: MutableMapping[str, str], platform: str = sys.platform) -> bool:
    """When ``env`` asks for it, set the variables that make Qt and VTK render with software OpenGL (values
    already set win); returns whether it did."""
    if env.get(SOFTWARE_SWITCH, "").strip().lower() not in ("1", "true", "yes", "on"):
        return False
    env.setdefault("QT_OPENGL", "software")  # Windows: Qt's opengl32sw.dll (Mesa llvmpipe)
    env.setdefault("QT_QUICK_BACKEND", "software")
    if platform.startswith("linux"):
        env.setdefault("LIBGL_ALWAYS_SOFTWARE", "1")  # Mesa llvmpipe through GLX
        env.setdefault("GALLIUM_DRIVER", "llvmpipe")
        if ctypes.util.find_library("OSMesa"):  # no X server at all: VTK renders through OSMesa
            env.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkOSOpenGLRenderWindow")
    return True


def command_line(args: list[str]) -> list[str]:
    """The `sightline` command line for what the app was started with."""
    if not args:
        return ["view"]
    if args[0] == "--smoke-test":
        return ["smoke-test", *args[1:]]
    if os.path.isabs(args[0]) and Path(args[0]).exists():
        return ["view", *args]  # a study dropped on the icon or opened from the file manager (absolute)
    return args


WRITE_SAMPLES = "--write-samples"  # app.cli.samples.FROZEN_SWITCH


def write_samples(args: list[str]) -> int:
    """The sample generator (numpy + pydicom, no Qt): what `python -m training.phantoms.samples` is in the
    source tree."""
    from training.phantoms.samples import main as generate

    return generate(args)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == [WRITE_SAMPLES]:
        return write_samples(args[1:])
    software_rendering(os.environ)
    import onnxruntime  # noqa: F401  (before Qt, see the module docstring)

    from app.cli import main as cli_main

    return cli_main(command_line(args))


if __name__ == "__main__":
    # The frozen app is also the interpreter of the decoder worker processes (engine.dicom.sandbox, started
    # with "spawn"): in such a child this runs the worker instead of the app.
    multiprocessing.freeze_support()
    sys.exit(main())
