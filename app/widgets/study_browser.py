"""Study browser dock: the catalog as a tree patient -> study -> series, with thumbnails and scan warnings.

Thumbnails are kept per series, so re-listing the catalog (after every open or received study) shows them
again: the thumbnail job makes each series' thumbnail once and never sends it a second time."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPixmap
from PySide6.QtWidgets import QTreeWidgetItem, QVBoxLayout, QWidget

from app.widgets.series_drag import SeriesTree
from engine.catalog import Catalog, SeriesKey, SeriesRow

KEY_ROLE = Qt.UserRole + 1


def series_label(row: SeriesRow) -> str:
    """'#3 CT Chest 1mm — 400 images' as the browser lists it."""
    number = f"#{row.series_number} " if row.series_number is not None else ""
    count = f"{row.n_instances} image{'s' if row.n_instances != 1 else ''}"
    return f"{number}{row.modality or '??'}  {row.description or '(no description)'}  —  {count}"


class StudyBrowser(QWidget):
    """Lists the catalog; double-click (or Enter) on a series asks to open it."""

    series_chosen = Signal(object)  # SeriesKey

    def __init__(self, catalog: Catalog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.tree = SeriesTree(self)  # series drag onto a comparison viewport
        self.tree.setObjectName("study_tree")
        self.tree.setHeaderLabels(["Patient / study / series", "Date"])
        self.tree.setIconSize(QSize(48, 48))
        self.tree.itemActivated.connect(self._activated)
        self.tree.itemDoubleClicked.connect(self._activated)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree)
        self._series_items: dict[SeriesKey, QTreeWidgetItem] = {}
        self._thumbnails: dict[SeriesKey, QPixmap] = {}

    def refresh(self) -> list[SeriesKey]:
        """Re-list the catalog; returns every series key in display order."""
        self.tree.clear()
        self._series_items.clear()
        keys = []
        for patient in self.catalog.patients():
            name = patient.key.patient_name.replace("^", " ").strip() or "(no name)"
            patient_item = QTreeWidgetItem([f"{name}  ({patient.key.patient_id or 'no ID'})", ""])
            self.tree.addTopLevelItem(patient_item)
            for study in self.catalog.studies(patient.key):
                study_item = QTreeWidgetItem([study.description or "(no description)", _date(study.date)])
                patient_item.addChild(study_item)
                for row in self.catalog.series(study.study_uid):
                    item = QTreeWidgetItem([series_label(row), ""])
                    item.setData(0, KEY_ROLE, tuple(row.key))
                    if row.warnings:
                        item.setToolTip(0, "\n".join(row.warnings))
                        item.setForeground(0, QBrush(QColor(230, 150, 30)))
                        item.setText(0, item.text(0) + f"  ⚠ {len(row.warnings)}")
                    study_item.addChild(item)
                    self._series_items[row.key] = item
                    if row.key in self._thumbnails:
                        item.setData(0, Qt.DecorationRole, self._thumbnails[row.key])
                    keys.append(row.key)
            patient_item.setExpanded(True)
            for index in range(patient_item.childCount()):
                patient_item.child(index).setExpanded(True)
        self.tree.resizeColumnToContents(1)
        return keys

    def series_keys(self) -> list[SeriesKey]:
        return list(self._series_items)

    def select(self, key: SeriesKey) -> None:
        item = self._series_items.get(SeriesKey(*key))
        if item is not None:
            self.tree.setCurrentItem(item)

    def set_thumbnail(self, series_uid: str, stack_index: int, pixels: bytes, width: int, height: int,
                      channels: int = 1) -> None:
        """Show a series' thumbnail: ``pixels`` row by row, 1 (grey) or 3 (RGB) bytes per pixel."""
        key = SeriesKey(series_uid, stack_index)
        image_format = QImage.Format_RGB888 if channels == 3 else QImage.Format_Grayscale8
        image = QImage(width, height, image_format)  # owns its pixels (no Python buffer shared)
        line = width * channels
        for row in range(height):
            image.scanLine(row)[:line] = pixels[row * line:(row + 1) * line]
        self._thumbnails[key] = QPixmap.fromImage(image)
        item = self._series_items.get(key)
        if item is not None:
            item.setData(0, Qt.DecorationRole, self._thumbnails[key])

    def thumbnail(self, key: SeriesKey) -> QPixmap | None:
        """The thumbnail shown for a series (None until it is made)."""
        item = self._series_items.get(SeriesKey(*key))
        pixmap = item.data(0, Qt.DecorationRole) if item is not None else None
        return pixmap if isinstance(pixmap, QPixmap) and not pixmap.isNull() else None

    def _activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        key = item.data(0, KEY_ROLE)
        if key is not None:
            self.series_chosen.emit(SeriesKey(*key))


def _date(value: str) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 and value.isdigit() else value
