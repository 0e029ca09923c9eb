"""Measurements dock: the shown series' measurements and key images (those of the active viewport's series
while the comparison layout is shown); select a measurement to highlight it
(then drag its handles in the view), delete it, relabel an arrow, export them as DICOM."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.viewer_model.measurements import MeasurementStore

KIND_NAMES = {"ruler": "Length", "angle": "Angle", "cobb": "Cobb angle", "ellipse": "Ellipse ROI",
              "rectangle": "Rectangle ROI", "probe": "Probe", "arrow": "Arrow"}
EXPORT_BUTTONS = (("Flag key image", "key_image.toggle"), ("Key images (KOS)…", "key_image.export_kos"),
                  ("GSPS…", "measurement.export_gsps"), ("SR…", "measurement.export_sr"))


class MeasurementsDock(QWidget):
    """Bound to a MeasurementStore; the export buttons run registry commands (``bind_commands``)."""

    def __init__(self, store: MeasurementStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.list = QListWidget(self)
        self.list.setObjectName("measurement_list")
        self.list.currentItemChanged.connect(self._selected)
        self.list.itemDoubleClicked.connect(lambda _item: self.edit_text())
        self.delete = QPushButton("Delete", self)
        self.delete.clicked.connect(self.delete_selected)
        self.label = QPushButton("Arrow text…", self)
        self.label.clicked.connect(self.edit_text)
        self.key_images = QLabel(self)
        self.key_images.setObjectName("key_images")
        self.key_images.setWordWrap(True)
        self.exports: dict[str, QPushButton] = {}
        buttons = QGridLayout()
        buttons.addWidget(self.delete, 0, 0)
        buttons.addWidget(self.label, 0, 1)
        for column, (text, command) in enumerate(EXPORT_BUTTONS):
            button = QPushButton(text, self)
            button.setEnabled(False)  # until bind_commands
            self.exports[command] = button
            buttons.addWidget(button, 1 + column // 2, column % 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.list)
        layout.addWidget(self.key_images)
        layout.addLayout(buttons)
        self.ask_text: Callable[[str], str | None] = self._ask_text  # tests replace the dialog
        self._syncing = False
        store.changed.connect(self.refresh)
        self.refresh()

    def bind_commands(self, run: Callable[[str], object]) -> None:
        """Connect the export buttons to the command registry's ``run``."""
        for command, button in self.exports.items():
            button.clicked.connect(lambda _checked=False, c=command: run(c))
            button.setEnabled(True)

    def set_store(self, store: MeasurementStore) -> None:
        """List the measurements of ``store`` (the active comparison viewport's series, or the main views')."""
        if store is not self.store:
            self.store.changed.disconnect(self.refresh)
            self.store = store
            store.changed.connect(self.refresh)
            self.refresh()

    def refresh(self) -> None:
        self._syncing = True
        self.list.clear()
        for measurement in self.store.current:
            name = KIND_NAMES.get(measurement.kind, measurement.kind)
            item = QListWidgetItem(f"{name} ({measurement.view}): {measurement.summary()}")
            item.setData(Qt.UserRole, measurement.ident)
            self.list.addItem(item)
            if measurement.ident == self.store.selected:
                self.list.setCurrentItem(item)
        keys = self.store.key_images
        self.key_images.setText("Key images: " + (", ".join(f"image {z + 1}" for z in keys) if keys else "none"))
        for problem in self.store.problems:
            self.key_images.setText(self.key_images.text() + f"\n{problem}")
        selected = self.store.find(self.store.selected)
        self.label.setEnabled(selected is not None and selected.kind == "arrow")
        self._syncing = False

    def delete_selected(self) -> None:
        if self.store.selected is not None:
            self.store.remove(self.store.selected)

    def edit_text(self) -> None:
        """Relabel the selected arrow."""
        selected = self.store.find(self.store.selected)
        if selected is None or selected.kind != "arrow":
            return
        text = self.ask_text(selected.text)
        if text is not None:
            self.store.set_text(selected.ident, text)

    def _ask_text(self, current: str) -> str | None:
        text, ok = QInputDialog.getText(self, "Arrow", "Text:", text=current)
        return text if ok else None

    def _selected(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if not self._syncing:
            self.store.select(item.data(Qt.UserRole) if item is not None else None)
