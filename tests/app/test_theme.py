"""The window theme: dark by default (readers work in dim rooms), light selectable in Preferences, kept for the
next start; the image views stay black behind the image in both."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from app.widgets.theme import palette_for, theme_names
from tests.app.conftest import cube_volume, rendered, save_artifact


def lightness(role: QPalette.ColorRole, group: QPalette.ColorGroup = QPalette.Active) -> int:
    return QApplication.instance().palette().color(group, role).lightness()


def test_dark_is_the_default_and_text_stays_readable(window) -> None:
    assert {"dark", "light"} <= set(theme_names())
    assert QApplication.instance().property("sightline_theme") == "dark"
    assert lightness(QPalette.Window) < 60 and lightness(QPalette.Base) < 60
    assert lightness(QPalette.WindowText) > 180 and lightness(QPalette.Text) > 180
    assert lightness(QPalette.ButtonText) - lightness(QPalette.Button) > 120
    assert lightness(QPalette.Text, QPalette.Disabled) - lightness(QPalette.Base) > 60  # greyed, still legible
    window.show_volume(cube_volume())
    window.model.set_crosshair(np.array([40.0, 40.0, 40.0]))
    image = rendered(window.grid.view("axial"))
    assert image[:8, :8].max() == 0  # air at W400/L40 is black: the theme does not tint the image
    save_artifact(window, "dark_theme_window.png")
    with pytest.raises(ValueError, match="unknown theme"):
        palette_for("sepia", QPalette())


def test_light_theme_from_preferences_and_back(window, qtbot) -> None:
    from app.widgets.preferences_dialog import PreferencesDialog

    dialog = PreferencesDialog(window.preferences, window)
    assert dialog.theme.currentData() == "dark"
    dialog.theme.setCurrentIndex(dialog.theme.findData("light"))
    dialog.save()
    assert window.preferences.get("appearance")["theme"] == "light"
    assert QApplication.instance().property("sightline_theme") == "light"
    assert lightness(QPalette.Window) > 180 and lightness(QPalette.WindowText) < 80
    window.show_volume(cube_volume())
    assert rendered(window.grid.view("axial"))[:8, :8].max() == 0
    save_artifact(window, "light_theme_window.png")
    dialog = PreferencesDialog(window.preferences, window)
    assert dialog.theme.currentData() == "light"  # kept
    dialog.restore_defaults()
    assert dialog.theme.currentData() == "dark"
    assert QApplication.instance().property("sightline_theme") == "dark"
