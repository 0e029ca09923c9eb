"""Build typed dataclasses from parsed TOML tables, with errors that name the offending field path.

The dataclass definitions *are* the schema: field types (str, int, float, bool, Literal, lists, tuples,
dicts, nested dataclasses, ``X | None``) are checked here; value rules live in each dataclass's
``__post_init__`` and raise :class:`FieldError`, which gets the full dotted path prefixed.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args, get_origin, get_type_hints

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


class FieldError(ValueError):
    """A value rule broken inside one dataclass; ``field`` is relative to that dataclass."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"field '{field}': {reason}")
        self.field = field
        self.reason = reason


class SchemaError(ValueError):
    """A table that does not fit the schema; ``field`` is the full dotted path, e.g. ``models[0].sha256``."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"field '{field}': {reason}")
        self.field = field
        self.reason = reason


def build(cls: type[T], table: Any, where: str = "") -> T:
    """Dataclass ``cls`` built from ``table``; unknown keys and missing required fields are errors."""
    if not isinstance(table, dict):
        raise SchemaError(where or "(top level)", f"must be a table, got {_kind(table)}")
    hints = get_type_hints(cls)
    fields = {field.name: field for field in dataclasses.fields(cls)}
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise SchemaError(_join(where, unknown[0]), f"unknown field (allowed: {', '.join(sorted(fields))})")
    values = {}
    for name, field in fields.items():
        path = _join(where, name)
        if name in table:
            values[name] = _convert(hints[name], table[name], path)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise SchemaError(path, "is required")
    try:
        return cls(**values)
    except FieldError as error:
        raise SchemaError(_join(where, error.field), error.reason) from None


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        inner = [arg for arg in args if arg is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"unsupported schema type {tp}")
        return _convert(inner[0], value, path)
    if origin is Literal:
        if value not in args:
            raise SchemaError(path, f"must be one of {', '.join(repr(a) for a in args)}, got {value!r}")
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):  # a hint is a class, never an instance
        return build(tp, value, path)
    if origin is list:
        _expect(isinstance(value, list), path, "an array", value)
        return [_convert(args[0], item, f"{path}[{i}]") for i, item in enumerate(value)]
    if origin is tuple:
        _expect(isinstance(value, list), path, "an array", value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], item, f"{path}[{i}]") for i, item in enumerate(value))
        if len(value) != len(args):
            raise SchemaError(path, f"must have {len(args)} items, got {len(value)}")
        items = enumerate(zip(args, value, strict=True))
        return tuple(_convert(arg, item, f"{path}[{i}]") for i, (arg, item) in items)
    if origin is dict:
        _expect(isinstance(value, dict), path, "a table", value)
        return {key: _convert(args[1], item, _join(path, key)) for key, item in value.items()}
    if tp is bool:
        _expect(isinstance(value, bool), path, "true or false", value)
        return value
    if tp is int:
        _expect(isinstance(value, int) and not isinstance(value, bool), path, "an integer", value)
        return value
    if tp is float:
        _expect(isinstance(value, (int, float)) and not isinstance(value, bool), path, "a number", value)
        return float(value)
    if tp is str:
        _expect(isinstance(value, str), path, "a string", value)
        return value
    raise TypeError(f"unsupported schema type {tp}")


def check_relative(name: str, path: str) -> None:
    """FieldError unless ``path`` is a relative POSIX path that stays inside its folder."""
    parts = PurePosixPath(path)
    if not path or parts.is_absolute() or ".." in parts.parts or "\\" in path:
        raise FieldError(name, f"must be a relative path inside the plugin folder, got {path!r}")


def _expect(ok: bool, path: str, what: str, value: Any) -> None:
    if not ok:
        raise SchemaError(path, f"must be {what}, got {_kind(value)} {value!r}")


def _kind(value: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name
