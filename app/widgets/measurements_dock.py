"""Measurements dock: the current study's measurements; select one to highlight it, delete it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from app.viewer_model.measurements import MeasurementStore


class MeasurementsDock(QWidget):
    """Bound to a MeasurementStore."""

    def __init__(self, store: MeasurementStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.list = QListWidget(self)
        self.list.setObjectName("measurement_list")
        self.list.currentItemChanged.connect(self._selected)
        self.delete = QPushButton("Delete", self)
        self.delete.clicked.connect(self.delete_selected)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.list)
        layout.addWidget(self.delete)
        self._syncing = False
        store.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self._syncing = True
        self.list.clear()
        for measurement in self.store.current:
            item = QListWidgetItem(f"{measurement.kind} ({measurement.view}): {measurement.summary()}")
            item.setData(Qt.UserRole, measurement.ident)
            self.list.addItem(item)
            if measurement.ident == self.store.selected:
                self.list.setCurrentItem(item)
        self._syncing = False

    def delete_selected(self) -> None:
        if self.store.selected is not None:
            self.store.remove(self.store.selected)

    def _selected(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if not self._syncing:
            self.store.select(item.data(Qt.UserRole) if item is not None else None)
