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


def _contrast(foreground, background) -> float:
    """WCAG contrast ratio of two QColors."""
    def luminance(colour) -> float:
        channels = [c / 255 for c in (colour.red(), colour.green(), colour.blue())]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_warning_and_error_text_take_the_themes_colours(window, qtbot, tmp_path) -> None:
    """The AI panel's refusal, notice and warnings and the welcome notice are in the theme's tone colours,
    readable (WCAG contrast >= 4.5) on the window background of the dark and the light theme; a refusal is
    shown and saved as a screenshot."""
    import dataclasses

    from app.widgets.theme import apply_theme, tone_colour
    from app.widgets.welcome import WelcomeDialog
    from engine.ai.manifest import load_manifest
    from engine.ai.registry import discover
    from engine.ai.suitability import Suitability
    from tests.app.test_ai_panel import choose, make_plugin, run_and_wait

    make_plugin(tmp_path / "plugins", "head_lesions")  # the AI panel tests' plugin, for head CT only
    path = tmp_path / "plugins" / "head_lesions" / "manifest.toml"
    path.write_text(dataclasses.replace(load_manifest(path), suitability=Suitability(
        body_parts=["HEAD"], region_name="head CT")).to_toml())
    window.docks["ai"].raise_()
    panel = window.ai_panel
    panel.audit_log = tmp_path / "audit.jsonl"
    panel.set_registry(discover([tmp_path / "plugins"], entry_points=False))
    volume = cube_volume()
    volume.meta = {**volume.meta, "BodyPartExamined": "CHEST"}
    window.show_volume(volume)
    choose(panel, "head_lesions")
    run_and_wait(panel, qtbot)
    assert "refuses the study" in panel.status.text() and panel.status.property("tone") == "error"
    welcome = WelcomeDialog([], tmp_path, window)
    qtbot.addWidget(welcome)
    for theme in ("dark", "light"):
        apply_theme(theme)
        background = QApplication.instance().palette().color(QPalette.Window)
        for label, tone in ((panel.status, "error"), (panel.notice, "error"), (panel.warnings, "warning"),
                            (welcome.notice, "error")):
            assert label.property("tone") == tone
            label.ensurePolished()
            shown = label.palette().color(QPalette.WindowText)
            assert shown == tone_colour(tone, theme), (theme, label.objectName(), shown.name())
            assert _contrast(shown, background) >= 4.5, (theme, tone, shown.name(), background.name())
        if theme == "dark":
            save_artifact(window.docks["ai"], "ai_panel_refusal_dark.png")
    apply_theme("dark")
