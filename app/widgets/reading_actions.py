"""The window side of the reader's exports: a file dialog, the active view's pixels, the status line. What each
does is a function of app.viewer_model.reading_exports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog, QWidget

from app.jobs.background import BackgroundJob
from app.viewer_model import reading_exports
from app.viewer_model.model import ViewerModel
from engine.paths import data_dir
from engine.series import SeriesInfo


class ReadingActions(QObject):
    """Bound to the window: its model, the series the reader works in, the active 2D view and the status line.
    A QObject of the GUI thread, so that the export job's signals reach its slots queued.

    ``target`` names what key images and exports act on: the model of the active view (the active comparison
    viewport's while the comparison is shown) and its catalogued series, None when it is not catalogued."""

    def __init__(self, parent: QWidget, model: ViewerModel,
                 target: Callable[[], tuple[ViewerModel, SeriesInfo | None]],
                 active_view: Callable[[], QWidget | None], show_status: Callable[[str, int], None]) -> None:
        super().__init__(parent)
        self.window, self.model, self.target = parent, model, target
        self.active_view, self.show_status = active_view, show_status
        self.export_folder: Path | None = None  # where the last export went
        self.screenshot_folder = data_dir() / "screenshots"
        # the save dialog; tests replace it: (title, suggested path, filter) -> chosen path or ""
        self.ask_path: Callable[[str, str, str], str] = self._ask_path
        self.job = BackgroundJob("export", parent=parent)  # exports read every header of the series: off the GUI
        self.job.progress.connect(self._progress)
        self.job.finished.connect(self._finished)
        self.job.failed.connect(self._failed)
        self.job.cancelled.connect(self._cancelled)
        self._label = ""

    def toggle_key_image(self) -> None:
        model, series = self.target()
        if model.volume is None:
            return
        if model is not self.model and series is None:  # a comparison viewport: its flags go to the catalog
            self.show_status("Key image not flagged: this viewport's series is not in the catalog", 8000)
            return
        index, flagged = reading_exports.toggle_key_image(model)
        count = len(model.measurements.key_images)
        self.show_status(f"Image {index + 1} {'flagged as' if flagged else 'no longer a'} key image "
                         f"({count} in this series)", 5000)

    def export(self, kind: str) -> Path | None:
        """Ask where, then write the export in the background; returns the path it is being written to."""
        model, series = self.target()
        if model.volume is None:
            self.show_status("Nothing to export: no image is open", 5000)
            return None
        try:  # refused before the dialog: nothing to choose a file for
            request = reading_exports.prepare(kind, model, series)
        except reading_exports.ReadingExportError as error:
            self.show_status(f"{reading_exports.LABELS[kind]} not exported: {error}", 15000)
            return None
        folder = self.export_folder or Path.home()
        suggested = str(folder / reading_exports.default_name(kind, model))
        chosen = self.ask_path(f"Export {reading_exports.LABELS[kind]}", suggested, "DICOM (*.dcm)")
        if not chosen:
            return None
        try:
            request = reading_exports.prepare(kind, model, series)  # the snapshot as it is now
        except reading_exports.ReadingExportError as error:
            self.show_status(f"{reading_exports.LABELS[kind]} not exported: {error}", 15000)
            return None
        path = Path(chosen)
        self.export_folder = path.parent
        self._label = reading_exports.LABELS[kind]
        self.job.start(lambda context: reading_exports.write(request, path, context.progress, context.cancel))
        return path

    def cancel(self) -> bool:
        """Esc: stop a running export (nothing is written); True if one was running."""
        return self.job.cancel()

    def _progress(self, job: int, done: int, total: int, message: str) -> None:
        if job == self.job.current:
            self.show_status(f"Exporting {self._label}: {message} {done}/{total} (Esc cancels)", 0)

    def _finished(self, job: int, written: reading_exports.Written) -> None:
        if job == self.job.current:
            note = f"; not included: {'; '.join(written.skipped)}" if written.skipped else ""
            self.show_status(f"Exported {self._label} to {written.path}{note}", 15000)

    def _failed(self, job: int, message: str) -> None:
        if job == self.job.current:
            self.show_status(f"{self._label} not exported: {message}", 15000)

    def _cancelled(self, job: int) -> None:
        if job == self.job.current:
            self.show_status(f"{self._label} export cancelled", 5000)

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
        path, _ = QFileDialog.getSaveFileName(self.window, title, suggested, kinds)
        return path


def grab_rgb(widget: QWidget) -> np.ndarray:
    """The widget's pixels as painted now, at its device pixel ratio, as (height, width, 3) uint8."""
    image = widget.grab().toImage().convertToFormat(QImage.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    data = np.frombuffer(image.constBits(), np.uint8, count=stride * height).reshape(height, stride)
    return data[:, : width * 3].reshape(height, width, 3).copy()
