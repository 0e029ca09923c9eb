"""Qt widgets: views, docks, dialogs and the main window. They bind to the viewer model and the command
registry; the logic they call lives in app.viewer_model and engine."""
