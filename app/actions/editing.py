"""Label editing, worklist and receiver commands: menus, the Editing dock, the worklist and keys call these by
id. Editing keys live in the 'editing' shortcut context (active in the 2D views and the Editing dock)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from app.actions.registry import CommandRegistry
from app.viewer_model.editing import TOOLS, Editor
from app.viewer_model.model import ViewerModel

TOOL_LABELS = {"brush": "Brush", "eraser": "Eraser", "threshold": "Threshold brush", "fill": "Fill",
               "pick": "Pick label"}


class Editing(Protocol):
    """The window's label editing as its commands use it (history, tools, session-bound actions, accept)."""

    editor: Editor

    def undo(self) -> None:
        """Undo the last edit of the session."""

    def redo(self) -> None:
        """Redo the last undone edit."""

    def use_tool(self, tool: str) -> None:
        """Pick up an editing tool, starting a session if needed."""

    def run(self, action: Callable[[], object]) -> None:
        """Run ``action`` once a session exists."""

    def accept(self) -> object:
        """Accept the correction being edited."""


class StudyQueue(Protocol):
    """The annotators' worklist as its commands use it."""

    def next(self) -> object:
        """Open the next study."""

    def previous(self) -> object:
        """Open the previous study."""

    def resume(self) -> object:
        """Open the study left off last."""


def register_editing_commands(registry: CommandRegistry, model: ViewerModel, editing: Editing,
                              worklist: StudyQueue, toggle_receiver: Callable[[], None]) -> None:
    """Register the editing commands on ``editing`` (fill between slices in ``model``'s active view), the
    worklist's and the DICOM receiver's ``toggle_receiver``."""
    add = registry.register
    editor = editing.editor

    add("edit.undo", "Undo", editing.undo, "editing")
    add("edit.redo", "Redo", editing.redo, "editing")
    for tool in TOOLS:
        add(f"edit.{tool}", TOOL_LABELS[tool], lambda t=tool: editing.use_tool(t), "editing")
    add("edit.brush_bigger", "Bigger brush", editor.grow, "editing")
    add("edit.brush_smaller", "Smaller brush", editor.shrink, "editing")
    add("edit.new_label", "New label", lambda: editing.run(editor.new_label), "editing")
    add("edit.fill_between", "Fill between slices",
        lambda: editing.run(lambda: editor.fill_between_slices(model.active_view)), "editing")
    add("edit.remove_islands", "Remove small islands", lambda: editing.run(editor.remove_small_islands), "editing")
    add("edit.accept", "Accept correction", editing.accept, "global")
    add("worklist.next", "Next study in worklist", worklist.next, "global")
    add("worklist.previous", "Previous study in worklist", worklist.previous, "global")
    add("worklist.resume", "Resume where I left off", worklist.resume, "global")
    add("file.receive", "Receive DICOM (storage SCP)", toggle_receiver, "global")
