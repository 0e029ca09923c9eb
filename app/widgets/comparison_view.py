"""The comparison layout's widgets: one 2D view per viewport of app.viewer_model.comparison (each a SliceView
of the viewport's own ViewerModel), with the viewport's label, how it is linked (the offset when it is linked
by one), the reference lines of the other viewports and a series dropped from the study browser. The views
have no keys of their own: they carry the window's registry actions (``ComparisonArea.set_actions``)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QDragEnterEvent, QDropEvent, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QGridLayout, QWidget

from app.render.scene import Scene
from app.viewer_model.comparison import GRID_LAYOUTS, ComparisonGrid
from app.viewer_model.orientation import PROJECTION
from app.widgets import view_painter
from app.widgets.series_drag import SERIES_MIME, decode_series
from app.widgets.slice_view import SliceView

REFERENCE_COLOUR = QColor(255, 220, 0)
ACTIVE_COLOUR = QColor(255, 160, 40)


class ComparisonSliceView(SliceView):
    """A SliceView of one viewport: paints the viewport's label, link and reference lines; takes drops."""

    series_dropped = Signal(int, object)  # viewport index, SeriesKey

    def __init__(self, grid: ComparisonGrid, index: int, mouse_map: dict[str, Any],
                 parent: QWidget | None = None) -> None:
        viewport = grid.viewports[index]
        self.grid, self.index = grid, index
        self.comparison_scene = Scene(viewport.model)
        super().__init__(viewport.model, self.comparison_scene, viewport.orientation, mouse_map, parent)
        self.setObjectName(f"compare_view_{index}")
        self.setAcceptDrops(True)
        grid.links_changed.connect(self.update)
        grid.active_changed.connect(self.update)
        for other in grid.viewports:  # reference lines follow the other viewports' slices
            if other.index != index:
                other.model.crosshair_changed.connect(self.update)

    def sync_orientation(self) -> None:
        """The viewport's plane (it may change with the series dropped into it)."""
        self.view = self.grid.viewports[self.index].orientation
        self.update()

    # --- painting ----------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        if self.model.volume is None:
            painter = QPainter(self)
            painter.fillRect(self.rect(), QColor(0, 0, 0))
            painter.setPen(QColor(150, 150, 150))
            painter.setFont(view_painter.text_font())
            painter.drawText(self.rect(), Qt.AlignCenter, "Drop a series here")
            self._frame(painter)
            painter.end()
            return
        super().paintEvent(event)
        painter = QPainter(self)
        self._frame(painter)
        painter.end()

    def _annotate(self, painter: QPainter) -> None:
        super()._annotate(painter)
        if self.view != PROJECTION:
            pen = QPen(REFERENCE_COLOUR, 1, Qt.DashLine)
            painter.setPen(pen)
            for line in self.grid.reference_lines(self.index, self.plane):
                painter.drawLine(QPointF(*line.start), QPointF(*line.end))
        viewport = self.grid.viewports[self.index]
        painter.setFont(view_painter.text_font())
        metrics = painter.fontMetrics()
        lines = []
        for text in (viewport.label, self.grid.link_text(self.index)):
            head, bracket, tail = text.partition(" (")
            if bracket and metrics.horizontalAdvance(text) > self.width() - 8:  # narrow view: two lines
                lines += [head, bracket.strip() + tail]
            elif text:
                lines.append(text)
        letters, bar, _ = self.text_layout()  # above the scale bar / bottom letter: clear of the corner texts
        bottom = bar.rect.top() if bar is not None else letters["bottom"].rect.top()
        y = bottom - 6 - metrics.height() * len(lines)
        for text in lines:
            width = metrics.horizontalAdvance(text)
            x = (self.width() - width) / 2
            painter.setPen(QColor(0, 0, 0))
            painter.drawText(QPointF(x + 1, y + 1 + metrics.ascent()), text)
            painter.setPen(QColor(120, 220, 255))
            painter.drawText(QPointF(x, y + metrics.ascent()), text)
            y += metrics.height()

    def _frame(self, painter: QPainter) -> None:
        if self.grid.active == self.index and self.grid.cells() > 1:
            painter.setPen(ACTIVE_COLOUR)
            painter.drawRect(self.rect().adjusted(0, 0, -1, -1))

    # --- input -------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._activate()
        if self.model.volume is not None:
            super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        """No maximising inside a comparison: a double click is a click."""
        self.mousePressEvent(event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasFormat(SERIES_MIME):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        key = decode_series(event.mimeData())
        if key is not None:
            event.acceptProposedAction()
            self._activate()
            self.series_dropped.emit(self.index, key)

    def focusInEvent(self, event) -> None:  # noqa: N802, ANN001
        self.grid.set_active(self.index)
        super().focusInEvent(event)

    def _activate(self) -> None:
        self.grid.set_active(self.index)
        self.setFocus()


class ComparisonArea(QWidget):
    """The viewports of the grid's layout in rows and columns."""

    series_dropped = Signal(int, object)

    def __init__(self, grid: ComparisonGrid, mouse_map: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("comparison_area")
        self.grid = grid
        self.mouse_map = mouse_map
        self.views: dict[int, ComparisonSliceView] = {}
        self.actions_for_views: list[QAction] = []
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        self.setStyleSheet("background: #202020;")
        grid.changed.connect(self.arrange)
        self.arrange()

    def view(self, index: int) -> ComparisonSliceView:
        if index not in self.views:
            view = ComparisonSliceView(self.grid, index, self.mouse_map, self)
            view.series_dropped.connect(self.series_dropped)
            view.addActions(self.actions_for_views)
            self.views[index] = view
        return self.views[index]

    def set_actions(self, actions: list[QAction]) -> None:
        """The registry actions every viewport carries (their shortcuts work while a viewport has focus)."""
        for view in self.views.values():
            for action in self.actions_for_views:
                view.removeAction(action)
            view.addActions(actions)
        self.actions_for_views = list(actions)

    def arrange(self) -> None:
        rows, columns = GRID_LAYOUTS[self.grid.layout]
        focused = next((view for view in self.views.values() if view.hasFocus()), None)
        for widget in self.views.values():
            self._layout.removeWidget(widget)
            widget.hide()
        for row in range(self._layout.rowCount()):
            self._layout.setRowStretch(row, 0)
        for column in range(self._layout.columnCount()):
            self._layout.setColumnStretch(column, 0)
        for index in range(rows * columns):
            row, column = divmod(index, columns)
            widget = self.view(index)
            widget.sync_orientation()
            self._layout.addWidget(widget, row, column)
            self._layout.setRowStretch(row, 1)
            self._layout.setColumnStretch(column, 1)
            widget.show()
        if focused is not None and focused.isVisible():  # hiding took the keyboard: give it back
            focused.setFocus()
