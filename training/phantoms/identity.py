"""Fake but realistic-looking patient and study identifiers (PHI-like, for de-identification tests).

Everything is derived from (kind, seed), so a phantom study always gets the same names and UIDs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import numpy as np
from pydicom.uid import generate_uid

_FAMILY = ("Hartley", "Okafor", "Lindqvist", "Moreau", "Castellano", "Nakamura", "Brennan", "Kowalski",
           "Fitzgerald", "Haddad", "Vasquez", "Thornton", "Albrecht", "Ramaswamy", "Delacroix", "Sutherland")
_GIVEN_M = ("James", "Oliver", "Mateo", "Henrik", "Kenji", "Samuel", "Tomasz", "Arjun", "Luca", "Daniel")
_GIVEN_F = ("Eleanor", "Amara", "Ingrid", "Sofia", "Yuki", "Margaret", "Priya", "Chiara", "Helena", "Nadia")
_INSTITUTIONS = ("St. Aldric General Hospital", "Riverside University Medical Centre",
                 "Northgate Regional Hospital", "Lakeview Imaging Institute")
_STREETS = ("12 Harbour Road, Eastbridge", "401 Elm Avenue, Millford", "7 Cathedral Close, Westmere",
            "88 Lakeshore Drive, Brookhaven")
_DOCTORS = ("Whitfield^Catherine^^Dr", "Osei^Kwame^^Dr", "Bergstrom^Anna^^Dr", "Patel^Rohan^^Dr")


@dataclass(frozen=True)
class StudyContext:
    """Patient, study and site identifiers shared by every series of one phantom study."""

    kind: str
    seed: int
    patient_name: str
    patient_id: str
    birth_date: str
    sex: str
    age: str
    study_uid: str
    frame_of_reference_uid: str
    accession: str
    study_id: str
    study_date: str
    study_time: str
    description: str
    institution: str
    institution_address: str
    referring_physician: str
    station_name: str

    def uid(self, *parts: object) -> str:
        """A deterministic UID for this study and ``parts`` (e.g. 'series', 3, 'instance', 12)."""
        return phantom_uid(self.kind, self.seed, *parts)


def phantom_uid(kind: str, seed: int, *parts: object) -> str:
    """A valid DICOM UID derived only from the phantom kind, the seed and ``parts``."""
    return generate_uid(entropy_srcs=["sightline-phantom", kind, str(seed), *(str(p) for p in parts)])


def make_study_context(kind: str, seed: int, description: str, sex: str | None = None) -> StudyContext:
    """Identifiers for the phantom study of ``kind`` generated from ``seed``; ``sex`` 'M'/'F' or random."""
    digest = hashlib.sha256(f"{kind}:{seed}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    sex = sex or str(rng.choice(["M", "F"]))
    given = str(rng.choice(_GIVEN_M if sex == "M" else _GIVEN_F))
    site = int(rng.integers(len(_INSTITUTIONS)))
    study_day = dt.date(2023, 1, 2) + dt.timedelta(days=int(rng.integers(0, 700)))
    age_years = int(rng.integers(38, 82))
    birth = study_day - dt.timedelta(days=int(age_years * 365.25 + rng.integers(0, 360)))
    hour, minute, second = int(rng.integers(7, 19)), int(rng.integers(0, 60)), int(rng.integers(0, 60))
    return StudyContext(
        kind=kind,
        seed=seed,
        patient_name=f"{rng.choice(_FAMILY)}^{given}^{chr(65 + int(rng.integers(26)))}",
        patient_id=f"SLN{int(rng.integers(10**6, 10**7))}",
        birth_date=birth.strftime("%Y%m%d"),
        sex=sex,
        age=f"{(study_day - birth).days // 365:03d}Y",
        study_uid=phantom_uid(kind, seed, "study"),
        frame_of_reference_uid=phantom_uid(kind, seed, "frame-of-reference"),
        accession=f"A{int(rng.integers(10**8, 10**9))}",
        study_id=f"{int(rng.integers(1000, 99999))}",
        study_date=study_day.strftime("%Y%m%d"),
        study_time=f"{hour:02d}{minute:02d}{second:02d}",
        description=description,
        institution=_INSTITUTIONS[site],
        institution_address=_STREETS[site],
        referring_physician=str(rng.choice(_DOCTORS)),
        station_name=f"{('RAD', 'MRI', 'CT', 'XR')[site]}{int(rng.integers(1, 9)):02d}-{kind[:3].upper()}",
    )
