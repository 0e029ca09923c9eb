"""Shortcut conflicts across contexts: a key may not repeat within a context, nor in two contexts active at
once ('global' with all, and the pairs the shortcuts file lists, e.g. editing over the viewer); the dialog
refuses such an edit naming both commands, and the Editing dock's tooltips follow the keys."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMessageBox

from app.actions.shortcut_conflicts import TOGETHER_KEY, contexts, normal_key, shortcut_conflicts
from app.settings.preferences import DictStore, Preferences, load_default


def test_shipped_shortcuts_have_no_conflicts_and_name_real_contexts() -> None:
    shortcuts = load_default("shortcuts")
    assert shortcut_conflicts(shortcuts) == []
    assert ["viewer", "editing"] in shortcuts[TOGETHER_KEY]
    assert {name for group in shortcuts[TOGETHER_KEY] for name in group} <= set(contexts(shortcuts))


def test_an_editing_key_that_is_a_viewer_key_is_a_conflict() -> None:
    shortcuts = load_default("shortcuts")
    shortcuts["editing"]["edit.brush"] = ["W"]  # W picks the window/level tool in the viewer
    problems = shortcut_conflicts(shortcuts)
    assert len(problems) == 1
    assert "edit.brush" in problems[0] and "tool.window_level" in problems[0]
    assert "'editing'" in problems[0] and "'viewer'" in problems[0]
    assert shortcut_conflicts(shortcuts, together=[]) == []  # which contexts overlap is data


def test_contexts_never_active_together_may_share_a_key() -> None:
    shortcuts = load_default("shortcuts")
    assert shortcuts["3d"]["volume.reset"] == shortcuts["viewer"]["view.reset"] == ["Space"]
    shortcuts["editing"]["edit.fill"] = ["Right"]  # a 3D key, but editing is never active over the 3D view
    assert shortcut_conflicts(shortcuts) == []


def test_spellings_of_one_key_are_the_same_key() -> None:
    assert normal_key("Shift+Ctrl+Z") == normal_key("ctrl+shift+z") == "ctrl+shift+z"
    assert normal_key("Escape") == normal_key("Esc") and normal_key("Delete") == normal_key("Del")
    assert normal_key("Ctrl++") == "ctrl++" and normal_key("Ctrl+,") == "ctrl+,"
    assert normal_key("Ctrl+K, Ctrl+C") == "ctrl+k, ctrl+c"
    shortcuts = load_default("shortcuts")
    shortcuts["editing"]["edit.pick"] = ["Shift+Ctrl+Z"]
    assert any("edit.pick" in p and "edit.redo" in p for p in shortcut_conflicts(shortcuts))


def test_preferences_check_overlaps_from_the_shipped_file() -> None:
    preferences = Preferences(DictStore())
    shortcuts = preferences.get("shortcuts")
    del shortcuts[TOGETHER_KEY]  # an override saved before the overlaps were data still gets checked
    shortcuts["editing"]["edit.eraser"] = ["I"]
    with pytest.raises(ValueError, match="edit.eraser.*window.invert"):
        preferences.set("shortcuts", shortcuts)
    assert preferences.get("shortcuts")["editing"]["edit.eraser"] == ["E"]


def test_dialog_refuses_a_conflicting_edit_naming_both_commands(window, qtbot, monkeypatch) -> None:
    from app.widgets.preferences_dialog import PreferencesDialog

    messages: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text: messages.append(text))
    dialog = PreferencesDialog(window.preferences, window)
    qtbot.addWidget(dialog)
    editors = {(context, command): editor for context, command, editor in dialog.shortcut_table.editors}
    editors[("editing", "edit.threshold")].setKeySequence(QKeySequence("M"))  # the ruler's key
    dialog.save()
    assert len(messages) == 1 and "edit.threshold" in messages[0] and "tool.ruler" in messages[0]
    assert window.preferences.get("shortcuts")["editing"]["edit.threshold"] == ["T"]  # nothing saved
    assert not dialog.result()
    editors[("editing", "edit.threshold")].setKeySequence(QKeySequence("G"))
    dialog.save()
    assert len(messages) == 1 and window.preferences.get("shortcuts")["editing"]["edit.threshold"] == ["G"]


def test_editing_tooltips_follow_the_keys(window) -> None:
    panel = window.editing.panel
    assert panel.tool_buttons["brush"].toolTip() == "Brush (B)"
    assert panel.size.toolTip() == "Brush radius ([ / ])"
    shortcuts = window.preferences.get("shortcuts")
    shortcuts["editing"]["edit.brush"] = ["G"]
    window.preferences.set("shortcuts", shortcuts)
    assert panel.tool_buttons["brush"].toolTip() == "Brush (G)"


def test_no_shortcut_is_a_menu_mnemonic() -> None:
    from app.actions.menus import MENU_TITLES
    from app.actions.shortcut_conflicts import mnemonic_conflicts

    shortcuts = load_default("shortcuts")
    assert mnemonic_conflicts(shortcuts, MENU_TITLES) == []
    problems = mnemonic_conflicts(shortcuts, [*MENU_TITLES, "&3D"])  # the old title of the 3D menu
    assert problems == ["'Alt+3' (layout.1x3, 'global') is also the Alt mnemonic of the '&3D' menu"]


def test_alt_3_sets_the_1x3_layout(window, qtbot) -> None:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(window, Qt.Key_1, Qt.AltModifier)
    assert window.model.layout == "1x1"
    qtbot.keyClick(window, Qt.Key_3, Qt.AltModifier)
    assert window.model.layout == "1x3"


def test_comparison_viewport_keys_are_data_and_checked_against_the_viewer() -> None:
    """A comparison viewport carries the viewer's keys too, so its own (link here, next plane) must not be a
    viewer key: L and O are the arrow and ellipse tools."""
    shortcuts = load_default("shortcuts")
    assert ["viewer", "comparison"] in shortcuts[TOGETHER_KEY]
    assert shortcuts["comparison"]["compare.link_here"] and shortcuts["comparison"]["compare.next_orientation"]
    shortcuts["comparison"]["compare.link_here"] = ["L"]
    shortcuts["comparison"]["compare.next_orientation"] = ["o"]
    problems = shortcut_conflicts(shortcuts)
    assert len(problems) == 2
    assert any("compare.link_here" in p and "tool.arrow" in p for p in problems)
    assert any("compare.next_orientation" in p and "tool.ellipse" in p for p in problems)
