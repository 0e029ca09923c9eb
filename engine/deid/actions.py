"""Applying resolved Table E.1-1 actions to a dataset, recursively into sequence items.

Per element: X delete, Z zero length, D dummy (UI: mapped UID), K keep, C clean, U map UID; combined codes
(X/Z, X/Z/U*...) are resolved per element from its type in the dataset's IOD, at the sequence path where
it sits (engine.deid.profile.resolve): a Type 3 Referenced Study Sequence is removed, a Type 2C
Responsible Person of a non-human patient is emptied rather than removed.
Sequences: X delete; Z empty sequence; K, C, U keep the items and de-identify them with the same rules;
D keeps the items de-identified too, but replaces code items directly inside by a dummy code and every
free-text value below by a dummy (a D sequence is one the standard wants replaced, e.g. Content Sequence).
Public DA/DT attributes the table does not list are treated like its date rows (dummy, shifted or kept).
Removing a repeating-group row (curve data, overlay data) removes that whole group: an overlay without
its data would make the dataset invalid. Group-length elements are dropped (they would be stale).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydicom.dataelem import DataElement, empty_value_for_VR
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

from engine.deid.context import DeidContext
from engine.deid.dates import shift_date, shift_datetime
from engine.deid.dummy import DUMMY_CODE, FREE_TEXT_VRS, dummy_value
from engine.deid.iod import IodTypes
from engine.deid.private import filter_private
from engine.deid.profile import Profile, resolve

CODE_VALUE_KEYWORDS = ("CodeValue", "LongCodeValue", "URNCodeValue")
# Attributes allowed only while another one has a value (Type 1C "required if X is present and has a
# value", and not allowed otherwise): removed when de-identification emptied or removed that one.
DEPENDENT_ON_VALUE = {"ResponsiblePersonRole": "ResponsiblePerson"}
TEXT_VRS = frozenset({"AE", "AS", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})


@dataclass(frozen=True)
class Scope:
    """What the actions need beyond the profile, for one top-level dataset."""

    profile: Profile
    context: DeidContext
    date_shift_days: int | None  # set when modified longitudinal dates are retained
    undocumented_date_action: str  # for DA/DT attributes the table does not list: D, K or C
    scrub: Callable[[str], str]
    iod: IodTypes | None = None  # attribute types of the dataset's IOD; None: unknown SOP class

    def action_for(self, elem: DataElement, path: tuple[str, ...]) -> str | None:
        """The single-letter action for ``elem`` found inside the sequences ``path`` (None: keep as is)."""
        action = self.profile.action_for(elem.tag)
        if action is None:
            return self.undocumented_date_action if elem.VR in ("DA", "DT") else None
        if self.profile.is_repeating_group(elem.tag):
            return resolve(action, None)  # an overlay or curve group goes (or stays) as a whole
        attribute_type = self.iod.type_of(path, elem.keyword) if self.iod and elem.keyword else None
        return resolve(action, attribute_type)


def apply_actions(
    ds: Dataset, scope: Scope, in_dummy_sequence: bool = False, path: tuple[str, ...] = ()
) -> None:
    """De-identify ``ds`` in place (and its sequence items, recursively); ``path`` names the sequences
    ``ds`` is an item of, outermost first."""
    removed_groups: set[int] = set()
    for tag in list(ds.keys()):
        if tag.is_private:
            continue
        if tag.element == 0:
            del ds[tag]
            continue
        elem = ds[tag]
        action = scope.action_for(elem, path)
        if action == "X":
            del ds[tag]
            if scope.profile.is_repeating_group(tag):
                removed_groups.add(tag.group)
        elif elem.VR == "SQ":
            _apply_to_sequence(elem, action, scope, in_dummy_sequence, path + (elem.keyword,))
        elif action is None:
            if in_dummy_sequence and elem.VR in FREE_TEXT_VRS and not elem.is_empty:
                elem.value = dummy_value(elem.VR, elem.value)
        else:
            _apply_to_element(elem, action, scope)
    for tag in [t for t in ds.keys() if t.group in removed_groups]:
        del ds[tag]
    for dependent, keyword in DEPENDENT_ON_VALUE.items():
        if dependent in ds and ds.get(keyword) in (None, ""):
            del ds[dependent]
    filter_private(ds, retain_safe=scope.profile.private_action == "C")


def _apply_to_sequence(
    elem: DataElement, action: str | None, scope: Scope, in_dummy: bool, path: tuple[str, ...]
) -> None:
    if action == "Z":
        elem.value = Sequence()
        return
    dummy = in_dummy or action == "D"
    for item in elem.value:
        if action == "D" and any(keyword in item for keyword in CODE_VALUE_KEYWORDS):
            item.clear()
            for keyword, value in DUMMY_CODE.items():
                setattr(item, keyword, value)
        else:
            apply_actions(item, scope, dummy, path)


def _apply_to_element(elem: DataElement, action: str, scope: Scope) -> None:
    if action == "K" or (elem.is_empty and action != "D"):
        return
    if action == "Z":
        elem.value = empty_value_for_VR(elem.VR)
    elif action == "U" or (action == "D" and elem.VR == "UI"):
        elem.value = _map_values(elem.value, scope.context.map_uid)
    elif action == "D":
        elem.value = dummy_value(elem.VR, elem.value)
    elif action == "C":
        _clean(elem, scope)
    else:
        raise ValueError(f"unknown action {action!r} for {elem.tag}")


def _clean(elem: DataElement, scope: Scope) -> None:
    """C: shift dates (with modified dates), keep times, scrub text; anything else becomes a dummy."""
    if elem.VR == "TM":
        return
    if elem.VR in ("DA", "DT") and scope.date_shift_days is not None:
        shift = shift_date if elem.VR == "DA" else shift_datetime
        days = scope.date_shift_days
        shifted = _map_values(elem.value, lambda v: shift(v, days) or dummy_value(elem.VR, v))
        elem.value = shifted
    elif elem.VR in TEXT_VRS:
        elem.value = _map_values(elem.value, lambda v: scope.scrub(v) or dummy_value(elem.VR, v))
    elif elem.VR == "UI":
        elem.value = _map_values(elem.value, scope.context.map_uid)
    else:
        elem.value = dummy_value(elem.VR, elem.value)


def _map_values(value: object, function: Callable[[str], str]) -> object:
    """Apply ``function`` to each value of a (possibly multi-valued) string element."""
    if isinstance(value, MultiValue | list | tuple):
        return [function(str(v)) for v in value]
    return function(str(value))
