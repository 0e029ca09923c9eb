"""BENCH mip_scroll: full renders/s scrolling a 20 mm MIP slab through a 512x512x400 CT (1 mm slices: 20
slices per slab) in a 512x512 axial view (1x3 layout, so the crosshair is drawn); the baseline is the plain
slice scroll of the same view in the same run; ratio = time per MIP render / time per plain render.

A render is the widget's real paint path (see bench_viewer_scroll.py): one slice step, then the event loop
delivers the view's update and ``paintEvent`` projects the slab (a numpy max over its 20 slices), resamples it
on the screen, windows it and draws every annotation. Each step moves the slab, so no projection is reused.
Also printed: the coronal view's MIP (the slab along the rows: 29 rows of 0.7 mm) and an oblique MIP (the
coronal plane turned 20 degrees): ours (single resliced planes, a scroll step reslices the one that entered the
slab) and before (VTK's slab mode resampling the whole slab per render), alternated in the same run."""

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
from app.render.slice_renderer import SliceRenderer  # noqa: E402
from app.settings.preferences import DictStore, Preferences  # noqa: E402
from app.viewer_model.model import ViewerModel  # noqa: E402
from app.viewer_model.slab import MIP, Slab  # noqa: E402
from app.widgets.slice_view import SliceView  # noqa: E402
from engine.geometry import Geometry  # noqa: E402
from engine.volume import Volume  # noqa: E402

SHAPE = (400, 512, 512)
SLAB_MM = 20.0
RENDERS = 200
ROUNDS = 3  # alternate plain / MIP rounds and keep each one's best, so load spikes hit both alike


class CountingView(SliceView):
    paints = 0

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().paintEvent(event)
        self.paints += 1


def scroll(app: QApplication, view: CountingView, model: ViewerModel, renders: int = RENDERS) -> float:
    """Seconds per painted frame while stepping through the slices with the event loop running."""
    model.set_slice(view.view, 40)
    app.processEvents()
    painted = view.paints
    start = time.perf_counter()
    for step in range(renders):
        model.step_slice(view.view, 1 if (step // 100) % 2 == 0 else -1)
        app.processEvents()
    elapsed = time.perf_counter() - start
    if view.paints - painted != renders:
        raise RuntimeError(f"{view.paints - painted} paints for {renders} slice steps")
    return elapsed / renders


def main() -> None:
    app = QApplication.instance() or QApplication([])
    rng = np.random.default_rng(0)
    geometry = Geometry(SHAPE, (0.7, 0.7, 1.0))
    array = rng.normal(40, 20, SHAPE).astype(np.int16)
    model = ViewerModel({})
    model.set_volume(Volume(array, geometry, "CT"))
    scene = Scene(model)
    mouse_map = Preferences(DictStore()).get("mouse_map")
    views = {}
    for name in ("axial", "coronal"):
        views[name] = CountingView(model, scene, name, mouse_map)
        views[name].resize(512, 512)
        views[name].show()
    app.processEvents()
    plain, mip = [], []
    axial = views["axial"]
    for _ in range(ROUNDS):
        model.slabs.set("axial", Slab())
        plain.append(scroll(app, axial, model))
        model.slabs.set("axial", Slab(MIP, SLAB_MM))
        mip.append(scroll(app, axial, model))
    views["axial"].hide()  # the coronal and oblique runs paint one view only
    model.slabs.set("coronal", Slab(MIP, SLAB_MM))
    coronal = min(scroll(app, views["coronal"], model) for _ in range(ROUNDS))
    model.rotate_view("axial", np.radians(20))  # the coronal plane turns: VTK slab mode
    oblique, oblique_before = [], []
    for _ in range(ROUNDS):
        SliceRenderer.incremental_oblique_slab = True
        oblique.append(scroll(app, views["coronal"], model, 40))
        SliceRenderer.incremental_oblique_slab = False
        oblique_before.append(scroll(app, views["coronal"], model, 40))
    SliceRenderer.incremental_oblique_slab = True
    oblique_s, oblique_before_s = min(oblique), min(oblique_before)
    plain_s, mip_s = min(plain), min(mip)
    print(f"BENCH mip_scroll ours={mip_s:.5f} baseline={plain_s:.5f} ratio={mip_s / plain_s:.2f} "
          f"fps={1 / mip_s:.0f} fps_plain={1 / plain_s:.0f} fps_coronal_mip={1 / coronal:.0f} "
          f"fps_oblique_mip={1 / oblique_s:.0f} fps_oblique_mip_before={1 / oblique_before_s:.1f} "
          f"oblique_speedup={oblique_before_s / oblique_s:.1f} slab_mm={SLAB_MM:g} view=512x512 volume=512x512x400 "
          f"renders={RENDERS}x{ROUNDS}")


if __name__ == "__main__":
    main()
