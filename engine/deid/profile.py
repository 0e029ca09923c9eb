"""PS3.15 Table E.1-1 loaded from its JSON copy, resolved to one action per tag for a set of options.

Actions: X remove, Z zero length, D dummy, K keep, C clean, U map UID, and the basic profile's combined
codes (X/Z, X/D, Z/D, X/Z/D, X/Z/U*), which ``resolve`` turns into one letter from the attribute's type
in the dataset's IOD (engine.deid.iod), as the standard words them: "X unless Z [or D, or U] is required
to maintain IOD conformance". Where several enabled options have an entry for one row, C wins over K.

Resolution by type (T = the attribute's type where it sits; None = the tables cannot say):
- X/Z, X/D, X/Z/D, X/Z/U*: removed when T is 3; kept otherwise: an emptied value (Z) for Type 2/2C, a
  dummy (D) where a value is required (Type 1/1C) or where D is the only alternative, and for a
  sequence of references (X/Z/U*) its items with their UIDs mapped.
- X: removed, except where the IOD requires the attribute (e.g. Responsible Person, Type 2C and required
  for a non-human patient): emptied for Type 2/2C, a dummy for Type 1/1C.
- Z: a dummy (the standard's Z allows "a non-zero length dummy value") where Type 1/1C needs a value.
- T None: the never-breaking choice without IOD knowledge: X/Z -> Z, X/D -> D, Z/D -> D, X/Z/D -> D,
  X/Z/U* -> U, and X, Z as they are.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from engine.deid.iod import REQUIRES_PRESENCE, REQUIRES_VALUE
from engine.resources import resource_root

TABLE_PATH = resource_root() / "resources" / "deid" / "ps3.15-table-E.1-1.json"

# Without IOD knowledge: the choice that never breaks a Type 1/2 requirement.
COMBINED_RESOLUTION = {"X/Z": "Z", "X/D": "D", "Z/D": "D", "X/Z/D": "D", "X/Z/U*": "U"}
SIMPLE_ACTIONS = frozenset("XZDKCU")
# Combined code -> (action when a value is required, when presence is required, when optional)
_BY_TYPE = {
    "X": ("D", "Z", "X"),
    "Z": ("D", "Z", "Z"),
    "X/Z": ("D", "Z", "X"),
    "X/D": ("D", "D", "X"),
    "Z/D": ("D", "D", "D"),
    "X/Z/D": ("D", "D", "X"),
    "X/Z/U*": ("U", "U", "X"),
}


def resolve(action: str, attribute_type: str | None) -> str:
    """One of X/Z/D/K/C/U for a (possibly combined) ``action`` and the attribute's type in its IOD."""
    if action not in _BY_TYPE:
        return action
    if attribute_type is None:
        return COMBINED_RESOLUTION.get(action, action)
    required_value, required_presence, optional = _BY_TYPE[action]
    if attribute_type in REQUIRES_VALUE:
        return required_value
    if attribute_type in REQUIRES_PRESENCE:
        return required_presence
    return optional

_EXACT_TAG = re.compile(r"\(([0-9A-F]{4}),([0-9A-F]{4})\)")
_PATTERN_TAG = re.compile(r"\(([0-9A-FX]{4}),([0-9A-FX]{4})\)")
_PRIVATE_ROW = "(GGGG,EEEE) WHERE GGGG IS ODD"


@dataclass(frozen=True)
class Rule:
    """One row of Table E.1-1: the attribute, its basic-profile action and its option-column entries."""

    name: str
    tag: str
    basic: str
    options: tuple[tuple[str, str], ...]

    def action(self, columns: frozenset[str]) -> str:
        """The action with the option ``columns`` enabled: an option's C or K, else the basic profile's
        (possibly combined) code."""
        overrides = {value for column, value in self.options if column in columns}
        if "C" in overrides:
            return "C"
        if "K" in overrides:
            return "K"
        return self.basic


@lru_cache(maxsize=1)
def load_rules(path: Path = TABLE_PATH) -> tuple[Rule, ...]:
    """Every row of the table, validated (an unknown action or tag form is an error, not a silent skip)."""
    rows = json.loads(Path(path).read_text(encoding="utf-8"))
    rules = []
    for row in rows:
        options = tuple(sorted((k, v) for k, v in row.items() if k.endswith("Opt") and v))
        rule = Rule(row["name"], row["tag"].upper(), row["basicProfile"], options)
        if COMBINED_RESOLUTION.get(rule.basic, rule.basic) not in SIMPLE_ACTIONS:
            raise ValueError(f"unknown basic-profile action {rule.basic!r} for {rule.name}")
        if rule.tag != _PRIVATE_ROW and not _PATTERN_TAG.fullmatch(rule.tag):
            raise ValueError(f"unknown tag form {rule.tag!r} for {rule.name}")
        rules.append(rule)
    return tuple(rules)


class Profile:
    """Table E.1-1 for one set of option columns: ``action_for(tag)`` gives the row's action or None."""

    def __init__(self, rules: tuple[Rule, ...], columns: frozenset[str]) -> None:
        self._exact: dict[int, str] = {}
        self._patterns: list[tuple[int, int, str]] = []
        self.private_action = "X"
        for rule in rules:
            action = rule.action(columns)
            if rule.tag == _PRIVATE_ROW:
                self.private_action = action
            elif match := _EXACT_TAG.fullmatch(rule.tag):
                self._exact[int(match[1] + match[2], 16)] = action
            else:
                digits = rule.tag[1:5] + rule.tag[6:10]
                mask = int("".join("0" if c == "X" else "F" for c in digits), 16)
                value = int(digits.replace("X", "0"), 16)
                self._patterns.append((mask, value, action))

    def action_for(self, tag: int) -> str | None:
        """The action for a public tag (a combined code still to ``resolve``), or None when the table does
        not list it (the attribute is kept)."""
        action = self._exact.get(tag)
        if action is not None:
            return action
        for mask, value, pattern_action in self._patterns:
            if tag & mask == value:
                return pattern_action
        return None

    def is_repeating_group(self, tag: int) -> bool:
        """True when ``tag`` matches a repeating-group row such as (50XX,XXXX) or (60XX,3000)."""
        return tag not in self._exact and any(tag & mask == value for mask, value, _ in self._patterns)


@lru_cache(maxsize=64)
def profile_for(columns: frozenset[str]) -> Profile:
    """The (cached) profile for a set of enabled option columns."""
    return Profile(load_rules(), columns)
