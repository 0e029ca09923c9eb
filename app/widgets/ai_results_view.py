"""The result part of the AI panel: findings (tier as colour and text), measurements, the Agatston chart of
calcium results, similar cases."""

from __future__ import annotations

import html
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
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.viewer_model.ai_results import FindingRow, MeasurementRow, similar_case_caption
from engine.ai.result import SimilarCase
from engine.reports.calcium_chart import AgatstonChart, agatston_figure, risk_lines

THUMBNAIL = 72
ENLARGED = 360
CHART_HEIGHT = 190


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


class AgatstonChartView(QWidget):
    """The Agatston bar chart (matplotlib's Qt canvas, imported on the first chart) beside the risk category
    in words."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ai_calcium_chart")
        self.canvas: QWidget | None = None
        self.risk = QLabel(objectName="ai_calcium_risk", wordWrap=True, textFormat=Qt.RichText)
        self.risk.setMinimumWidth(110)  # with the canvas's 180: narrower than the AI dock's 360 px
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.addWidget(self.risk, 1)
        self.setFixedHeight(CHART_HEIGHT)

    def show_chart(self, chart: AgatstonChart) -> None:
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg

        canvas = FigureCanvasQTAgg(agatston_figure(chart))
        canvas.setObjectName("ai_calcium_canvas")
        canvas.setMinimumWidth(180)
        # the figure's own width (3.4 in) must not widen the panel beyond its dock: the row shares what it has
        canvas.setSizePolicy(QSizePolicy.Ignored, canvas.sizePolicy().verticalPolicy())
        self.clear()
        self.row.insertWidget(0, canvas, 2)
        self.canvas = canvas
        total, category, *details = (html.escape(line) for line in risk_lines(chart))
        self.risk.setText("<br>".join([f"<b>{total}</b>", f"<b>{category}</b>", *details]))

    def clear(self) -> None:
        """No chart: the canvas goes and the risk text is emptied (nothing of a previous result remains)."""
        if self.canvas is not None:
            self.row.removeWidget(self.canvas)
            self.canvas.setParent(None)
            self.canvas.deleteLater()
            self.canvas = None
        self.risk.setText("")


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
