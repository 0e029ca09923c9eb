"""Sightline application layer: the `sightline` CLI and (later) the PySide6 + VTK workstation."""
