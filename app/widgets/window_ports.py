"""The narrow faces of the main window that its parts are given instead of the window itself (as napari hands
its layer list widget only ``viewer.layers``): a status line and the series loading."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance

    from engine.catalog import SeriesKey

ShowStatus = Callable[[str, int], None]
"""Show a message in the status bar for so many milliseconds (``QStatusBar.showMessage``)."""


class SeriesOpener(Protocol):
    """Which catalogued series is shown, how to open another, and when loading has ended."""

    current_series: SeriesKey | None
    settled: SignalInstance  # loading ended (loaded, failed, cancelled or nothing to load)

    def open_series(self, key: SeriesKey) -> None:
        """Load ``key`` from the catalog and show it."""
