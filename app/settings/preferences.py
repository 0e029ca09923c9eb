"""User preferences: the JSON defaults in resources/ plus the user's overrides kept in a key-value store.

The store is anything with ``value(key)``, ``setValue(key, value)`` and ``remove(key)`` — QSettings in the
app, a dict wrapper in tests — so this module needs no Qt.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Protocol

from app.actions.shortcut_conflicts import TOGETHER_KEY, shortcut_conflicts
from app.viewer_model.events import Event
from engine.resources import resource_root

RESOURCES = resource_root() / "resources"
SECTIONS = {"shortcuts": "shortcuts.json", "mouse_map": "mouse_map.json",
            "window_presets": "window_presets.json", "volume_presets": "volume_presets.json",
            "appearance": "appearance.json"}


class Store(Protocol):
    def value(self, key: str) -> Any: ...
    def setValue(self, key: str, value: Any) -> None: ...  # noqa: N802 (the QSettings name)
    def remove(self, key: str) -> None: ...


class DictStore:
    """An in-memory Store (tests, headless use)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def value(self, key: str) -> Any:
        return self.data.get(key)

    def setValue(self, key: str, value: Any) -> None:  # noqa: N802
        self.data[key] = value

    def remove(self, key: str) -> None:
        self.data.pop(key, None)


def load_default(section: str) -> dict[str, Any]:
    """The shipped default of a section, read from resources/."""
    if section not in SECTIONS:
        raise KeyError(f"unknown preference section {section!r}; expected one of {', '.join(SECTIONS)}")
    path = RESOURCES / SECTIONS[section]
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: cannot read the default {section}: {error}") from error


class Preferences:
    """Effective preferences = defaults, replaced section by section by the user's saved override."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._defaults = {section: load_default(section) for section in SECTIONS}
        self.changed = Event()  # (section)

    def get(self, section: str) -> dict[str, Any]:
        saved = self.store.value(f"overrides/{section}")
        if saved:
            try:
                return json.loads(saved)
            except (TypeError, json.JSONDecodeError):
                self.store.remove(f"overrides/{section}")  # a damaged override falls back to the default
        return copy.deepcopy(self._defaults[section])

    def default(self, section: str) -> dict[str, Any]:
        return copy.deepcopy(self._defaults[section])

    def set(self, section: str, value: dict[str, Any]) -> None:
        if section == "shortcuts":
            problems = self.shortcut_conflicts(value)
            if problems:
                raise ValueError("shortcut conflicts: " + "; ".join(problems))
        if value == self._defaults[section]:
            self.store.remove(f"overrides/{section}")
        else:
            self.store.setValue(f"overrides/{section}", json.dumps(value))
        self.changed.emit(section)

    def shortcut_conflicts(self, shortcuts: dict[str, Any]) -> list[str]:
        """Conflicts of ``shortcuts``; which contexts are active together is the app's (the shipped file's),
        not something a saved override can change."""
        return shortcut_conflicts(shortcuts, self._defaults["shortcuts"].get(TOGETHER_KEY, []))

    def restore_defaults(self, section: str | None = None) -> None:
        for name in [section] if section else list(SECTIONS):
            self.store.remove(f"overrides/{name}")
            self.changed.emit(name)
