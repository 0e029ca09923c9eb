"""Which OpenGL window VTK renders the 3D view into.

The 3D view renders offscreen and paints the read-back pixels into its Qt widget, so it needs no window on
screen. Under GLX every vtkRenderWindow opens its own X display connection; creating and destroying one per
opened study crashed Mesa's GLX (a segmentation fault in XGetXCBConnection inside vtkRenderWindow(), after
about a hundred 3D views in one process). On Linux, EGL renders headless with no X connection, so it is
chosen when libEGL is installed, unless the user (or SIGHTLINE_SOFTWARE_RENDERING) already chose a window.
"""

from __future__ import annotations

import ctypes.util
import os
import sys
from collections.abc import MutableMapping

VARIABLE = "VTK_DEFAULT_OPENGL_WINDOW"
EGL_WINDOW = "vtkEGLRenderWindow"


def choose_offscreen_window(env: MutableMapping[str, str] = os.environ, platform: str = sys.platform) -> str | None:
    """Set ``VTK_DEFAULT_OPENGL_WINDOW`` to EGL on Linux when libEGL is present and nothing else was chosen;
    returns the window class VTK will be asked for (None: VTK's own default)."""
    if VARIABLE not in env and platform.startswith("linux") and ctypes.util.find_library("EGL"):
        env[VARIABLE] = EGL_WINDOW
    return env.get(VARIABLE)
