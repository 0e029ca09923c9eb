"""Preferences dialog: edit shortcuts (per context), the mouse map, window and 3D presets, the window theme
(dark or light) and the DICOM receiver's settings, see the AI plugins and trust signing keys (the Plugins page,
app/widgets/plugins_page.py); OK checks everything (shortcut conflicts, JSON, receive settings) before saving any
of it; restore defaults."""

from __future__ import annotations

import json

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
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

from app.actions.shortcut_conflicts import contexts
from app.settings.preferences import Preferences
from app.settings.receive import ReceiveSettings, restore_receive_defaults
from app.widgets.pacs_nodes_form import PacsNodesForm
from app.widgets.plugins_page import PluginsPage
from app.widgets.receive_form import ReceiveForm
from app.widgets.theme import theme_names

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
        rows = [(context, command, keys) for context in contexts(shortcuts)
                for command, keys in shortcuts[context].items()]
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
        self.receive = ReceiveForm(ReceiveSettings.from_store(preferences.store), self)
        self.tabs.addTab(self.receive, "DICOM receive")
        self.theme = QComboBox(self, objectName="preferences_theme")
        for name in theme_names():
            self.theme.addItem(name.capitalize(), name)
        self._show_theme()
        appearance = QWidget(self)
        QFormLayout(appearance).addRow("Theme", self.theme)
        self.tabs.addTab(appearance, "Appearance")
        self.pacs_nodes = PacsNodesForm(parent=self)
        self.tabs.addTab(self.pacs_nodes, "PACS nodes")
        self.plugins = PluginsPage(self)  # its key list takes effect at once: nothing to save with OK
        self.tabs.addTab(self.plugins, "Plugins")
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
        """Save every tab, or nothing: a problem anywhere is shown and the dialog stays open."""
        shortcuts = self.shortcut_table.shortcuts(self.preferences.get("shortcuts"))
        problems = [f"Shortcuts: {problem}" for problem in self.preferences.shortcut_conflicts(shortcuts)]
        sections: dict[str, dict] = {}
        for section, editor in self.editors.items():
            try:
                sections[section] = json.loads(editor.toPlainText())
            except ValueError as error:
                problems.append(f"{self.tabs.tabText(self.tabs.indexOf(editor))}: not valid JSON ({error})")
        receive = self.receive.settings()
        problems += [f"DICOM receive: {problem}" for problem in receive.problems()]
        problems += [f"PACS nodes: {problem}" for problem in self.pacs_nodes.problems()]
        if problems:
            QMessageBox.warning(self, "Preferences", "Not saved:\n\n" + "\n".join(f"• {p}" for p in problems))
            return
        self.preferences.set("shortcuts", shortcuts)
        for section, value in sections.items():
            self.preferences.set(section, value)
        receive.save(self.preferences.store)
        appearance = self.preferences.get("appearance")
        if appearance.get("theme") != self.theme.currentData():
            self.preferences.set("appearance", {**appearance, "theme": self.theme.currentData()})
        try:
            self.pacs_nodes.save()
        except OSError as error:
            QMessageBox.warning(self, "Preferences", f"PACS nodes not saved: {error}")
            return
        self.accept()

    def _show_theme(self) -> None:
        index = self.theme.findData(self.preferences.get("appearance").get("theme"))
        self.theme.setCurrentIndex(max(index, 0))

    def restore_defaults(self) -> None:
        self.preferences.restore_defaults()
        restore_receive_defaults(self.preferences.store)
        self.receive.load(ReceiveSettings())
        self.shortcut_table.load(self.preferences.get("shortcuts"))
        self._show_theme()
        for section, editor in self.editors.items():
            editor.setPlainText(json.dumps(self.preferences.get(section), indent=2))
