"""The window theme: a QPalette and a small style sheet built from resources/themes.json, applied to the whole
application (menus, docks, dialogs, tooltips). Dark is the default; the light theme is Qt's own palette."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from engine.resources import resource_root

THEMES_FILE = resource_root() / "resources" / "themes.json"
DEFAULT_THEME = "dark"


@cache
def themes() -> dict[str, Any]:
    """The shipped themes by name."""
    try:
        data = json.loads(THEMES_FILE.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{THEMES_FILE}: cannot read the themes: {error}") from error
    return {name: theme for name, theme in data.items() if not name.startswith("_")}


def theme_names() -> list[str]:
    return list(themes())


def palette_for(name: str, base: QPalette) -> QPalette:
    """``base`` (the style's standard palette) with the theme's colours; unknown names raise ValueError."""
    if name not in themes():
        raise ValueError(f"unknown theme {name!r}; expected one of {', '.join(themes())}")
    theme = themes()[name]
    palette = QPalette(base)
    for group, colours in ((None, theme.get("palette", {})), (QPalette.Disabled, theme.get("disabled", {}))):
        for role_name, colour in colours.items():
            role = getattr(QPalette.ColorRole, role_name, None)
            if role is None:
                raise ValueError(f"{THEMES_FILE}: theme {name!r} names no palette role {role_name!r}")
            if group is None:
                palette.setColor(role, QColor(colour))
            else:
                palette.setColor(group, role, QColor(colour))
    return palette


def apply_theme(name: str, app: QApplication | None = None) -> str:
    """Apply theme ``name`` (an unknown one falls back to the default) to the application; returns the theme
    applied. The Fusion style draws every control from the palette, so a dark palette gives dark controls."""
    app = app or QApplication.instance()
    if name not in themes():
        name = DEFAULT_THEME
    if app.style().name().lower() != "fusion":
        app.setStyle("Fusion")
    app.setPalette(palette_for(name, app.style().standardPalette()))
    app.setStyleSheet(themes()[name].get("stylesheet", ""))
    app.setProperty("sightline_theme", name)
    return name
