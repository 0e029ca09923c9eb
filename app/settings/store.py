"""Where preferences persist: QSettings (INI format, organisation and application 'Sightline')."""

from __future__ import annotations

from PySide6.QtCore import QSettings

ORGANIZATION = APPLICATION = "Sightline"


def qsettings() -> QSettings:
    """The user's settings; tests redirect them with QSettings.setPath(IniFormat, UserScope, folder)."""
    return QSettings(QSettings.IniFormat, QSettings.UserScope, ORGANIZATION, APPLICATION)
