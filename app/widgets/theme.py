"""The window theme: a QPalette and a small style sheet built from resources/themes.json, applied to the whole
application (menus, docks, dialogs, tooltips). Dark is the default; the light theme is Qt's own palette.
Warning and error text takes the theme's tone colours (``set_tone``), never a colour of its own."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from engine.resources import resource_root

THEMES_FILE = resource_root() / "resources" / "themes.json"
DEFAULT_THEME = "dark"
TONES = ("warning", "error")


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
    app.setStyleSheet(stylesheet_for(name))
    app.setProperty("sightline_theme", name)
    return name


def tone_colour(tone: str, name: str | None = None) -> QColor:
    """The colour of ``tone`` ('warning', 'error') in theme ``name`` (default: the theme applied)."""
    if tone not in TONES:
        raise ValueError(f"unknown tone {tone!r}; expected one of {', '.join(TONES)}")
    app = QApplication.instance()
    name = name or (str(app.property("sightline_theme") or "") if app is not None else "") or DEFAULT_THEME
    colour = themes().get(name, themes()[DEFAULT_THEME]).get("tones", {}).get(tone)
    if not colour:
        raise ValueError(f"{THEMES_FILE}: theme {name!r} has no {tone!r} tone colour")
    return QColor(colour)


def stylesheet_for(name: str) -> str:
    """The theme's style sheet plus one rule per tone: labels set to a tone (``set_tone``) follow the theme."""
    rules = [f'QLabel[tone="{tone}"] {{ color: {tone_colour(tone, name).name()}; font-weight: bold; }}'
             for tone in TONES]
    return " ".join([themes()[name].get("stylesheet", ""), *rules]).strip()


def set_tone(widget: QWidget, tone: str = "") -> None:
    """Show ``widget``'s text in the theme's ``tone`` colour ('' for the plain text colour)."""
    if tone and tone not in TONES:
        raise ValueError(f"unknown tone {tone!r}; expected one of {', '.join(TONES)}")
    widget.setProperty("tone", tone)
    widget.style().unpolish(widget)  # a dynamic property: the style sheet is matched again
    widget.style().polish(widget)
