"""The reader's own work as commands: the angle, Cobb and arrow tools, key images, the DICOM exports of
measurements and key images, screenshots of the active view."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.actions.registry import CommandRegistry
from app.viewer_model.model import ViewerModel

READING_TOOLS = (("angle", "Angle"), ("cobb", "Cobb angle"), ("arrow", "Arrow with text"))


@dataclass(frozen=True)
class ReadingCommands:
    """The window's operations these commands bind (they ask for a file name and report in the status bar)."""

    toggle_key_image: Callable[[], None]
    export: Callable[[str], None]  # 'gsps' | 'sr' | 'kos'
    screenshot: Callable[[bool], None]  # with the patient text or without


def register_reading_commands(registry: CommandRegistry, model: ViewerModel, window: ReadingCommands) -> None:
    add = registry.register
    for tool, label in READING_TOOLS:
        add(f"tool.{tool}", label, lambda t=tool: model.set_tool(t))
    add("key_image.toggle", "Flag / unflag key image", lambda: model.volume is not None and window.toggle_key_image())
    add("measurement.export_gsps", "Export measurements as presentation state (GSPS)…",
        lambda: window.export("gsps"), "global")
    add("measurement.export_sr", "Export measurements as SR report…", lambda: window.export("sr"), "global")
    add("key_image.export_kos", "Export key images (KOS)…", lambda: window.export("kos"), "global")
    add("view.screenshot", "Save screenshot", lambda: window.screenshot(True), "global")
    add("view.screenshot_anonymous", "Save screenshot without patient text", lambda: window.screenshot(False),
        "global")
