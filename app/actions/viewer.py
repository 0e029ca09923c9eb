"""The viewer's command set: every menu item, toolbar button and shortcut calls one of these by id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.actions.registry import CommandRegistry
from app.viewer_model.model import ViewerModel
from app.viewer_model.volume_view_state import VolumeViewState

PRESET_COUNT = 7


@dataclass(frozen=True)
class WindowCommands:
    """The window's own operations that viewer commands bind: dialogs, quit, cancel, series, cine, 3D reset."""

    choose_folder: Callable[[], None]
    choose_archive: Callable[[], None]
    show_preferences: Callable[[], None]
    quit: Callable[[], object]
    cancel: Callable[[], None]
    step_series: Callable[[int], None]
    toggle_cine: Callable[[], None]
    reset_3d: Callable[[], None]
    delete_measurement: Callable[[], None]


Target = Callable[[], tuple[ViewerModel, str]]  # the model and plane the 2D keys act on


def register_viewer_commands(registry: CommandRegistry, model: ViewerModel, volume_state: VolumeViewState,
                             window: WindowCommands, target: Target | None = None) -> None:
    """Register the viewer's commands (context 'global', 'viewer' or '3d') on ``model``, the 3D view's
    ``volume_state`` and the ``window``'s operations. The slice, window, reset and tool commands act on
    ``target()``: the model and plane of the active viewport (default: ``model``'s active view; the window
    passes the comparison grid's active viewport while the comparison is shown)."""
    add = registry.register
    target = target or (lambda: (model, model.active_view))

    def on_view(action):  # tiny adapters binding the active viewport's model and plane
        def run():
            shown, view = target()
            return shown.volume is not None and action(shown, view)
        return run

    def when_loaded(action):
        return on_view(lambda shown, _view: action(shown))

    add("file.open_folder", "Open folder…", window.choose_folder, "global")
    add("file.open_archive", "Open zip / DICOMDIR…", window.choose_archive, "global")
    add("file.preferences", "Preferences…", window.show_preferences, "global")
    add("file.quit", "Quit", window.quit, "global")
    add("app.cancel", "Cancel", window.cancel, "global")
    for layout in ("1x1", "1x3", "2x2"):
        label = f"Layout {layout.replace('x', '×')}"
        add(f"layout.{layout}", label, lambda lay=layout: model.set_layout(lay), "global")
    add("view.toggle_patient_text", "Hide / show patient text", model.toggle_patient_text, "global")

    add("slice.previous", "Previous slice", on_view(lambda m, v: m.step_slice(v, -1)))
    add("slice.next", "Next slice", on_view(lambda m, v: m.step_slice(v, 1)))
    add("slice.first", "First slice", on_view(lambda m, v: m.first_slice(v)))
    add("slice.last", "Last slice", on_view(lambda m, v: m.last_slice(v)))
    add("series.previous", "Previous series", lambda: window.step_series(-1))
    add("series.next", "Next series", lambda: window.step_series(1))
    for number in range(1, PRESET_COUNT + 1):
        add(f"window.preset_{number}", f"Window preset {number}",
            when_loaded(lambda m, n=number: m.apply_preset(n)))
    add("window.invert", "Invert", when_loaded(lambda m: m.toggle_invert()))
    add("view.reset", "Reset view", when_loaded(lambda m: m.reset()))
    add("view.cine", "Cine on / off", window.toggle_cine)
    for tool, label in (("window_level", "Window / level"), ("ruler", "Ruler"), ("ellipse", "Ellipse ROI"),
                        ("rectangle", "Rectangle ROI"), ("probe", "Probe")):
        add(f"tool.{tool}", label, lambda t=tool: model.set_tool(t))
    add("measurement.delete", "Delete measurement", window.delete_measurement)

    add("volume.reset", "Reset 3D view", window.reset_3d, "3d")
    add("volume.next_preset", "Next 3D preset", lambda: volume_state.step_preset(1), "3d")
    add("volume.previous_preset", "Previous 3D preset", lambda: volume_state.step_preset(-1), "3d")
