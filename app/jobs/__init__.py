"""Background work of the window: loading series, thumbnails, AI runs and synthesis off the GUI thread."""
