"""Background work for the window: scan + catalogue a folder / zip / DICOMDIR, load a series.

Work runs in a Python thread; results come back as Qt signals (queued to the GUI thread), so the UI never
waits. One job at a time: starting a job cancels the previous one, and signals of a stale job are dropped.
The first slice is announced as soon as it is in memory (``first_slice``), the rest fills the same array.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from itertools import count
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.catalog import Catalog
from engine.progress import Cancelled, CancelToken
from engine.series import SeriesInfo
from engine.volume import SourceIds, Volume

_REFRESH_S = 0.1  # how often progressive loading asks the views to redraw


class Loader(QObject):
    """Runs scan / load jobs off the GUI thread."""

    progress = Signal(int, int, int, str)  # job, done, total, message
    scanned = Signal(int, object)  # job, ScanReport (already imported into the catalog)
    first_slice = Signal(int, object)  # job, provisional Volume whose array is still filling
    more_slices = Signal(int)  # job
    loaded = Signal(int, object)  # job, Volume
    failed = Signal(int, str)  # job, message
    cancelled = Signal(int)  # job
    finished = Signal(int)  # job (after loaded / failed / cancelled / scanned)

    def __init__(self, catalog: Catalog) -> None:
        super().__init__()
        self.catalog = catalog
        self._ids = count(1)
        self.job = 0
        self._cancel = CancelToken()
        self._threads: list[threading.Thread] = []

    @property
    def busy(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def cancel(self) -> bool:
        """Cancel the running job; True if one was running."""
        running = self.busy
        self._cancel.cancel()
        return running

    def open_path(self, path: Path) -> int:
        """Scan ``path`` and import what it holds into the catalog."""
        return self._start(lambda job, cancel: self._scan(job, Path(path), cancel))

    def load(self, info: SeriesInfo) -> int:
        """Load a catalogued series."""
        return self._start(lambda job, cancel: self._load(job, info, cancel))

    def wait(self, timeout: float = 60.0) -> None:
        """Block until running jobs end (tests, scripted screenshots)."""
        for thread in list(self._threads):
            thread.join(timeout)

    def _start(self, work: Callable[[int, CancelToken], None]) -> int:
        self._cancel.cancel()
        self._cancel = cancel = CancelToken()
        self.job = job = next(self._ids)
        self._threads = [thread for thread in self._threads if thread.is_alive()]
        thread = threading.Thread(target=self._run, args=(work, job, cancel), daemon=True, name=f"load-{job}")
        self._threads.append(thread)
        thread.start()
        return job

    def _run(self, work: Callable[[int, CancelToken], None], job: int, cancel: CancelToken) -> None:
        try:
            work(job, cancel)
        except Cancelled:
            self.cancelled.emit(job)
        except Exception as error:  # every failure reaches the user as a message naming what failed
            self.failed.emit(job, f"{type(error).__name__}: {error}")
        finally:
            self.finished.emit(job)

    def _scan(self, job: int, path: Path, cancel: CancelToken) -> None:
        from engine.dicom.scanner import scan

        def progress(done: int, total: int, message: str) -> None:
            self.progress.emit(job, done, total, message or f"scanning {path.name}")

        result = scan(path, progress=progress, cancel=cancel)
        self.catalog.import_scan(result, progress=progress, cancel=cancel)
        self.scanned.emit(job, result)

    def _load(self, job: int, info: SeriesInfo, cancel: CancelToken) -> None:
        from engine.dicom.loader import load_series

        state = {"announced": False, "last": 0.0}

        def progress(done: int, total: int, message: str) -> None:
            self.progress.emit(job, done, total, message)

        def on_slice(_z: int, view: np.ndarray) -> None:
            if not state["announced"]:
                provisional = provisional_volume(info, view)
                if provisional is not None:
                    state["announced"] = True
                    self.first_slice.emit(job, provisional)
            elif time.monotonic() - state["last"] > _REFRESH_S:
                state["last"] = time.monotonic()
                self.more_slices.emit(job)

        volume = load_series(info, progress=progress, cancel=cancel, on_slice=on_slice)
        self.loaded.emit(job, volume)


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
            "loading": True, "first_slice": np.array(slice_view)}
    ids = SourceIds(info.study_uid, info.series_uid, info.frame_of_reference_uid)
    return Volume(full, info.geometry, info.modality, ids, meta)
