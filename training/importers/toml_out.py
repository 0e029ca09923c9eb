"""A small TOML writer for the manifests the importers generate (strings, numbers, booleans, arrays,
inline tables, tables and arrays of tables)."""

from __future__ import annotations

import json
import math
from typing import Any


def value(item: Any) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        if not math.isfinite(item):
            raise ValueError(f"TOML cannot hold {item}")
        return repr(item)
    if isinstance(item, str):
        return json.dumps(item, ensure_ascii=False)
    if isinstance(item, (list, tuple)):
        return "[" + ", ".join(value(v) for v in item) + "]"
    if isinstance(item, dict):
        return "{ " + ", ".join(f"{key(k)} = {value(v)}" for k, v in item.items()) + " }"
    raise TypeError(f"cannot write {type(item).__name__} as TOML")


def key(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() else json.dumps(name)


def document(top: dict[str, Any], sections: list[tuple[str, dict[str, Any]]]) -> str:
    """``top`` key = value lines, then ``sections``: (header, table); a header in [[...]] is an array item."""
    lines = [f"{key(k)} = {value(v)}" for k, v in top.items()]
    for header, table in sections:
        lines += ["", header]
        lines += [f"{key(k)} = {value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"
