"""User settings: preferences (presets, mouse maps, shortcuts), their QSettings store, receiver settings."""
