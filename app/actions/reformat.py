"""Reformat commands: thick slab (MIP / MinIP / average, thickness in mm) and oblique MPR, on the active view;
and the magnifier glass. Their keys are data in resources/shortcuts.json, the menu is in app/actions/menus.py."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from app.actions.registry import CommandRegistry
from app.viewer_model.model import ViewerModel
from app.viewer_model.slab import MEAN, MINIP, MIP, OFF

ROTATE_STEP_DEGREES = 5.0


def register_reformat_commands(registry: CommandRegistry, model: ViewerModel,
                               toggle_magnifier: Callable[[], None]) -> None:
    """Register the slab, oblique and magnifier commands (context 'viewer': they act on the active view)."""
    add = registry.register

    def on_mpr_view(action: Callable[[str], object]) -> Callable[[], object]:
        def run() -> object:
            volume = model.volume
            if volume is None or volume.geometry.is_projection:
                return False
            return action(model.active_view)
        return run

    for mode, label in ((MIP, "Thick slab MIP"), (MINIP, "Thick slab MinIP"), (MEAN, "Thick slab average")):
        add(f"slab.{mode if mode != MEAN else 'mean'}", label,
            on_mpr_view(lambda view, m=mode: model.slabs.set_mode(view, m)))
    add("slab.off", "Thin slice (slab off)", on_mpr_view(lambda view: model.slabs.set_mode(view, OFF)))
    add("slab.thicker", "Thicker slab", on_mpr_view(lambda view: model.slabs.step_thickness(view, 1)))
    add("slab.thinner", "Thinner slab", on_mpr_view(lambda view: model.slabs.step_thickness(view, -1)))
    step = np.radians(ROTATE_STEP_DEGREES)
    add("oblique.rotate_cw", f"Turn crosshair {ROTATE_STEP_DEGREES:g}° clockwise",
        on_mpr_view(lambda view: model.rotate_view(view, step)))
    add("oblique.rotate_ccw", f"Turn crosshair {ROTATE_STEP_DEGREES:g}° anticlockwise",
        on_mpr_view(lambda view: model.rotate_view(view, -step)))
    add("oblique.reset", "Standard planes (undo oblique)",
        on_mpr_view(lambda _view: model.oblique.reset(model.volume.geometry)))
    add("view.magnifier", "Magnifier (hold)", toggle_magnifier)
