"""Preferences: JSON defaults + QSettings overrides that survive a restart; restore defaults; conflicts."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.settings.preferences import DictStore, Preferences, load_default, shortcut_conflicts
from app.settings.store import qsettings


def test_shipped_shortcuts_have_no_conflicts() -> None:
    assert shortcut_conflicts(load_default("shortcuts")) == []


def test_conflicts_are_refused() -> None:
    preferences = Preferences(DictStore())
    shortcuts = preferences.get("shortcuts")
    shortcuts["viewer"]["window.invert"] = ["Down"]
    with pytest.raises(ValueError, match="Down"):
        preferences.set("shortcuts", shortcuts)
    shortcuts = preferences.get("shortcuts")
    shortcuts["3d"]["volume.reset"] = ["Ctrl+O"]
    assert any("global" in problem for problem in shortcut_conflicts(shortcuts))


def test_preferences_survive_a_restart_and_restore_defaults() -> None:
    preferences = Preferences(qsettings())
    shortcuts = preferences.get("shortcuts")
    shortcuts["viewer"]["window.invert"] = ["N"]
    preferences.set("shortcuts", shortcuts)
    mouse = preferences.get("mouse_map")
    mouse["window_level"]["invert_y"] = True
    preferences.set("mouse_map", mouse)
    settings = qsettings()
    settings.sync()
    restarted = Preferences(qsettings())
    assert restarted.get("shortcuts")["viewer"]["window.invert"] == ["N"]
    assert restarted.get("mouse_map")["window_level"]["invert_y"] is True
    restarted.restore_defaults()
    assert Preferences(qsettings()).get("shortcuts") == load_default("shortcuts")


def test_changed_shortcut_applies_in_the_window(window, qtbot) -> None:
    from tests.app.conftest import cube_volume

    window.show_volume(cube_volume())
    shortcuts = window.preferences.get("shortcuts")
    shortcuts["viewer"]["window.invert"] = ["N"]
    window.preferences.set("shortcuts", shortcuts)
    view = window.grid.view("axial")
    view.setFocus()
    qtbot.keyClick(view, Qt.Key_N)
    assert window.model.invert
    qtbot.keyClick(view, Qt.Key_I)
    assert window.model.invert  # I is no longer bound


def test_preferences_dialog_restore_defaults(window, qtbot) -> None:
    from app.widgets.preferences_dialog import PreferencesDialog

    shortcuts = window.preferences.get("shortcuts")
    shortcuts["viewer"]["window.invert"] = ["N"]
    window.preferences.set("shortcuts", shortcuts)
    dialog = PreferencesDialog(window.preferences, window)
    qtbot.addWidget(dialog)
    dialog.restore.click()
    dialog.save()
    assert window.preferences.get("shortcuts")["viewer"]["window.invert"] == ["I"]
