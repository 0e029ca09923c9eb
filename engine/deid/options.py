"""De-identification options: the Table E.1-1 option column each one enables, and its CID 7050 code."""

from __future__ import annotations

from dataclasses import dataclass, fields

from pydicom.sr.codedict import Code, codes


@dataclass(frozen=True)
class DeidOptions:
    """The PS3.15 Annex E profile options (all off = the Basic Application Confidentiality Profile)."""

    retain_uids: bool = False
    retain_device_identity: bool = False
    retain_institution_identity: bool = False
    retain_patient_characteristics: bool = False
    retain_long_full_dates: bool = False
    retain_long_modified_dates: bool = False
    clean_descriptors: bool = False
    retain_safe_private: bool = False
    allow_burned_in: bool = False

    def __post_init__(self) -> None:
        if self.retain_long_full_dates and self.retain_long_modified_dates:
            raise ValueError("choose either full or modified longitudinal dates, not both")

    def enabled(self) -> list[str]:
        """Names of the enabled profile options (``allow_burned_in`` is not a profile option)."""
        return [f.name for f in fields(self) if f.name in OPTION_SPECS and getattr(self, f.name)]

    def table_columns(self) -> frozenset[str]:
        """The Table E.1-1 option columns that override the basic profile under these options."""
        return frozenset(OPTION_SPECS[name].column for name in self.enabled())


@dataclass(frozen=True)
class OptionSpec:
    """One option: its Table E.1-1 column, its CID 7050 code, its text in DeidentificationMethod."""

    column: str
    code: Code
    label: str


OPTION_SPECS: dict[str, OptionSpec] = {
    "retain_uids": OptionSpec("rtnUIDsOpt", codes.DCM.RetainUidsOption, "Retain UIDs"),
    "retain_device_identity": OptionSpec(
        "rtnDevIdOpt", codes.DCM.RetainDeviceIdentityOption, "Retain Device Identity"
    ),
    "retain_institution_identity": OptionSpec(
        "rtnInstIdOpt", codes.DCM.RetainInstitutionIdentityOption, "Retain Institution Identity"
    ),
    "retain_patient_characteristics": OptionSpec(
        "rtnPatCharsOpt", codes.DCM.RetainPatientCharacteristicsOption, "Retain Patient Characteristics"
    ),
    "retain_long_full_dates": OptionSpec(
        "rtnLongFullDatesOpt",
        codes.DCM.RetainLongitudinalTemporalInformationFullDatesOption,
        "Retain Longitudinal Full Dates",
    ),
    "retain_long_modified_dates": OptionSpec(
        "rtnLongModifDatesOpt",
        codes.DCM.RetainLongitudinalTemporalInformationModifiedDatesOption,
        "Retain Longitudinal Modified Dates",
    ),
    "clean_descriptors": OptionSpec("cleanDescOpt", codes.DCM.CleanDescriptorsOption, "Clean Descriptors"),
    "retain_safe_private": OptionSpec(
        "rtnSafePrivOpt", codes.DCM.RetainSafePrivateOption, "Retain Safe Private"
    ),
}

BASIC_PROFILE_CODE: Code = codes.DCM.BasicApplicationConfidentialityProfile
