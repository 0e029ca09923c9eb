"""Load the pixels of a scanned stack (SeriesInfo) into a Volume.

The output type is planned from the first instance's header (:mod:`engine.dicom.rescale`) and the
output array is allocated once. A thread pool then reads every instance: its header (checked against
the plan), then its frames — uncompressed little-endian frames straight from the file into the output
(no copies; the read and the numpy work release the GIL, so they overlap the next header parse),
compressed ones through pydicom's decoders (:mod:`engine.dicom.codecs`). If a later instance does not
fit the plan (another pixel format or rescale), every header is read first and the pixels are loaded
again with a plan for all of them; if rescaled values overflow int16, they are loaded again as float32.

Progress, cancellation and ``on_slice`` run in the calling thread, once per slice, in completion order
(roughly ascending): ``on_slice(z, array_view)`` lets a viewer show the first slices while the rest loads.

A bad instance (truncated, undecodable) raises :class:`LoadError` naming the file. With
``allow_missing=True`` its slices are filled with the volume's minimum instead and a warning naming the
file is added to ``volume.meta["warnings"]`` — never silently.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from engine.dicom.errors import PlainError, describe
from engine.dicom.limits import UnsafeHeader, check_budget
from engine.dicom.lookup import Lookup
from engine.dicom.pixels import (
    HeaderCache,
    InstancePixels,
    PixelError,
    PixelFormat,
    decode_stored_frame,
    load_dataset,
    read_direct_frames,
    read_instance_pixels,
)
from engine.dicom.rescale import (
    OutputPlan,
    RangeOverflow,
    correct_unused_bits,
    mirror_window,
    plan_output,
    write_frame,
)
from engine.geometry import Geometry
from engine.progress import CancelToken, ProgressCallback, report
from engine.series import FileRef, SeriesInfo
from engine.volume import SourceIds, Volume

SliceCallback = Callable[[int, np.ndarray], None]


class LoadError(PlainError):
    """Pixels of a stack could not be loaded; ``path`` names the file at fault (may be empty)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason


class _Replan(Exception):
    """An instance's header does not fit the plan made from the first instance."""


@dataclass(frozen=True)
class _Options:
    progress: ProgressCallback | None
    cancel: CancelToken | None
    workers: int | None
    on_slice: SliceCallback | None
    allow_missing: bool


@dataclass
class _Job:
    """One instance's share of the work: which of its frames go to which slices."""

    ref: FileRef
    frames: list[tuple[int, int]]  # (frame index in the file, z in the output)
    pixels: InstancePixels | None = None  # None: the job reads the header and checks it against the plan


@dataclass
class _Pass:
    """What the jobs of one pixel pass share."""

    array: np.ndarray
    plan: OutputPlan
    force_float: bool  # the plan was forced to float32 after an int16 overflow
    first: InstancePixels
    cache: HeaderCache
    stop: threading.Event = field(default_factory=threading.Event)
    done: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)


def default_workers() -> int:
    """Threads used when the caller does not say: enough to overlap file reads with header parsing
    (which holds the GIL, so more threads than cores only add contention)."""
    return max(2, min(4, os.cpu_count() or 2))


def load_series(
    series: SeriesInfo,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    workers: int | None = None,
    on_slice: SliceCallback | None = None,
    allow_missing: bool = False,
) -> Volume:
    """Read every slice of ``series`` into a Volume on ``series.geometry`` (unchanged).

    ``workers``: threads of the pool (default :func:`default_workers`); ``on_slice(z, view)`` is called
    as each slice is ready; ``allow_missing`` fills unreadable slices instead of raising.
    Raises :class:`LoadError` (naming the file) or :class:`~engine.progress.Cancelled`.
    """
    if not series.instances:
        raise LoadError("", f"series {series.series_uid} has no instances")
    first_file = series.instances[0].ref.display()
    options = _Options(progress, cancel, workers, on_slice, allow_missing)
    order = series.frame_order or [(index, 0) for index in range(len(series.instances))]
    cache = HeaderCache()
    infos = _scanned_headers(series, order)  # all headers: from the scan, or once a replan needed them
    if infos is None:
        first, failed = _first_header(series, order, cache, options)
        fmt, rescales, lookup = first.format, first.rescales, first.lookup
    else:
        first, failed = infos[order[0][0]], {}
        fmt, lookup = _common_format(infos), _common_lookup(infos)
        rescales = _rescales_in_order(infos, order)
    force_float = False
    while True:
        plan = plan_output(fmt, rescales, force_float, lookup)
        _check_output_size(first_file, len(order), fmt, plan)
        # zeros, not empty: a viewer shows slices while they load, never uninitialised memory (and fresh
        # zero pages cost no more than empty ones)
        array = np.zeros((len(order), *fmt.output_shape), dtype=plan.dtype)
        shared = _Pass(array, plan, force_float, first, cache)
        try:
            missing = _load_pixels(series, order, shared, infos, failed, options)
            break
        except RangeOverflow:
            force_float = True
        except _Replan:
            infos, failed = _read_headers(series, order, cache, options)
            fmt, lookup = _common_format(infos), _common_lookup(infos)
            rescales = _rescales_in_order(infos, order)
        del array, shared
    warnings = [f"slice {z} filled with the minimum value: {reason}" for z, reason in sorted(missing.items())]
    _fill_missing(array, sorted(missing), first_file)
    return _volume(series, array, first, fmt, plan, warnings)


def _check_output_size(path: str, slices: int, fmt: PixelFormat, plan: OutputPlan) -> None:
    """LoadError naming ``path`` when the output array would exceed the allocation budget."""
    needed = slices * int(np.prod(fmt.output_shape)) * plan.dtype.itemsize
    try:
        check_budget(needed, f"the stack of {slices} slices of {fmt.columns} x {fmt.rows}")
    except UnsafeHeader as exc:
        raise LoadError(path, str(exc)) from None


def load_file(path: str | os.PathLike) -> Volume:
    """Scan one file and load its first stack."""
    from engine.dicom.scanner import scan

    result = scan(os.fspath(path))
    if not result.series:
        reason = result.errors[0].reason if result.errors else "no loadable image"
        raise LoadError(os.fspath(path), reason)
    return load_series(result.series[0])


def _first_header(
    series: SeriesInfo, order: list[tuple[int, int]], cache: HeaderCache, options: _Options
) -> tuple[InstancePixels, dict[int, str]]:
    """The header of the first readable instance in slice order, and the unreadable ones before it."""
    failed: dict[int, str] = {}
    for index in dict.fromkeys(i for i, _ in order):
        ref = series.instances[index].ref
        try:
            return read_instance_pixels(ref, cache), failed
        except Exception as exc:  # pydicom raises many types for broken files; each is named in the error
            if not options.allow_missing:
                raise LoadError(ref.display(), _reason(exc)) from exc
            failed[index] = f"{ref.display()}: {_reason(exc)}"
    raise LoadError(series.instances[order[0][0]].ref.display(), "no file of this stack has a readable header")


def _read_headers(
    series: SeriesInfo, order: list[tuple[int, int]], cache: HeaderCache, options: _Options
) -> tuple[dict[int, InstancePixels], dict[int, str]]:
    """Pixel facts of every instance in ``order``; unreadable ones go to ``failed`` if allowed."""
    infos: dict[int, InstancePixels] = {}
    failed: dict[int, str] = {}
    indices = list(dict.fromkeys(i for i, _ in order))
    for count, index in enumerate(indices):
        if options.cancel is not None:
            options.cancel.raise_if_cancelled()
        ref = series.instances[index].ref
        try:
            infos[index] = read_instance_pixels(ref, cache)
        except Exception as exc:  # pydicom raises many types for broken files; each is named in the error
            if not options.allow_missing:
                raise LoadError(ref.display(), _reason(exc)) from exc
            failed[index] = f"{ref.display()}: {_reason(exc)}"
        report(options.progress, count + 1, len(indices), "reading headers")
    if not infos:
        raise LoadError(series.instances[order[0][0]].ref.display(), "no file of this stack has a readable header")
    return infos, failed


def _layout(fmt: PixelFormat) -> tuple:
    """What every instance of a stack must share (BitsStored may differ: each is masked with its own)."""
    return fmt.frame_shape, fmt.bits_allocated, fmt.signed, fmt.photometric


def _layout_text(fmt: PixelFormat) -> str:
    """E.g. ``512 x 512, 16-bit signed, MONOCHROME2``."""
    sign = "signed" if fmt.signed else "unsigned"
    return f"{fmt.columns} x {fmt.rows}, {fmt.bits_allocated}-bit {sign}, {fmt.photometric}"


def _scanned_headers(series: SeriesInfo, order: list[tuple[int, int]]) -> dict[int, InstancePixels] | None:
    """The pixel facts the header pass gathered, when it has them for every instance of the stack."""
    infos = {index: series.instances[index].pixels for index, _ in order}
    return infos if all(isinstance(info, InstancePixels) for info in infos.values()) else None


def _rescales_in_order(infos: dict[int, InstancePixels], order: list[tuple[int, int]]) -> list:
    """(slope, intercept) of every slice in slice order."""
    return [infos[i].rescales[f] for i, f in order if i in infos and f < infos[i].frames]


def _common_format(infos: dict[int, InstancePixels]) -> PixelFormat:
    """The stack's pixel format, with the widest BitsStored of its instances."""
    first = next(iter(infos.values()))
    for info in infos.values():
        if _layout(info.format) != _layout(first.format):
            raise LoadError(
                info.ref.display(),
                f"its images ({_layout_text(info.format)}) differ from those of {first.ref.display()} "
                f"({_layout_text(first.format)}) in the same stack",
            )
    return max((info.format for info in infos.values()), key=lambda f: f.bits_stored)


def _common_lookup(infos: dict[int, InstancePixels]) -> Lookup | None:
    """The first instance's lookup table; LoadError when another instance has none, or one of another kind
    or type (each instance is mapped with its own table)."""
    first = next(iter(infos.values()))
    if len({_lookup_kind(info) for info in infos.values()}) > 1:
        other = next(info for info in infos.values() if _lookup_kind(info) != _lookup_kind(first))
        raise LoadError(
            other.ref.display(),
            f"its values go through {_lookup_kind(other)} where those of {first.ref.display()} go through "
            f"{_lookup_kind(first)} in the same stack",
        )
    return first.lookup


def _lookup_kind(info: InstancePixels) -> str:
    """E.g. ``a modality LUT of uint16`` or ``no lookup table``."""
    return f"a {info.lookup.kind} of {info.lookup.table.dtype}" if info.lookup else "no lookup table"


def _load_pixels(
    series: SeriesInfo,
    order: list[tuple[int, int]],
    shared: _Pass,
    infos: dict[int, InstancePixels] | None,
    failed: dict[int, str],
    options: _Options,
) -> dict[int, str]:
    """Fill ``shared.array``; returns the reasons of the slices left missing."""
    missing = {z: failed[i] for z, (i, _) in enumerate(order) if i in failed}
    total, finished = len(order), len(missing)
    report(options.progress, finished, total, "loading slices")
    with ThreadPoolExecutor(max_workers=max(1, options.workers or default_workers())) as pool:
        for job in _jobs(series, order, infos, failed):
            pool.submit(_run_job, job, shared)
        try:
            while finished < total:
                try:
                    slices, error = shared.done.get(timeout=0.1)
                except queue.Empty:
                    slices, error = [], None
                if options.cancel is not None:
                    options.cancel.raise_if_cancelled()
                if isinstance(error, LoadError) and options.allow_missing:
                    missing.update((z, str(error)) for z in slices)
                elif error is not None:
                    raise error
                elif slices and options.on_slice is not None:
                    options.on_slice(slices[0], shared.array[slices[0]])
                finished += len(slices)
                if slices:
                    report(options.progress, finished, total, "loading slices")
        except BaseException:
            shared.stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return missing


def _jobs(
    series: SeriesInfo,
    order: list[tuple[int, int]],
    infos: dict[int, InstancePixels] | None,
    failed: dict[int, str],
) -> list[_Job]:
    """One job per instance (a multi-frame file is parsed once), in slice order."""
    jobs: dict[int, _Job] = {}
    for z, (index, frame) in enumerate(order):
        if index in failed:
            continue
        if index not in jobs:
            pixels = infos[index] if infos is not None else None
            jobs[index] = _Job(series.instances[index].ref, [], pixels)
        jobs[index].frames.append((frame, z))
    return list(jobs.values())


def _run_job(job: _Job, shared: _Pass) -> None:
    """Fill the job's slices, putting ([z], None) on ``done`` per slice, or (unfinished zs, error) once."""
    remaining = [z for _, z in job.frames]
    try:
        if shared.stop.is_set():
            return
        pixels = job.pixels or _checked_header(job.ref, shared)
        for frame, _ in job.frames:
            if frame >= pixels.frames:
                raise PixelError(f"frame {frame} requested but the file has {pixels.frames}")
        source = _direct_frames(pixels, job, shared) if pixels.direct else _decoded_frames(pixels, job)
        for frame, z, stored in source:
            if shared.stop.is_set():
                return
            if pixels.lookup is not None:
                pixels.lookup.write(stored, shared.array[z])
            else:
                write_frame(stored, shared.array[z], pixels.rescales[frame], shared.plan, pixels.format)
            remaining.remove(z)
            shared.done.put(([z], None))
    except (RangeOverflow, _Replan) as exc:
        shared.done.put((remaining, exc))
    except BaseException as exc:  # noqa: BLE001 - a decoder's Rust panic too: raised again, as LoadError naming
        # the file, in the loading thread, which would otherwise wait for these slices for ever
        shared.done.put((remaining, LoadError(job.ref.display(), _reason(exc, "pixel data"))))


def _checked_header(ref: FileRef, shared: _Pass) -> InstancePixels:
    """The instance's header; _Replan when it needs another plan than the first instance's."""
    pixels = read_instance_pixels(ref, shared.cache)
    if _layout(pixels.format) != _layout(shared.first.format):
        raise _Replan(f"{ref.display()} has another pixel format")
    if plan_output(pixels.format, pixels.rescales, shared.force_float, pixels.lookup) != shared.plan:
        raise _Replan(f"{ref.display()} needs another output type")
    return pixels


def _direct_frames(pixels: InstancePixels, job: _Job, shared: _Pass) -> Iterator[tuple[int, int, np.ndarray]]:
    """Stored values read straight from the file, into the output slice itself when the types agree."""
    fmt, plan = pixels.format, shared.plan
    in_place = not plan.lookup and plan.dtype.kind in "iu" and plan.dtype.itemsize == fmt.stored_dtype.itemsize
    for frame, z in job.frames:
        target = shared.array[z]
        stored = target.view(fmt.stored_dtype) if in_place else np.empty(fmt.frame_shape, fmt.stored_dtype)
        read_direct_frames(pixels, [(frame, stored)])
        correct_unused_bits(stored, fmt)
        yield frame, z, stored


def _decoded_frames(pixels: InstancePixels, job: _Job) -> Iterator[tuple[int, int, np.ndarray]]:
    """Stored values decoded by pydicom, one frame at a time."""
    ds = load_dataset(pixels)
    for frame, z in job.frames:
        yield frame, z, decode_stored_frame(ds, pixels, frame)


def _reason(exc: BaseException, reading: str = "header") -> str:
    return str(exc) if isinstance(exc, PlainError) else describe(exc, reading)


def _fill_missing(array: np.ndarray, missing: list[int], path: str) -> None:
    """Fill the ``missing`` slices with the minimum of the others (LoadError naming ``path`` if none loaded)."""
    if not missing:
        return
    present = np.ones(len(array), dtype=bool)
    present[missing] = False
    if not present.any():
        raise LoadError(path, "no slice of this stack could be loaded")
    array[missing] = min(array[z].min() for z in np.flatnonzero(present))


def _volume(
    series: SeriesInfo,
    array: np.ndarray,
    first: InstancePixels,
    fmt: PixelFormat,
    plan: OutputPlan,
    warnings: list[str],
) -> Volume:
    spatial: tuple[int, ...] = (len(array), fmt.rows, fmt.columns)
    if len(series.shape) == 2 and len(array) == 1:
        array, spatial = array[0], spatial[1:]
    geometry = series.geometry or Geometry(shape=spatial)
    if geometry.shape != spatial:
        raise LoadError(
            first.ref.display(), f"the pixel data gives {spatial} voxels but the headers describe {geometry.shape}"
        )
    window = first.window
    if plan.invert:
        window = mirror_window(window, first.format, first.rescales[0])
    elif first.lookup is not None:
        window = first.lookup.mirror(window)
    meta = {
        "photometric": fmt.photometric,
        "inverted_monochrome1": plan.invert or (first.lookup is not None and first.lookup.inverted),
        "values": plan.kind,
        "window": window,
        "warnings": list(series.warnings) + warnings,
        "patient": dict(series.patient),
        "study": dict(series.study),
        "description": series.description,
        "pixel_spacing_source": series.extra.get("pixel_spacing_source", ""),
        **first.header,
        "image_keys": series.image_keys(),  # the acquired image of each slice (key images name them)
    }
    ids = SourceIds(series.study_uid, series.series_uid, series.frame_of_reference_uid)
    return Volume(array=array, geometry=geometry, modality=series.modality, ids=ids, meta=meta)
