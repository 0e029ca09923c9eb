"""BENCH first_slice: seconds from picking a 400-slice 512x512 CT series in the main window to its first
slice drawn in the axial view (target <= 0.3 s); baseline = seconds from the same pick to the whole series
loaded (the loader's ``finished`` signal), measured in the same run through the same path.

The path is the application's: ``MainWindow.open_series`` (catalog lookup, loading worker thread, the
loader's ``on_slice`` callback announcing the first slice, ``ViewerModel.set_volume``) and the view's
own ``paintEvent``. The series comes from ``bench_load_ct`` (generated once under ``.bench/``), already
imported into a fresh catalog; files are read once before timing (warm page cache), 1x3 layout at 1600x1000.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench_load_ct import ensure_series, warm  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.settings.preferences import DictStore, Preferences  # noqa: E402
from app.widgets.main_window import MainWindow  # noqa: E402
from app.widgets.slice_view import SliceView  # noqa: E402
from engine.catalog import Catalog, SeriesKey  # noqa: E402
from engine.dicom.scanner import scan  # noqa: E402

REPEATS = 3
TIMEOUT_S = 120.0


class PaintClock:
    """Records when the axial view first finishes painting a slice that holds loaded pixels (not the
    zeros of a slice still to come); wraps SliceView.paintEvent, so it must exist before the views do."""

    def __init__(self) -> None:
        self.first_image_at: float | None = None
        original = SliceView.paintEvent

        def timed_paint(view: SliceView, event) -> None:
            original(view, event)
            model = view.model
            if self.first_image_at is None and view.view == "axial" and view.plane is not None \
                    and model.volume is not None and model.volume.array[model.slice_index("axial")[0]].any():
                self.first_image_at = time.perf_counter()

        SliceView.paintEvent = timed_paint


def pick(app: QApplication, window: MainWindow, key: SeriesKey, clock: PaintClock) -> tuple[float, float]:
    """(seconds to the first painted slice, seconds to the loaded series) for one pick of ``key``."""
    window.model.volume = None
    for view in window.grid.views.values():
        if isinstance(view, SliceView):
            view.plane = None
    loaded: list[float] = []
    window.loader.finished.connect(lambda _job, _volume: loaded.append(time.perf_counter()))
    clock.first_image_at = None
    start = time.perf_counter()
    window.open_series(key)
    while (clock.first_image_at is None or not loaded) and time.perf_counter() - start < TIMEOUT_S:
        app.processEvents()
    window.loader.finished.disconnect()
    window.loader.finished.connect(window._finished)
    if clock.first_image_at is None or not loaded:
        raise SystemExit(f"the series did not show / load within {TIMEOUT_S:.0f} s: {window.last_error}")
    window.loader.wait()
    app.processEvents()
    return clock.first_image_at - start, loaded[0] - start


def main() -> None:
    folder = REPO / ".bench" / "ct400"
    files = ensure_series(folder)
    warm(files)
    app = QApplication.instance() or QApplication([])
    catalog = Catalog(Path(tempfile.mkdtemp(prefix="sightline_bench_")) / "catalog.sqlite")
    result = scan(folder)
    catalog.import_scan(result)
    key = SeriesKey(result.series[0].series_uid, result.series[0].stack_index)
    clock = PaintClock()  # before the window makes its views
    window = MainWindow(Preferences(DictStore()), catalog)
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    runs = [pick(app, window, key, clock) for _ in range(REPEATS)]
    first = statistics.median(run[0] for run in runs)
    whole = statistics.median(run[1] for run in runs)
    print(f"BENCH first_slice ours={first:.4f} baseline={whole:.4f} ratio={first / whole:.3f} "
          f"target_s=0.3 repeats={REPEATS} series=512x512x400 layout=1x3 window=1600x1000")
    window.close()
    catalog.close()


if __name__ == "__main__":
    main()
