"""BENCH scroll: full renders/s scrolling a 512x512x400 CT in a 512x512 axial view (1x3 layout, so the
crosshair is drawn) with a label map and a heatmap visible; ratio = time per render with overlays / without
(same run, same view).

A render is the widget's real paint path: one slice step, then the event loop delivers the view's update
and ``paintEvent`` reslices, windows, blends the overlays, draws the image and every annotation (corner
text, orientation letters, scale bar, crosshair, colour bar)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

from app.render.scene import Scene  # noqa: E402
from app.settings.preferences import DictStore, Preferences  # noqa: E402
from app.viewer_model.layers import HeatmapLayer, LabelLayer  # noqa: E402
from app.viewer_model.model import ViewerModel  # noqa: E402
from app.widgets.slice_view import SliceView  # noqa: E402
from engine.geometry import Geometry  # noqa: E402
from engine.volume import Heatmap, Label, LabelMap, Volume  # noqa: E402

SHAPE = (400, 512, 512)
RENDERS = 300
ROUNDS = 3  # alternate bare / overlays rounds and keep each one's best, so load spikes hit both alike


class CountingView(SliceView):
    """A SliceView that counts its paints (to check that every step painted exactly once)."""

    paints = 0

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().paintEvent(event)
        self.paints += 1


def scroll(app: QApplication, view: CountingView, model: ViewerModel) -> float:
    """Seconds per painted frame while stepping through the slices with the event loop running."""
    model.first_slice("axial")
    app.processEvents()
    painted = view.paints
    start = time.perf_counter()
    for step in range(RENDERS):
        model.step_slice("axial", 1 if (step // 100) % 2 == 0 else -1)
        app.processEvents()
    elapsed = time.perf_counter() - start
    if view.paints - painted != RENDERS:
        raise RuntimeError(f"{view.paints - painted} paints for {RENDERS} slice steps")
    return elapsed / RENDERS


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
    view = CountingView(model, scene, "axial", Preferences(DictStore()).get("mouse_map"))
    view.resize(512, 512)
    view.show()
    app.processEvents()
    overlays = [LabelLayer(LabelMap(labels, geometry, [Label(1, "lesion")])), HeatmapLayer(Heatmap(heat, geometry))]
    bare, ours = [], []
    for _ in range(ROUNDS):
        for layer in overlays:
            layer.visible = False
        bare.append(scroll(app, view, model))
        if len(model.layers) == 1:
            for layer in overlays:
                model.add_layer(layer)
        for layer in overlays:
            layer.visible = True
        ours.append(scroll(app, view, model))
    bare_s, ours_s = min(bare), min(ours)
    print(f"BENCH scroll ours={ours_s:.5f} baseline={bare_s:.5f} ratio={ours_s / bare_s:.2f} fps={1 / ours_s:.0f} "
          f"fps_without_overlays={1 / bare_s:.0f} view=512x512 volume=512x512x400 renders={RENDERS}x{ROUNDS}")


if __name__ == "__main__":
    main()
