"""The Preferences dialog's 'DICOM receive' tab: our AE title, listen address and port, storage folder and
the calling AE titles let in (see app.settings.receive)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from app.settings.receive import ReceiveSettings, split_titles


class ReceiveForm(QWidget):
    """Edits a ReceiveSettings; an empty folder means the default one (shown greyed)."""

    def __init__(self, settings: ReceiveSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ae_title = QLineEdit(self)
        self.host = QLineEdit(self)
        self.port = QSpinBox(self)
        self.port.setRange(1, 65535)
        self.folder = QLineEdit(self)
        self.folder.setPlaceholderText(str(ReceiveSettings().directory))
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder)
        folder_row.addWidget(browse)
        self.allowed = QLineEdit(self)
        self.allowed.setPlaceholderText("any (or a comma-separated list, e.g. PACS, CT_SCANNER)")
        form = QFormLayout(self)
        form.addRow("AE title", self.ae_title)
        form.addRow("Listen address", self.host)
        form.addRow("Port", self.port)
        form.addRow("Storage folder", folder_row)
        form.addRow("Accept calling AE titles", self.allowed)
        note = QLabel("The receiver uses these settings the next time it starts (File ▸ Receive DICOM).", self)
        note.setWordWrap(True)
        form.addRow(note)
        self.load(settings)

    def load(self, settings: ReceiveSettings) -> None:
        self.ae_title.setText(settings.ae_title)
        self.host.setText(settings.host)
        self.port.setValue(settings.port)
        self.folder.setText(str(settings.folder) if settings.folder is not None else "")
        self.allowed.setText(", ".join(settings.allowed_aes))

    def settings(self) -> ReceiveSettings:
        """What the form holds (not yet checked: see ReceiveSettings.problems)."""
        folder = self.folder.text().strip()
        return ReceiveSettings(ae_title=self.ae_title.text().strip(), host=self.host.text().strip(),
                               port=self.port.value(), folder=Path(folder).expanduser() if folder else None,
                               allowed_aes=split_titles(self.allowed.text()))

    def _browse(self) -> None:
        start = self.folder.text().strip() or self.folder.placeholderText()
        chosen = QFileDialog.getExistingDirectory(self, "Storage folder for received DICOM", start)
        if chosen:
            self.folder.setText(chosen)
