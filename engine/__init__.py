"""Sightline engine: the Qt-free, torch-free core (data model, DICOM/NIfTI I/O, catalog, de-identification)."""
