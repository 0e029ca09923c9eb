"""Label editing, worklist and receiver commands: menus, the Editing dock, the worklist and keys call these by
id. Editing keys live in the 'editing' shortcut context (active in the 2D views and the Editing dock)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.actions.registry import CommandRegistry
from app.viewer_model.editing import TOOLS

if TYPE_CHECKING:
    from app.widgets.main_window import MainWindow

TOOL_LABELS = {"brush": "Brush", "eraser": "Eraser", "threshold": "Threshold brush", "fill": "Fill",
               "pick": "Pick label"}


def register_editing_commands(registry: CommandRegistry, window: MainWindow) -> None:
    """Register the commands; callbacks look the window's parts up when run (they are built later)."""
    add = registry.register

    def editor():  # noqa: ANN202
        return window.editing.editor

    def active_view() -> str:
        return window.model.active_view

    add("edit.undo", "Undo", lambda: window.editing.undo(), "editing")
    add("edit.redo", "Redo", lambda: window.editing.redo(), "editing")
    for tool in TOOLS:
        add(f"edit.{tool}", TOOL_LABELS[tool], lambda t=tool: window.editing.use_tool(t), "editing")
    add("edit.brush_bigger", "Bigger brush", lambda: editor().grow(), "editing")
    add("edit.brush_smaller", "Smaller brush", lambda: editor().shrink(), "editing")
    add("edit.new_label", "New label", lambda: window.editing.run(editor().new_label), "editing")
    add("edit.fill_between", "Fill between slices",
        lambda: window.editing.run(lambda: editor().fill_between_slices(active_view())), "editing")
    add("edit.remove_islands", "Remove small islands",
        lambda: window.editing.run(editor().remove_small_islands), "editing")
    add("edit.accept", "Accept correction", lambda: window.editing.accept(), "global")
    add("worklist.next", "Next study in worklist", lambda: window.worklist.next(), "global")
    add("worklist.previous", "Previous study in worklist", lambda: window.worklist.previous(), "global")
    add("worklist.resume", "Resume where I left off", lambda: window.worklist.resume(), "global")
    add("file.receive", "Receive DICOM (storage SCP)", lambda: window.receiver.toggle(), "global")
