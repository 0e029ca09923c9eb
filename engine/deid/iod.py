"""Attribute types (1, 1C, 2, 2C, 3) per IOD, from the DICOM standard's module tables that highdicom ships.

Table E.1-1's combined actions (X/Z, X/D, X/Z/D, X/Z/U*) say "remove, unless keeping the attribute is
required to maintain IOD conformance"; resolving them needs the attribute's type in the IOD of the
dataset, at the place it sits (top level or inside a given sequence). ``types_for(sop_class_uid)`` gives
that as a lookup by sequence path and keyword. An attribute listed in several modules of one IOD takes its
strictest type (a module the IOD has as optional may be present). A conditional type (1C, 2C) is treated
as required: the attribute was present in the input, so its condition may hold, and an emptied or dummy
value is as private as a removed one.

The tables are highdicom's copy of the standard (innolitics/dicom-standard), the same data highdicom
validates SEG and SR with; a SOP class highdicom does not know gives None (the caller then keeps the
conservative, never-breaking choice).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

# Strictest first: a value is needed (1, 1C), then presence (2, 2C), then nothing (3).
_STRICTNESS = {"1": 0, "1C": 1, "2": 2, "2C": 3, "3": 4}
REQUIRES_VALUE = frozenset({"1", "1C"})
REQUIRES_PRESENCE = frozenset({"1", "1C", "2", "2C"})


@dataclass(frozen=True)
class IodTypes:
    """The attribute types of one IOD: ``by_path[(outer sequence keywords...)][keyword] -> type``."""

    iod: str
    by_path: dict[tuple[str, ...], dict[str, str]]
    complete: bool  # False when the IOD names a module the tables lack: absence then proves nothing

    def type_of(self, path: tuple[str, ...], keyword: str) -> str | None:
        """The attribute's type at ``path`` ("3" when the IOD does not have it there), or None if unknown.

        Unknown means the tables cannot say: the sequence path is not one the IOD describes (a private or
        deeply nested content item), or the IOD's tables are incomplete and do not list the attribute.
        """
        level = self.by_path.get(path)
        if level is None:
            return None
        found = level.get(keyword)
        if found is not None:
            return found
        return "3" if self.complete else None


@lru_cache(maxsize=128)
def types_for(sop_class_uid: str) -> IodTypes | None:
    """The attribute types of the IOD of ``sop_class_uid``, or None for a SOP class the tables lack."""
    iod_map, module_map, attribute_map = _tables()
    iod = iod_map.get(str(sop_class_uid))
    if iod is None or iod not in module_map:
        return None
    by_path: dict[tuple[str, ...], dict[str, str]] = {(): {}}
    complete = True
    for module in module_map[iod]:
        attributes = attribute_map.get(module["key"])
        if attributes is None:
            complete = False
            continue
        for attribute in attributes:
            kind = attribute.get("type")
            if kind not in _STRICTNESS:
                continue
            level = by_path.setdefault(tuple(attribute["path"]), {})
            keyword = attribute["keyword"]
            if keyword not in level or _STRICTNESS[kind] < _STRICTNESS[level[keyword]]:
                level[keyword] = kind
    return IodTypes(iod, by_path, complete)


@lru_cache(maxsize=1)
def _tables() -> tuple[dict, dict, dict]:
    """highdicom's SOP class -> IOD, IOD -> modules and module -> attributes tables (loaded once)."""
    from highdicom._standard_utils import (  # the tables are data files of the pinned highdicom
        get_iod_module_map,
        get_module_attribute_map,
        get_sop_class_iod_map,
    )

    return get_sop_class_iod_map(), get_iod_module_map(), get_module_attribute_map()
