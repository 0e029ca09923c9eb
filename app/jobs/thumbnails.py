"""Series thumbnails for the study browser: the middle image of a stack, windowed and shrunk."""

from __future__ import annotations

import dataclasses
from functools import partial

import numpy as np
from PySide6.QtCore import Signal

from app.jobs.background import BackgroundJob, JobContext
from engine.catalog import Catalog, SeriesKey
from engine.series import SeriesInfo
from engine.window_level import apply_window, percentile_window

THUMBNAIL_PX = 64


def thumbnail_pixels(info: SeriesInfo, size: int = THUMBNAIL_PX) -> np.ndarray:
    """(h, w) uint8 of the stack's middle image, windowed, at most ``size`` pixels on its long side; a colour
    image gives (h, w, 3) uint8 RGB, its own colours (no window)."""
    from engine.dicom.loader import load_series

    order = info.frame_order or [(index, 0) for index in range(len(info.instances))]
    middle = order[len(order) // 2]
    one = dataclasses.replace(info, instances=[info.instances[middle[0]]], frame_order=[(0, middle[1])],
                              shape=(), geometry=None)
    volume = load_series(one, workers=1)
    if volume.is_colour:
        rgb = np.asarray(volume.array)[..., :3]
        rgb = rgb.reshape(rgb.shape[-3:])
        step = max(1, int(np.ceil(max(rgb.shape[:2]) / size)))
        return np.ascontiguousarray(rgb[::step, ::step], dtype=np.uint8)
    image = np.asarray(volume.array)
    image = image.reshape(image.shape[-2:]) if image.ndim > 2 else image
    step = max(1, int(np.ceil(max(image.shape) / size)))
    return np.ascontiguousarray(apply_window(image[::step, ::step], percentile_window(image)))


class ThumbnailLoader(BackgroundJob):
    """Makes thumbnails in background jobs, one series after another; a new request does not cancel the
    running ones (each asks only for series not requested before)."""

    # series UID, stack index, pixel bytes, width, height, channels (1 grey, 3 RGB); plain types: queued
    # across threads by value
    ready = Signal(str, int, bytes, int, int, int)

    def __init__(self, catalog: Catalog) -> None:
        super().__init__("thumbnails", replace=False)
        self.catalog = catalog
        self._done: set[SeriesKey] = set()

    def request(self, keys: list[SeriesKey]) -> None:
        """Make the thumbnails of the series in ``keys`` not requested before."""
        todo = [key for key in keys if key not in self._done]
        self._done.update(todo)
        if todo:
            self.start(partial(self._make, todo))

    def _make(self, keys: list[SeriesKey], context: JobContext) -> None:
        for key in keys:
            context.cancel.raise_if_cancelled()
            try:
                pixels = thumbnail_pixels(self.catalog.series_info(key))
                channels = pixels.shape[2] if pixels.ndim == 3 else 1
                self.ready.emit(key.series_uid, key.stack_index, pixels.tobytes(), pixels.shape[1], pixels.shape[0],
                                channels)
            except Exception:  # a series without a thumbnail still lists; loading reports why
                continue
