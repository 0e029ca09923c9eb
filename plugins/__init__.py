"""Sightline AI plugins: one sub-package per clinical workflow (manifest.toml + Qt-free logic + models)."""
