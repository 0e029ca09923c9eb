"""The attributes that record how a dataset was de-identified (PS3.15 E.1.1, PS3.3 C.7.1.1 and C.12.1)."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from engine.deid.options import BASIC_PROFILE_CODE, OPTION_SPECS, DeidOptions

METHOD_PREFIX = "Sightline: PS3.15 E.1-1 Basic Profile"


def record_method(ds: Dataset, options: DeidOptions) -> None:
    """Set Patient Identity Removed, De-identification Method (+ code sequence) and the temporal flag."""
    enabled = options.enabled()
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = [METHOD_PREFIX] + [OPTION_SPECS[name].label for name in enabled]
    items = []
    for code in [BASIC_PROFILE_CODE] + [OPTION_SPECS[name].code for name in enabled]:
        item = Dataset()
        item.CodeValue = code.value
        item.CodingSchemeDesignator = code.scheme_designator
        item.CodeMeaning = code.meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(items)
    if options.retain_long_full_dates:
        ds.LongitudinalTemporalInformationModified = "UNMODIFIED"
    elif options.retain_long_modified_dates:
        ds.LongitudinalTemporalInformationModified = "MODIFIED"
    else:
        ds.LongitudinalTemporalInformationModified = "REMOVED"
