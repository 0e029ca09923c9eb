"""Dragging a series from the study browser onto a comparison viewport: the browser's tree puts the series
key (and nothing of the patient) in a private MIME type; the viewport reads it back."""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData, Qt
from PySide6.QtWidgets import QAbstractItemView, QTreeWidget, QTreeWidgetItem, QWidget

from engine.catalog import SeriesKey

SERIES_MIME = "application/x-sightline-series"
KEY_ROLE = Qt.UserRole + 1  # where the study browser keeps a series item's key


def encode_series(key: SeriesKey) -> QMimeData:
    data = QMimeData()
    data.setData(SERIES_MIME, json.dumps([key.series_uid, key.stack_index]).encode())
    return data


def decode_series(data: QMimeData) -> SeriesKey | None:
    """The series key a drag carries (None for anything else)."""
    if not data.hasFormat(SERIES_MIME):
        return None
    try:
        uid, stack = json.loads(bytes(data.data(SERIES_MIME)).decode())
        return SeriesKey(str(uid), int(stack))
    except (ValueError, TypeError):
        return None


class SeriesTree(QTreeWidget):
    """A tree whose series items (those with a key) can be dragged out."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragOnly)

    def mimeData(self, items: list[QTreeWidgetItem]) -> QMimeData:  # noqa: N802 (Qt API)
        keys = [item.data(0, KEY_ROLE) for item in items if item.data(0, KEY_ROLE) is not None]
        return encode_series(SeriesKey(*keys[0])) if keys else QMimeData()
