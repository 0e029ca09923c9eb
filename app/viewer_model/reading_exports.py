"""What the reader's export and key-image buttons do, without a window: flag the image under the crosshair as
a key image, write the series' measurements as GSPS or TID 1500 SR, its key images as KOS, a view's pixels
as PNG. Every file is written atomically; an export that cannot be made says why (ReadingExportError). An
export is prepared on the GUI thread (a snapshot) and written with progress and Cancel (``write``)."""

from __future__ import annotations

import copy
import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from app.viewer_model.model import ViewerModel
from engine.atomic import atomic_write_bytes
from engine.geometry import Geometry
from engine.measurements import Measurement
from engine.progress import CancelToken, ProgressCallback, report
from engine.series import SeriesInfo
from engine.window_level import Window

KINDS = ("gsps", "sr", "kos")
LABELS = {"gsps": "Presentation state (GSPS)", "sr": "Measurement report (SR)", "kos": "Key images (KOS)"}


class ReadingExportError(ValueError):
    """An export that cannot be made; the message says why."""


@dataclass
class Written:
    """A file written, and what it could not hold (with the reasons)."""

    path: Path
    skipped: list[str] = field(default_factory=list)


def key_image_index(model: ViewerModel) -> int:
    """The acquired image under the crosshair: its slice index in the series' stack (0 for a radiograph)."""
    if model.volume is None:
        raise ReadingExportError("no image is open")
    geometry = model.volume.geometry
    if geometry.is_projection:
        return 0
    z = float(geometry.patient_to_voxel(model.crosshair)[0])
    return int(np.clip(np.rint(z), 0, geometry.shape[0] - 1))


def toggle_key_image(model: ViewerModel) -> tuple[int, bool]:
    """Flag (or unflag) the image under the crosshair as a key image: its slice index and whether it is
    flagged now."""
    index = key_image_index(model)
    return index, model.measurements.toggle_key_image(index)


@dataclass
class ExportRequest:
    """A snapshot of what an export writes, taken on the GUI thread so that the writing may run off it."""

    kind: str
    series: SeriesInfo
    geometry: Geometry
    measurements: list[Measurement]
    key_images: list[int]
    window: Window


def prepare(kind: str, model: ViewerModel, series: SeriesInfo | None) -> ExportRequest:
    """Check that ``kind`` ('gsps', 'sr', 'kos') can be exported from the shown series and take its snapshot
    (ReadingExportError says why not)."""
    if kind not in KINDS:
        raise ValueError(f"unknown export {kind!r}; expected one of {', '.join(KINDS)}")
    volume = model.volume
    if volume is None:
        raise ReadingExportError("no image is open")
    if series is None or series.series_uid != volume.ids.series_uid:
        raise ReadingExportError("needs the DICOM series on screen (this image did not come from the catalog)")
    store = model.measurements
    if kind in ("gsps", "sr") and not store.current:
        raise ReadingExportError("this series has no measurements")
    if kind == "kos" and not store.key_images:
        raise ReadingExportError("no key image is flagged in this series")
    return ExportRequest(kind, series, volume.geometry, [copy.deepcopy(m) for m in store.current],
                         list(store.key_images), model.window)


def write(request: ExportRequest, path: Path, progress: ProgressCallback | None = None,
          cancel: CancelToken | None = None) -> Written:
    """Read the series' headers (with progress; cancellable between them), build the document, write it
    atomically."""
    from engine.ai.dicom_common import ExportError, dataset_bytes
    from engine.analysis.headers import read_header

    count = len(request.series.instances)
    headers = []
    for index in range(count):
        if cancel is not None:
            cancel.raise_if_cancelled()
        report(progress, index, count, "reading headers")
        headers.append(read_header(request.series, index))
    report(progress, count, count, f"writing {LABELS[request.kind]}")
    skipped: list[str] = []
    try:
        if request.kind == "gsps":
            from engine.export.presentation_state import build_gsps

            built = build_gsps(request.measurements, headers, request.geometry, request.window)
            dataset, skipped = built.dataset, built.skipped
        elif request.kind == "sr":
            from engine.export.measurement_report import build_measurement_sr

            dataset = build_measurement_sr(request.measurements, headers, request.geometry)
        else:
            from engine.export.key_objects import build_kos

            dataset = build_kos(request.key_images, headers, request.geometry, "Key images flagged by the reader")
    except ExportError as error:
        raise ReadingExportError(str(error)) from error
    if cancel is not None:
        cancel.raise_if_cancelled()
    atomic_write_bytes(path, dataset_bytes(dataset))
    return Written(Path(path), skipped)


def export(kind: str, model: ViewerModel, series: SeriesInfo | None, path: Path) -> Written:
    """``prepare`` and ``write`` in one go (scripts, tests)."""
    return write(prepare(kind, model, series), path)


def default_name(kind: str, model: ViewerModel) -> str:
    """A file name for an export or screenshot: the kind, the series number/description, the time."""
    meta = model.volume.meta if model.volume is not None else {}
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    description = "".join(c if c.isalnum() else "_" for c in str(meta.get("description", "") or "series"))[:40]
    suffix = ".png" if kind == "screenshot" else ".dcm"
    return f"{kind}_{description}_{stamp}{suffix}"


def write_png(path: Path, rgb: np.ndarray) -> Path:
    """Write an (height, width, 3) uint8 RGB image as PNG, atomically."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"a screenshot is (height, width, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
    import matplotlib.image

    buffer = io.BytesIO()
    matplotlib.image.imsave(buffer, rgb, format="png")
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)
