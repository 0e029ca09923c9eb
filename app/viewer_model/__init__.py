"""The Qt-free viewer model (napari style): layers, views, crosshair, window/level, with plain callbacks.

Rendering adapters (app.render) and Qt widgets (app.widgets) listen to it; tests drive it without a window.
"""
