"""The result part of the AI panel: findings (tier as colour and text), measurements, similar cases (a plugin's
own result widget, e.g. the calcium chart, comes from its manifest's ``[host]`` table)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.viewer_model.ai_results import FindingRow, MeasurementRow, similar_case_caption
from engine.ai.result import SimilarCase

THUMBNAIL = 72
ENLARGED = 360


class FindingsTable(QTableWidget):
    """#, finding, confidence ("HIGH 0.94" on the tier colour), size; ``finding_chosen`` on click."""

    finding_chosen = Signal(object)  # FindingRow

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 4, parent)
        self.setObjectName("ai_findings")
        self.setHorizontalHeaderLabels(["#", "Finding", "Confidence", "Size"])
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QTableWidget.NoEditTriggers)
        self.setSelectionBehavior(QTableWidget.SelectRows)
        self.setSelectionMode(QTableWidget.SingleSelection)
        self.horizontalHeader().setStretchLastSection(True)
        self.rows: list[FindingRow] = []
        self.cellClicked.connect(lambda row, _column: self.finding_chosen.emit(self.rows[row]))

    def show_rows(self, rows: list[FindingRow]) -> None:
        self.rows = rows
        self.setRowCount(len(rows))
        for index, row in enumerate(rows):
            finding = QTableWidgetItem(row.description or row.label)  # the plain-language text, in the list
            finding.setToolTip(f"{row.label}: {row.description}" if row.description else row.label)
            confidence = QTableWidgetItem(row.confidence)
            confidence.setBackground(QColor(*row.color))
            confidence.setForeground(QColor(0, 0, 0))
            for column, item in enumerate((QTableWidgetItem(str(row.number)), finding, confidence,
                                           QTableWidgetItem(row.size))):
                self.setItem(index, column, item)
        self.resizeColumnsToContents()


class MeasurementsTable(QTableWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 4, parent)
        self.setObjectName("ai_measurements")
        self.setHorizontalHeaderLabels(["Measurement", "Value", "Unit", "Region"])
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QTableWidget.NoEditTriggers)
        self.horizontalHeader().setStretchLastSection(True)

    def show_rows(self, rows: list[MeasurementRow]) -> None:
        self.setRowCount(len(rows))
        for index, row in enumerate(rows):
            for column, text in enumerate((row.name, row.value, row.unit, row.region)):
                self.setItem(index, column, QTableWidgetItem(text))
        self.resizeColumnsToContents()


class SimilarCasesStrip(QListWidget):
    """Thumbnails of the reference cases, left to right; ``case_chosen`` on click."""

    case_chosen = Signal(object)  # SimilarCase

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ai_similar_cases")
        self.setViewMode(QListView.IconMode)
        self.setFlow(QListView.LeftToRight)
        self.setWrapping(False)
        self.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.setFixedHeight(THUMBNAIL + 64)
        self.setMovement(QListView.Static)
        self.itemClicked.connect(lambda item: self.case_chosen.emit(item.data(Qt.UserRole)))

    def show_cases(self, cases: list[SimilarCase]) -> None:
        self.clear()
        for case in cases:
            item = QListWidgetItem(QIcon(_pixmap(case.thumbnail, THUMBNAIL)),
                                   f"{case.case_id}\n{case.similarity:.2f}")
            item.setToolTip(similar_case_caption(case))
            item.setData(Qt.UserRole, case)
            self.addItem(item)


class SimilarCaseDialog(QDialog):
    """A reference case enlarged beside its details (phantom library cases have a thumbnail and a label)."""

    def __init__(self, case: SimilarCase, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Similar case {case.case_id}")
        self.image = QLabel()
        self.image.setPixmap(_pixmap(case.thumbnail, ENLARGED))
        self.details = QLabel(f"<b>{case.case_id}</b><br>{case.label}<br>similarity {case.similarity:.2f}"
                              f"<br><br><i>Reference library case (phantom), shown for comparison.</i>")
        self.details.setWordWrap(True)
        self.details.setAlignment(Qt.AlignTop)
        layout = QHBoxLayout(self)
        layout.addWidget(self.image)
        layout.addWidget(self.details, 1)


def _pixmap(path: str, size: int) -> QPixmap:
    """The thumbnail scaled to ``size``; a grey square naming the problem when the file cannot be read."""
    pixmap = QPixmap(path) if Path(path).is_file() else QPixmap()
    if pixmap.isNull():
        pixmap = QPixmap(size, size)
        pixmap.fill(QColor(60, 60, 60))
        return pixmap
    return pixmap.scaled(size, size, Qt.KeepAspectRatio, Qt.SmoothTransformation)


def titled(title: str, widget: QWidget) -> QWidget:
    """``widget`` under a bold caption."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 4, 0, 0)
    caption = QLabel(f"<b>{title}</b>")
    layout.addWidget(caption)
    layout.addWidget(widget)
    return box
