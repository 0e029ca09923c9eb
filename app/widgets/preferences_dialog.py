"""Preferences dialog: edit shortcuts (per context), the mouse map and window presets; restore defaults."""

from __future__ import annotations

import json

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QKeySequenceEdit,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.preferences import Preferences

_JSON_SECTIONS = (("mouse_map", "Mouse"), ("window_presets", "Window presets"),
                  ("volume_presets", "3D presets"))


class ShortcutTable(QTableWidget):
    """One row per (context, command): the key editor holds its first key."""

    def __init__(self, shortcuts: dict, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(3)
        self.setHorizontalHeaderLabels(["Context", "Command", "Key"])
        self.load(shortcuts)

    def load(self, shortcuts: dict) -> None:
        rows = [(context, command, keys) for context, bindings in shortcuts.items()
                if not context.startswith("_") for command, keys in bindings.items()]
        self.setRowCount(len(rows))
        self.editors: list[tuple[str, str, QKeySequenceEdit]] = []
        for row, (context, command, keys) in enumerate(rows):
            self.setItem(row, 0, QTableWidgetItem(context))
            self.setItem(row, 1, QTableWidgetItem(command))
            editor = QKeySequenceEdit(keys[0] if keys else "")
            self.setCellWidget(row, 2, editor)
            self.editors.append((context, command, editor))
        self.resizeColumnsToContents()

    def shortcuts(self, base: dict) -> dict:
        result = json.loads(json.dumps(base))
        for context, command, editor in self.editors:
            key = editor.keySequence().toString()
            others = result[context].get(command, [])[1:]
            result[context][command] = ([key] if key else []) + others
        return result


class PreferencesDialog(QDialog):
    """Tabs per section; OK saves (QSettings), 'Restore defaults' drops every override."""

    def __init__(self, preferences: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.preferences = preferences
        self.tabs = QTabWidget(self)
        self.shortcut_table = ShortcutTable(preferences.get("shortcuts"), self)
        self.tabs.addTab(self.shortcut_table, "Shortcuts")
        self.editors: dict[str, QPlainTextEdit] = {}
        for section, title in _JSON_SECTIONS:
            editor = QPlainTextEdit(json.dumps(preferences.get(section), indent=2), self)
            self.editors[section] = editor
            self.tabs.addTab(editor, title)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel, self)
        self.restore = QPushButton("Restore defaults", self)
        buttons.addButton(self.restore, QDialogButtonBox.ResetRole)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        self.restore.clicked.connect(self.restore_defaults)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Changes apply at once and are kept for the next start."))
        layout.addWidget(self.tabs)
        layout.addWidget(buttons)
        self.resize(720, 560)

    def save(self) -> None:
        try:
            shortcuts = self.shortcut_table.shortcuts(self.preferences.get("shortcuts"))
            self.preferences.set("shortcuts", shortcuts)
            for section, editor in self.editors.items():
                self.preferences.set(section, json.loads(editor.toPlainText()))
        except (ValueError, KeyError) as error:
            QMessageBox.warning(self, "Preferences", f"Not saved: {error}")
            return
        self.accept()

    def restore_defaults(self) -> None:
        self.preferences.restore_defaults()
        self.shortcut_table.load(self.preferences.get("shortcuts"))
        for section, editor in self.editors.items():
            editor.setPlainText(json.dumps(self.preferences.get(section), indent=2))
