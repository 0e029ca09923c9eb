"""The central area: the views of the current layout (1x1, 1x3, 2x2) in a grid, one of them maximisable; or,
while comparison reading, the comparison layout (app.widgets.comparison_view) in their place."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QGridLayout, QWidget

from app.viewer_model.model import ViewerModel

_POSITIONS = {1: [(0, 0)], 3: [(0, 0), (0, 1), (0, 2)], 4: [(0, 0), (0, 1), (1, 0), (1, 1)]}


class ViewerGrid(QWidget):
    """Shows ``model.views_in_layout()``; views are created once by ``make_view`` and kept."""

    def __init__(self, model: ViewerModel, make_view: Callable[[str], QWidget],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._make_view = make_view
        self.views: dict[str, QWidget] = {}
        self.comparison: QWidget | None = None  # shown instead of the views while comparison reading
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        self.setStyleSheet("background: #202020;")
        model.layout_changed.connect(self.arrange)
        model.volume_changed.connect(self.arrange)
        self.arrange()

    def view(self, name: str) -> QWidget:
        if name not in self.views:
            self.views[name] = self._make_view(name)
        return self.views[name]

    def show_comparison(self, area: QWidget | None) -> None:
        """Show the comparison layout ``area`` in place of the views (None: back to the views)."""
        if self.comparison is not None and self.comparison is not area:
            self._grid.removeWidget(self.comparison)
            self.comparison.hide()
        self.comparison = area
        self.arrange()

    def shown(self) -> list[str]:
        """Names of the views currently visible."""
        if self.comparison is not None:
            return []
        if self.model.maximized and self.model.maximized in self.model.views_in_layout():
            return [self.model.maximized]
        return list(self.model.views_in_layout())

    def arrange(self) -> None:
        names = self.shown()
        for widget in self.views.values():
            self._grid.removeWidget(widget)
            widget.hide()
        for row in range(self._grid.rowCount()):
            self._grid.setRowStretch(row, 0)
        for column in range(self._grid.columnCount()):
            self._grid.setColumnStretch(column, 0)
        if self.comparison is not None:
            self._grid.addWidget(self.comparison, 0, 0)
            self._grid.setRowStretch(0, 1)
            self._grid.setColumnStretch(0, 1)
            self.comparison.show()
            return
        for name, (row, column) in zip(names, _POSITIONS[len(names)], strict=True):
            widget = self.view(name)
            self._grid.addWidget(widget, row, column)
            self._grid.setRowStretch(row, 1)
            self._grid.setColumnStretch(column, 1)
            widget.show()
