"""Readers for real calcium-scoring datasets: one folder per case holding the CT and an artery mask.

Layout (orCaScore-like)::

    ROOT/<case>/image.mha | image.nii.gz | image.nii | <DICOM folder>   CT in HU
    ROOT/<case>/mask.nii.gz | mask.nii | mask.mha                        0 bg, 1 LM, 2 LAD, 3 LCX, 4 RCA

A case whose CT is a DICOM folder keeps it in any sub-folder (the only CT volume found under <case>,
excluding the mask file). Cases come in sorted order; a case that cannot be read raises an error naming
its folder. ``records`` turns them into training / evaluation records (no heart centre: no baseline).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.volume import Volume
from plugins.coronary_calcium_ct.io import CalciumInputError, load_artery_mask, load_ct
from training.calcium.records import CaseRecord, case_record

IMAGE_NAMES = ("image.mha", "image.nii.gz", "image.nii", "image.mhd", "image.nrrd")
MASK_NAMES = ("mask.nii.gz", "mask.nii", "mask.mha", "mask.nrrd")


@dataclass
class CalciumCase:
    """A CT volume and its artery label map (uint8, same grid)."""

    case_id: str
    volume: Volume
    labels: np.ndarray


def read_case(folder: str | os.PathLike) -> CalciumCase:
    """The case in ``folder`` (see the module docstring)."""
    root = Path(folder)
    mask = next((root / name for name in MASK_NAMES if (root / name).is_file()), None)
    if mask is None:
        raise CalciumInputError(f"{root}: no mask file ({', '.join(MASK_NAMES)})")
    image = next((root / name for name in IMAGE_NAMES if (root / name).is_file()), None)
    dicom = [p for p in sorted(root.iterdir()) if p.is_dir()]
    if image is None and len(dicom) != 1:
        raise CalciumInputError(f"{root}: expected an image file ({', '.join(IMAGE_NAMES)}) or one DICOM folder")
    volume = load_ct(image if image is not None else dicom[0])
    return CalciumCase(root.name, volume, load_artery_mask(mask, volume.geometry))


def iter_cases(root: str | os.PathLike) -> Iterator[CalciumCase]:
    """Every case folder under ``root``, sorted by name."""
    for folder in sorted(p for p in Path(root).iterdir() if p.is_dir()):
        yield read_case(folder)


def records(root: str | os.PathLike) -> list[CaseRecord]:
    """Training / evaluation records of every case under ``root``."""
    return [case_record(case.case_id, np.asarray(case.volume.array), case.volume.geometry, case.labels)
            for case in iter_cases(root)]
