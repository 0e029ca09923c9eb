"""The AI panel fits its dock after a coronary-calcium result (it was wider than the dock: the chart, the
measurement table and the export buttons pushed it out, clipped by the dock's scroll area)."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from tests.app.conftest import save_artifact
from tests.app.test_ai_calcium_chart import PLUGIN, calcium, chart_view, show  # noqa: F401 (the module fixture)


def test_panel_is_no_wider_than_its_dock_after_a_calcium_result(window, calcium, qtbot) -> None:  # noqa: F811
    result, volume = calcium
    dock = window.docks["ai"]
    dock.raise_()
    panel = window.ai_panel
    panel.plugins.setCurrentIndex(panel.plugins.findData(PLUGIN))
    show(window, result, volume)
    qtbot.waitUntil(lambda: chart_view(panel).widget.isVisible())
    viewport = window._ai_area.viewport().width()
    wide = sorted(((w.minimumSizeHint().width(), w.sizeHint().width(), w.objectName() or type(w).__name__)
                   for w in panel.findChildren(QWidget) if w.isVisible()), reverse=True)[:5]
    save_artifact(dock, "ai_panel_calcium_dock.png")
    assert panel.minimumSizeHint().width() <= viewport, wide
    assert panel.sizeHint().width() <= dock.width(), wide
    assert panel.width() <= viewport
