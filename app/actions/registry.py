"""One registry of commands (id -> callable, label, context) that menus, toolbar and shortcuts all use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """A user action; ``context`` groups its shortcuts ('global', 'viewer', '3d')."""

    id: str
    label: str
    callback: Callable[[], object]
    context: str = "viewer"


class CommandRegistry:
    """Commands by id, in registration order."""

    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}

    def register(self, command_id: str, label: str, callback: Callable[[], object],
                 context: str = "viewer") -> None:
        if command_id in self._commands:
            raise ValueError(f"command {command_id!r} is registered twice")
        self._commands[command_id] = Command(command_id, label, callback, context)

    def run(self, command_id: str) -> object:
        """Run a command by id (KeyError names unknown ids)."""
        if command_id not in self._commands:
            raise KeyError(f"unknown command {command_id!r}")
        return self._commands[command_id].callback()

    def get(self, command_id: str) -> Command:
        return self._commands[command_id]

    def __iter__(self) -> Iterator[Command]:
        return iter(self._commands.values())

    def __contains__(self, command_id: object) -> bool:
        return command_id in self._commands


def keys_for(shortcuts: dict[str, dict[str, list[str]]], command: Command) -> list[str]:
    """The keys bound to ``command`` in its context."""
    return list(shortcuts.get(command.context, {}).get(command.id, []))
