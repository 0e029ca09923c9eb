"""The calcium result's Qt part, shown by the AI panel under the measurements (manifest ``[host]
result_widget``): the Agatston bar chart (matplotlib's Qt canvas, imported on the first chart) beside the risk
category in words. Only the app imports this module; the chart itself is chart.py's, drawn the same in the PDF."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QWidget

from engine.ai.result import AnalysisResult

from .chart import AgatstonChart, agatston_chart, agatston_figure, risk_lines

CHART_HEIGHT = 190


class AgatstonChartView(QWidget):
    """The Agatston bar chart beside the risk category in words."""

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

    def show_result(self, result: AnalysisResult) -> bool:
        """Chart ``result``; False (and nothing shown) when it has no total Agatston score."""
        chart = agatston_chart(result)
        if chart is None:
            self.clear()
            return False
        self.show_chart(chart)
        return True

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
