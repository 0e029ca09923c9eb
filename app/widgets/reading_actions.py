"""The window side of the reader's exports: a file dialog, the active view's pixels, the status line. What each
does is a function of app.viewer_model.reading_exports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog, QWidget

from app.viewer_model import reading_exports
from app.viewer_model.model import ViewerModel
from engine.paths import data_dir
from engine.series import SeriesInfo


class ReadingActions:
    """Bound to the window: its model, the series on screen, the active 2D view and the status line."""

    def __init__(self, parent: QWidget, model: ViewerModel, series: Callable[[], SeriesInfo | None],
                 active_view: Callable[[], QWidget | None], show_status: Callable[[str, int], None]) -> None:
        self.parent, self.model, self.series = parent, model, series
        self.active_view, self.show_status = active_view, show_status
        self.export_folder: Path | None = None  # where the last export went
        self.screenshot_folder = data_dir() / "screenshots"
        # the save dialog; tests replace it: (title, suggested path, filter) -> chosen path or ""
        self.ask_path: Callable[[str, str, str], str] = self._ask_path

    def toggle_key_image(self) -> None:
        index, flagged = reading_exports.toggle_key_image(self.model)
        count = len(self.model.measurements.key_images)
        self.show_status(f"Image {index + 1} {'flagged as' if flagged else 'no longer a'} key image "
                         f"({count} in this series)", 5000)

    def export(self, kind: str) -> Path | None:
        if self.model.volume is None:
            self.show_status("Nothing to export: no image is open", 5000)
            return None
        folder = self.export_folder or Path.home()
        suggested = str(folder / reading_exports.default_name(kind, self.model))
        chosen = self.ask_path(f"Export {reading_exports.LABELS[kind]}", suggested, "DICOM (*.dcm)")
        if not chosen:
            return None
        try:
            written = reading_exports.export(kind, self.model, self.series(), Path(chosen))
        except (reading_exports.ReadingExportError, OSError) as error:
            self.show_status(f"{reading_exports.LABELS[kind]} not exported: {error}", 15000)
            return None
        self.export_folder = written.path.parent
        note = f"; not included: {'; '.join(written.skipped)}" if written.skipped else ""
        self.show_status(f"Exported {reading_exports.LABELS[kind]} to {written.path}{note}", 15000)
        return written.path

    def screenshot(self, with_patient_text: bool) -> Path | None:
        """Write the active 2D view, at its full device resolution, with its annotations, as PNG."""
        view = self.active_view()
        if view is None or self.model.volume is None:
            self.show_status("Nothing to save: no image is open", 5000)
            return None
        shown = self.model.show_patient_text
        if shown != with_patient_text:
            self.model.toggle_patient_text()
        try:
            rgb = grab_rgb(view)
        finally:
            if self.model.show_patient_text != shown:
                self.model.toggle_patient_text()
        name = reading_exports.default_name("screenshot", self.model)
        if not with_patient_text:
            name = name.replace("screenshot_", "screenshot_anonymous_", 1)
        path = reading_exports.write_png(self.screenshot_folder / name, rgb)
        self.show_status(f"Saved screenshot to {path}", 10000)
        return path

    def _ask_path(self, title: str, suggested: str, kinds: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self.parent, title, suggested, kinds)
        return path


def grab_rgb(widget: QWidget) -> np.ndarray:
    """The widget's pixels as painted now, at its device pixel ratio, as (height, width, 3) uint8."""
    image = widget.grab().toImage().convertToFormat(QImage.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    data = np.frombuffer(image.constBits(), np.uint8, count=stride * height).reshape(height, stride)
    return data[:, : width * 3].reshape(height, width, 3).copy()
