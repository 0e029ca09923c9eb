"""Decode one compressed frame with GDCM in a separate process, so that GDCM's aborts end that process only.

GDCM throws C++ exceptions that terminate the process (SIGABRT) on some damaged codestreams: a byte flipped
in a JPEG Lossless stream is enough, and no header check can see it. Frames that go to GDCM are therefore
decoded in a small pool of worker processes (spawned once, on first use, and kept for the session). A
worker that dies fails only the frame it was decoding: the frame is retried once in a fresh pool (another
file's crash may have broken the pool) and, if it kills that one too, the file gets a plain error.

Only the frame's bytes and the handful of header attributes the decoder needs cross the process boundary.

Cost (30 JPEG stacks of the public corpus, 2-core machine): about 0.55 s once, when the first worker starts,
and about 20 % more per stack for the round trips. Uncompressed data never comes here.

The workers are started with "spawn", which imports the main module again in each worker: a script that
loads compressed DICOM must keep its work under ``if __name__ == "__main__":``, as for any multiprocessing
code (the `sightline` command and the frozen app do; the frozen app calls ``freeze_support()``).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import UID

from engine.dicom.errors import PlainError

# What a decoder reads from the header of a single-frame dataset.
DECODE_KEYWORDS = (
    "Rows",
    "Columns",
    "SamplesPerPixel",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "PhotometricInterpretation",
    "PlanarConfiguration",
)
FRAME_TIMEOUT_S = 120.0
PARENT_POLL_S = 0.5
_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


class DecoderCrashed(PlainError):
    """The decoder's process died (or hung) on this frame."""


def decode_isolated(ds: Dataset, frame: bytes, plugin: str) -> np.ndarray:
    """The stored values of one encapsulated ``frame`` of ``ds``, decoded by ``plugin`` in a worker process.

    Raises what the decoder raised, or DecoderCrashed when the worker died twice on this frame.
    """
    task = (
        {keyword: ds[keyword].value for keyword in DECODE_KEYWORDS if keyword in ds},
        frame,
        str(ds.file_meta.TransferSyntaxUID),
        plugin,
    )
    try:
        return _run(task)
    except DecoderCrashed:
        pass  # another file's frame may have broken the pool: once more, in a fresh one
    return _run(task)


def _run(task: tuple) -> np.ndarray:
    pool = _current_pool()
    try:
        return pool.submit(_decode, *task).result(FRAME_TIMEOUT_S)
    except (BrokenProcessPool, TimeoutError):
        _discard(pool)
        raise DecoderCrashed(
            "its compressed pixel data is damaged: the decoder crashed on it (the app was not affected)"
        ) from None


def _current_pool() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            workers = max(1, min(4, os.cpu_count() or 1))
            _pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=exit_with_parent, initargs=(os.getpid(),))
        return _pool


def exit_with_parent(parent: int) -> None:
    """In a worker: end it once the process that started the pool is gone. A parent killed outright (a
    fuzz case over its memory limit, a crashed app) would otherwise leave its workers running for good."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _discard(pool: ProcessPoolExecutor) -> None:
    """Drop a broken (or hung) pool; the next frame starts a fresh one."""
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    for process in list(getattr(pool, "_processes", {}).values()):  # a hung worker would block shutdown
        process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def _decode(attributes: dict, frame: bytes, transfer_syntax: str, plugin: str) -> np.ndarray:
    """In the worker: a one-frame dataset with ``attributes`` and ``frame``, decoded by ``plugin``."""
    from pydicom.pixels import pixel_array

    from engine.dicom.codecs import configure_decoders

    configure_decoders()
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(transfer_syntax)
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    return pixel_array(ds, decoding_plugin=plugin)
