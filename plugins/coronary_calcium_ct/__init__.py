"""Coronary artery calcium scoring on non-contrast cardiac CT (research use, not for clinical use)."""
