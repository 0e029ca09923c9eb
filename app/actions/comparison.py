"""The comparison-reading and PACS commands: compare with prior, hanging protocols, comparison layouts,
links and the link offset, and File > Query / retrieve.

A comparison viewport has no keys of its own: it carries the registry's actions of VIEWPORT_COMMANDS (slices,
window presets, invert, reset, the measurement tools, undo / redo of measurement edits; the window points them
at the active viewport while the comparison is shown) and those of context 'comparison' (link here, next
plane). Their keys are data in resources/shortcuts.json, where 'comparison' is listed as active together with
'viewer' and 'editing' so that the shortcut check refuses a key bound in both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from app.actions.registry import CommandRegistry
from app.actions.viewer import PRESET_COUNT

COMPARISON_CONTEXT = "comparison"
VIEWPORT_COMMANDS = ("slice.previous", "slice.next", "slice.first", "slice.last",
                     *(f"window.preset_{n}" for n in range(1, PRESET_COUNT + 1)), "window.invert", "view.reset",
                     "tool.window_level", "tool.ruler", "tool.ellipse", "tool.rectangle", "tool.probe", "tool.angle",
                     "tool.cobb", "tool.arrow", "measurement.delete", "edit.undo", "edit.redo")
COMPARISON_LAYOUTS = ("1x2", "2x1", "2x2", "1x3")
LINKS = (("scroll", "Link scrolling on / off"), ("zoom_pan", "Link zoom / pan on / off"),
         ("window", "Link window / level on / off"))


class Comparison(Protocol):
    """What the commands call (app.widgets.comparison_controller.ComparisonController)."""

    def compare_with_prior(self) -> bool: ...
    def apply_protocol(self, protocol_id: str | None = None) -> bool: ...
    def choose_protocol(self) -> bool: ...
    def save_arrangement(self, name: str | None = None) -> str: ...
    def set_layout(self, layout: str) -> None: ...
    def toggle_link(self, name: str) -> None: ...
    def link_here(self, index: int | None = None) -> None: ...
    def next_orientation(self, index: int | None = None) -> str: ...
    def edit_offset(self) -> None: ...
    def close_comparison(self) -> None: ...


def register_comparison_commands(registry: CommandRegistry, comparison: Comparison,
                                 query_retrieve: Callable[[], object]) -> None:
    add = registry.register
    add("file.query_retrieve", "Query / retrieve…", query_retrieve, "global")
    add("compare.prior", "Compare with prior", comparison.compare_with_prior, "viewer")
    add("compare.protocol", "Apply hanging protocol", lambda: comparison.apply_protocol(), "viewer")
    add("compare.choose_protocol", "Choose hanging protocol…", comparison.choose_protocol, "global")
    add("compare.save_protocol", "Save arrangement as protocol…", lambda: comparison.save_arrangement(), "global")
    for layout in COMPARISON_LAYOUTS:
        add(f"compare.layout_{layout}", f"Comparison {layout.replace('x', '×')}",
            lambda lay=layout: comparison.set_layout(lay), "global")
    for name, label in LINKS:
        add(f"compare.link_{name}", label, lambda n=name: comparison.toggle_link(n), "global")
    add("compare.link_here", "Link views at this anatomy", lambda: comparison.link_here(), COMPARISON_CONTEXT)
    add("compare.next_orientation", "Next plane of this viewport (axial, coronal, sagittal)",
        lambda: comparison.next_orientation(), COMPARISON_CONTEXT)
    add("compare.offset", "Set link offset…", comparison.edit_offset, "global")
    add("compare.close", "Close comparison", comparison.close_comparison, "global")
