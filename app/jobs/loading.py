"""Loading for the window: scan + catalogue a folder / zip / DICOMDIR, load a series, as background jobs.

One job at a time: starting a job cancels the previous one, and the window drops the signals of a stale job.
A scan job finishes with its ScanReport (already imported into the catalog), a load job with its Volume. The
first slice is announced as soon as it is in memory (``first_slice``), the rest fills the same array.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Signal

from app.jobs.background import BackgroundJob, JobContext
from engine.catalog import Catalog
from engine.series import SeriesInfo
from engine.volume import SourceIds, Volume

if TYPE_CHECKING:
    from engine.dicom.scanner import ScanReport

_REFRESH_S = 0.1  # how often progressive loading asks the views to redraw


class Loader(BackgroundJob):
    """Runs scan / load jobs off the GUI thread."""

    first_slice = Signal(int, object)  # job, provisional Volume whose array is still filling
    more_slices = Signal(int)  # job

    def __init__(self, catalog: Catalog) -> None:
        super().__init__("load")
        self.catalog = catalog

    def open_path(self, path: Path) -> int:
        """Scan ``path`` and import what it holds into the catalog; the job finishes with the ScanReport."""
        return self.start(partial(self._scan, Path(path)))

    def load(self, info: SeriesInfo) -> int:
        """Load a catalogued series; the job finishes with the Volume."""
        return self.start(partial(self._load, info))

    def _scan(self, path: Path, context: JobContext) -> ScanReport:
        from engine.dicom.scanner import scan

        def progress(done: int, total: int, message: str) -> None:
            context.progress(done, total, message or f"scanning {path.name}")

        result = scan(path, progress=progress, cancel=context.cancel)
        self.catalog.import_scan(result, progress=progress, cancel=context.cancel)
        return result

    def _load(self, info: SeriesInfo, context: JobContext) -> Volume:
        from engine.dicom.loader import load_series

        state = {"announced": False, "last": 0.0}

        def on_slice(_z: int, view: np.ndarray) -> None:
            if not state["announced"]:
                provisional = provisional_volume(info, view)
                if provisional is not None:
                    state["announced"] = True
                    self.first_slice.emit(context.job, provisional)
            elif time.monotonic() - state["last"] > _REFRESH_S:
                state["last"] = time.monotonic()
                self.more_slices.emit(context.job)

        return load_series(info, progress=context.progress, cancel=context.cancel, on_slice=on_slice)


def provisional_volume(info: SeriesInfo, slice_view: np.ndarray) -> Volume | None:
    """A Volume on the array the loader is filling (the slice view's base), for first-slice display."""
    full = slice_view.base
    if info.geometry is None or not isinstance(full, np.ndarray) or full.base is not None:
        return None
    if full.shape != info.geometry.shape:
        if full.ndim == 3 and full.shape[0] == 1 and full.shape[1:] == info.geometry.shape:
            full = full[0]
        else:
            return None
    meta = {"patient": dict(info.patient), "study": dict(info.study), "description": info.description,
            "loading": True, "first_slice": np.array(slice_view), "image_keys": info.image_keys()}
    ids = SourceIds(info.study_uid, info.series_uid, info.frame_of_reference_uid)
    return Volume(full, info.geometry, info.modality, ids, meta)
