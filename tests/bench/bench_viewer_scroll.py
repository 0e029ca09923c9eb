"""BENCH scroll: renders/s scrolling a 512x512x400 CT in a 512x512 axial view with a label map and a heatmap
visible; ratio = time per render with overlays / without (same run, same view)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.preferences import DictStore, Preferences  # noqa: E402
from app.render.scene import Scene  # noqa: E402
from app.viewer_model.layers import HeatmapLayer, LabelLayer  # noqa: E402
from app.viewer_model.model import ViewerModel  # noqa: E402
from app.widgets.slice_view import SliceView  # noqa: E402
from engine.geometry import Geometry  # noqa: E402
from engine.volume import Heatmap, Label, LabelMap, Volume  # noqa: E402

SHAPE = (400, 512, 512)
RENDERS = 200


def scroll(view: SliceView, model: ViewerModel) -> float:
    """Seconds per render while stepping through slices: reslice, window, overlay blending, QImage.

    The QPainter text pass is left out: PySide6 6.12.0 on Python 3.11 drops a reference to None in every
    void method call, so thousands of painted frames abort the interpreter (see the viewer report)."""
    model.first_slice("axial")
    view.render_rgb()
    start = time.perf_counter()
    for _ in range(RENDERS):
        model.step_slice("axial", 1)
        rgb = view.render_rgb()
        QImage(rgb.data, rgb.shape[1], rgb.shape[0], 3 * rgb.shape[1], QImage.Format_RGB888)
    return (time.perf_counter() - start) / RENDERS


def main() -> None:
    app = QApplication.instance() or QApplication([])
    rng = np.random.default_rng(0)
    geometry = Geometry(SHAPE, (0.7, 0.7, 1.0))
    array = rng.normal(40, 20, SHAPE).astype(np.int16)
    labels = np.zeros(SHAPE, np.uint8)
    labels[:, 200:300, 200:300] = 1
    heat = np.zeros(SHAPE, np.float32)
    heat[:, 150:350, 150:350] = 0.8
    model = ViewerModel({})
    model.set_volume(Volume(array, geometry, "CT"))
    scene = Scene(model)
    view = SliceView(model, scene, "axial", Preferences(DictStore()).get("mouse_map"))
    view.resize(512, 512)
    view.show()
    app.processEvents()
    bare = scroll(view, model)
    model.add_layer(LabelLayer(LabelMap(labels, geometry, [Label(1, "lesion")])))
    model.add_layer(HeatmapLayer(Heatmap(heat, geometry)))
    ours = scroll(view, model)
    print(f"BENCH scroll ours={ours:.5f} baseline={bare:.5f} ratio={ours / bare:.2f} fps={1 / ours:.0f} "
          f"fps_without_overlays={1 / bare:.0f} view=512x512 volume=512x512x400")


if __name__ == "__main__":
    main()
