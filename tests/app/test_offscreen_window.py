"""The 3D view renders through EGL on Linux (no X connection per render window), unless a window was chosen."""

from __future__ import annotations

import ctypes.util

import pytest

from app.render.offscreen import EGL_WINDOW, VARIABLE, choose_offscreen_window


def test_linux_with_egl_gets_the_egl_window(monkeypatch) -> None:
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: "libEGL.so.1" if name == "EGL" else None)
    env: dict[str, str] = {}
    assert choose_offscreen_window(env, "linux") == EGL_WINDOW and env == {VARIABLE: EGL_WINDOW}


@pytest.mark.parametrize(("env", "platform", "egl", "expected"), [
    ({VARIABLE: "vtkOSOpenGLRenderWindow"}, "linux", True, "vtkOSOpenGLRenderWindow"),  # software rendering
    ({}, "linux", False, None),  # no libEGL: VTK's default (GLX)
    ({}, "win32", True, None),
    ({}, "darwin", True, None),
])
def test_other_choices_are_left_alone(monkeypatch, env, platform, egl, expected) -> None:
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: "libEGL.so.1" if egl else None)
    assert choose_offscreen_window(env, platform) == expected


def test_the_3d_view_renders_through_the_chosen_window(window, qtbot) -> None:
    from tests.app.conftest import cube_volume

    window.show_volume(cube_volume())
    window.registry.run("layout.2x2")
    canvas = window.grid.view("3d").canvas
    canvas.repaint()
    assert canvas.last_rgb is not None and canvas.last_rgb.max() > 0
    expected = choose_offscreen_window()
    if expected is not None:
        assert canvas.renderer.window.GetClassName() == expected
