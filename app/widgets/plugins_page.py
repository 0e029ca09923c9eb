"""Preferences ▸ Plugins: every discovered plugin with its version, source folder, file-hash, signature and
domain status (engine.ai.plugin_status), its model card in a read-only Markdown view, and the trusted keys
(list; add a public key file, as `sightline plugins trust` does)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from engine.ai.plugin_status import PluginStatus, plugin_statuses, read_model_card
from engine.ai.registry import PluginRegistry
from engine.ai.signing import SignatureError, TrustedKey, list_trusted_keys, trust_key

COLUMNS = ("ID", "Name", "Version", "Source", "Files", "Signature", "Domain")
_WARN = QColor(200, 60, 40)


class ModelCardDialog(QDialog):
    """A plugin's MODEL_CARD.md rendered as Markdown, read-only (images resolve from the plugin folder)."""

    def __init__(self, status: PluginStatus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Model card: {status.name} {status.version}")
        self.view = QTextBrowser(self, objectName="model_card_view")
        self.view.setReadOnly(True)
        self.view.setOpenExternalLinks(False)
        self.view.setSearchPaths([str(status.folder)])
        self.view.document().setBaseUrl(QUrl.fromLocalFile(str(status.folder) + "/"))
        self.view.setMarkdown(read_model_card(status))
        buttons = QDialogButtonBox(QDialogButtonBox.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view)
        layout.addWidget(buttons)
        self.resize(760, 640)


class PluginsPage(QWidget):
    """The Plugins tab. ``registry`` defaults to every plugin folder and entry point (refresh re-discovers)."""

    def __init__(self, parent: QWidget | None = None, registry: PluginRegistry | None = None) -> None:
        super().__init__(parent)
        self._registry = registry
        self.statuses: list[PluginStatus] = []
        self.table = QTableWidget(0, len(COLUMNS), self, objectName="plugins_table")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.cellDoubleClicked.connect(lambda *_: self.open_model_card())
        self.detail = QLabel(self, objectName="plugin_detail")
        self.detail.setWordWrap(True)
        self.card_button = QPushButton("Model card…", self, objectName="plugin_model_card")
        self.card_button.clicked.connect(self.open_model_card)
        self.refresh_button = QPushButton("Check again", self, objectName="plugins_refresh")
        self.refresh_button.clicked.connect(self.refresh)
        row = QHBoxLayout()
        row.addWidget(self.card_button)
        row.addWidget(self.refresh_button)
        row.addStretch(1)
        self.keys = QListWidget(self, objectName="trusted_keys")
        self.add_key_button = QPushButton("Add public key…", self, objectName="trusted_key_add")
        self.add_key_button.clicked.connect(self._ask_and_add_key)
        keys_box = QGroupBox("Trusted signing keys (a plugin signed by one of them shows 'signed by <name>')", self)
        keys_layout = QVBoxLayout(keys_box)
        keys_layout.addWidget(self.keys)
        keys_layout.addWidget(self.add_key_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 3)
        layout.addWidget(self.detail)
        layout.addLayout(row)
        layout.addWidget(keys_box, 1)
        self.last_card: ModelCardDialog | None = None
        self.refresh()

    def refresh(self) -> None:
        """Re-discover the plugins, re-hash their files, re-check signatures; list the trusted keys."""
        self.statuses = plugin_statuses(self._registry)
        self.table.setRowCount(len(self.statuses))
        for row, status in enumerate(self.statuses):
            values = (status.plugin_id, status.name, status.version, status.source, status.hash_status,
                      status.signature, status.domain)
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(self._tooltip(status, column))
                if (column == 4 and not status.intact) or (column == 5 and status.signature == "bad signature"):
                    item.setForeground(_WARN)
                self.table.setItem(row, column, item)
        self.keys.clear()
        for key in list_trusted_keys():
            self.keys.addItem(self._key_line(key))
        if self.statuses:
            self.table.selectRow(0)
        self._selection_changed()

    def current(self) -> PluginStatus | None:
        rows = self.table.selectionModel().selectedRows()
        return self.statuses[rows[0].row()] if rows else None

    def open_model_card(self) -> ModelCardDialog | None:
        """Show the selected plugin's model card (non-modal; kept in ``last_card``)."""
        status = self.current()
        if status is None:
            return None
        self.last_card = ModelCardDialog(status, self)
        self.last_card.show()
        return self.last_card

    def add_key(self, path: str | Path) -> TrustedKey | None:
        """Trust the public key file ``path`` (per-user); a problem is shown, not raised."""
        try:
            key = trust_key(path)
        except (SignatureError, OSError) as error:
            QMessageBox.warning(self, "Trusted keys", f"Key not added:\n\n{error}")
            return None
        self.refresh()
        return key

    def _ask_and_add_key(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Trust a public key", "", "Ed25519 public keys (*.pub);;All (*)")
        if path:
            self.add_key(path)

    def _selection_changed(self) -> None:
        status = self.current()
        self.card_button.setEnabled(status is not None)
        if status is None:
            self.detail.setText("No plugin selected." if self.statuses else "No plugins found.")
            return
        lines = [f"{status.plugin_id} {status.version} from {status.folder}",
                 f"Signature: {status.signature_detail or status.signature}"]
        lines += [f"File {problem}" for problem in status.problems]
        if status.domain.startswith("none"):
            lines.append("No validated domain data: every finding of this plugin needs review.")
        self.detail.setText("\n".join(lines))

    @staticmethod
    def _tooltip(status: PluginStatus, column: int) -> str:
        if column == 4:
            return "\n".join(status.problems) or "every hashed file matches the manifest"
        if column == 5:
            return status.signature_detail
        if column == 3:
            return str(status.folder)
        return ""

    @staticmethod
    def _key_line(key: TrustedKey) -> str:
        return f"{key.name}  ({key.key_id}, {key.scope}: {key.path})"
