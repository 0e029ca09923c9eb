"""Shortcut conflicts (Qt-free): a key bound to two commands that can be active at the same time.

Shortcuts are grouped by context. 'global' is active with every context; other contexts that are active at
once (e.g. 'editing' over the 'viewer') are listed as pairs under ``_active_together`` in shortcuts.json.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import combinations
from typing import Any

GLOBAL_CONTEXT = "global"
TOGETHER_KEY = "_active_together"
_MODIFIER_ORDER = {"ctrl": 0, "alt": 1, "shift": 2, "meta": 3}
_ALIASES = {"control": "ctrl", "escape": "esc", "delete": "del", "pagedown": "pgdown", "pgdn": "pgdown",
            "pageup": "pgup"}

Binding = tuple[str, str, str]  # (normal key, key as written, command)


def normal_key(key: str) -> str:
    """One spelling per key sequence: lower case, modifiers in a fixed order, common aliases folded
    ('Shift+Ctrl+Z' and 'ctrl+shift+z' are the same key)."""
    return ", ".join(_normal_chord(chord) for chord in re.split(r",\s+", key.strip().lower()))


def _normal_chord(chord: str) -> str:
    text = chord.replace(" ", "")
    if text.endswith("+"):  # the '+' key itself: '+' or 'ctrl++'
        modifiers, name = text[:-1].rstrip("+"), "+"
    else:
        modifiers, _, name = text.rpartition("+")
    names = {_ALIASES.get(m, m) for m in modifiers.split("+") if m}
    ordered = sorted(names, key=lambda m: (_MODIFIER_ORDER.get(m, len(_MODIFIER_ORDER)), m))
    return "+".join([*ordered, _ALIASES.get(name, name)])


def contexts(shortcuts: dict[str, Any]) -> list[str]:
    """The shortcut contexts (keys starting with '_' are documentation and data about contexts)."""
    return [name for name in shortcuts if not name.startswith("_")]


def overlapping_pairs(shortcuts: dict[str, Any], together: list[list[str]] | None = None) -> set[frozenset[str]]:
    """Pairs of distinct contexts active at once: 'global' with each other, plus ``together`` (default: the
    file's own ``_active_together``)."""
    pairs = {frozenset((GLOBAL_CONTEXT, name)) for name in contexts(shortcuts) if name != GLOBAL_CONTEXT}
    for group in shortcuts.get(TOGETHER_KEY, []) if together is None else together:
        pairs.update(frozenset(pair) for pair in combinations(group, 2) if pair[0] != pair[1])
    return pairs


def shortcut_conflicts(shortcuts: dict[str, Any], together: list[list[str]] | None = None) -> list[str]:
    """Every key bound twice in one context, or in two contexts active at once; each message names both
    commands and their contexts."""
    bound = {name: _bindings(shortcuts[name]) for name in contexts(shortcuts)}
    problems = []
    for name, bindings in bound.items():
        seen: dict[str, str] = {}
        for normal, key, command in bindings:
            if normal in seen:
                problems.append(f"{key!r} is bound to both {seen[normal]} and {command} in {name!r}")
            seen[normal] = command
    for first, second in sorted(tuple(sorted(pair)) for pair in overlapping_pairs(shortcuts, together)):
        others = {normal: command for normal, _, command in bound.get(second, [])}
        for normal, key, command in bound.get(first, []):
            if normal in others:
                problems.append(f"{key!r} is bound to both {command} ({first!r}) and {others[normal]} "
                                f"({second!r}), which are active at the same time")
    return problems


def mnemonic_conflicts(shortcuts: dict[str, Any], menu_titles: Iterable[str]) -> list[str]:
    """Every shortcut that is also a menu's Alt mnemonic ('&3D' makes Alt+3 open the menu, so a command bound
    to Alt+3 never runs); mnemonics are window-wide, so every context counts."""
    mnemonics = {f"alt+{match.group(1).lower()}": title for title in menu_titles
                 if (match := re.search(r"&([^&])", title))}
    return [f"{key!r} ({command}, {name!r}) is also the Alt mnemonic of the {mnemonics[normal]!r} menu"
            for name in contexts(shortcuts) for normal, key, command in _bindings(shortcuts[name])
            if normal in mnemonics]


def _bindings(commands: dict[str, list[str]]) -> list[Binding]:
    return [(normal_key(key), key, command) for command, keys in commands.items() for key in keys if key.strip()]
