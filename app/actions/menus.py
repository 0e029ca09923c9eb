"""The menu bar as data: each menu's title (its '&' letter is the Alt mnemonic) and the command ids it lists
(None is a separator). Shortcut checks read the titles, since a mnemonic is a window-wide Alt key."""

from __future__ import annotations

TOOLS = ("tool.window_level", "tool.ruler", "tool.angle", "tool.cobb", "tool.ellipse", "tool.rectangle",
         "tool.probe", "tool.arrow")

MENUS: dict[str, list[str | None]] = {
    "&File": ["file.open_folder", "file.open_archive", "file.receive", "file.query_retrieve", None,
              "file.preferences", None, "file.quit"],
    "&Edit": ["edit.undo", "edit.redo", None, "edit.brush", "edit.eraser", "edit.threshold", "edit.fill",
              "edit.pick", "edit.brush_smaller", "edit.brush_bigger", None, "edit.new_label",
              "edit.fill_between", "edit.remove_islands", None, "edit.accept", None, "worklist.previous",
              "worklist.next", "worklist.resume"],
    "&View": ["layout.1x1", "layout.1x3", "layout.2x2", None, "view.reset", "view.cine",
              "view.toggle_patient_text", None, "slice.previous", "slice.next", "slice.first",
              "slice.last", "series.previous", "series.next"],
    "&Window": [f"window.preset_{n}" for n in range(1, 8)] + [None, "window.invert"],
    "&Tools": [*TOOLS, None, "measurement.delete", "key_image.toggle", None, "measurement.export_gsps",
               "measurement.export_sr", "key_image.export_kos", None, "view.screenshot",
               "view.screenshot_anonymous", None, "app.cancel"],
    "3D &rendering": ["volume.reset", "volume.next_preset", "volume.previous_preset"],
    "Ref&ormat": ["slab.mip", "slab.minip", "slab.mean", "slab.off", None, "slab.thicker", "slab.thinner", None,
                  "oblique.rotate_ccw", "oblique.rotate_cw", "oblique.reset", None, "view.magnifier"],
    "&Compare": ["compare.prior", "compare.protocol", "compare.choose_protocol", "compare.save_protocol", None,
                 "compare.layout_1x2", "compare.layout_2x1", "compare.layout_2x2", "compare.layout_1x3", None,
                 "compare.link_scroll", "compare.link_zoom_pan", "compare.link_window", "compare.link_here",
                 "compare.offset", None, "compare.close"],
}
DOCKS_MENU = "&Docks"
HELP_MENU = "&Help"
MENU_TITLES = (*MENUS, DOCKS_MENU, HELP_MENU)
