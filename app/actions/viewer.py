"""The viewer's command set: every menu item, toolbar button and shortcut calls one of these by id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.actions.editing import register_editing_commands
from app.actions.registry import CommandRegistry

if TYPE_CHECKING:
    from app.widgets.main_window import MainWindow

PRESET_COUNT = 7


def register_viewer_commands(registry: CommandRegistry, window: MainWindow) -> None:
    """Register the commands of the main window's viewer (context 'global', 'viewer' or '3d')."""
    model = window.model
    add = registry.register

    def on_view(action):  # tiny adapters binding the active view
        return lambda: window.has_volume() and action(model.active_view)

    def when_loaded(action):
        return lambda: window.has_volume() and action()

    add("file.open_folder", "Open folder…", window.choose_folder, "global")
    add("file.open_archive", "Open zip / DICOMDIR…", window.choose_archive, "global")
    add("file.preferences", "Preferences…", window.show_preferences, "global")
    add("file.quit", "Quit", window.close, "global")
    add("app.cancel", "Cancel", window.cancel, "global")
    for layout in ("1x1", "1x3", "2x2"):
        label = f"Layout {layout.replace('x', '×')}"
        add(f"layout.{layout}", label, lambda lay=layout: model.set_layout(lay), "global")
    add("view.toggle_patient_text", "Hide / show patient text", model.toggle_patient_text, "global")

    add("slice.previous", "Previous slice", on_view(lambda v: model.step_slice(v, -1)))
    add("slice.next", "Next slice", on_view(lambda v: model.step_slice(v, 1)))
    add("slice.first", "First slice", on_view(model.first_slice))
    add("slice.last", "Last slice", on_view(model.last_slice))
    add("series.previous", "Previous series", lambda: window.step_series(-1))
    add("series.next", "Next series", lambda: window.step_series(1))
    for number in range(1, PRESET_COUNT + 1):
        add(f"window.preset_{number}", f"Window preset {number}",
            when_loaded(lambda n=number: model.apply_preset(n)))
    add("window.invert", "Invert", when_loaded(model.toggle_invert))
    add("view.reset", "Reset view", when_loaded(model.reset))
    add("view.cine", "Cine on / off", window.toggle_cine)
    for tool, label in (("window_level", "Window / level"), ("ruler", "Ruler"), ("ellipse", "Ellipse ROI"),
                        ("rectangle", "Rectangle ROI"), ("probe", "Probe")):
        add(f"tool.{tool}", label, lambda t=tool: model.set_tool(t))
    add("measurement.delete", "Delete measurement", window.measurements_dock.delete_selected)

    add("volume.reset", "Reset 3D view", window.reset_3d, "3d")
    add("volume.next_preset", "Next 3D preset", lambda: window.volume_state.step_preset(1), "3d")
    add("volume.previous_preset", "Previous 3D preset", lambda: window.volume_state.step_preset(-1), "3d")
    register_editing_commands(registry, window)
