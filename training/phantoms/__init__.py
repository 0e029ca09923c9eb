"""Deterministic phantom studies with exact ground truth (numpy + pydicom only, no torch).

Each ``make_<kind>(seed, ...)`` returns an in-memory case (arrays, engine Geometry, truth); the
``export`` module writes a case as a DICOM study with sidecars; ``samples`` writes the demo sample set.
"""

from training.phantoms.agatston import agatston_scores
from training.phantoms.brain_mri import BrainMriCase, make_brain_mri
from training.phantoms.cardiac_ct import CardiacCtCase, Plaque, make_cardiac_ct
from training.phantoms.chest_xray import ChestXrayCase, Nodule, make_chest_xray
from training.phantoms.prostate_mri import ProstateMriCase, make_prostate_mri

__all__ = [
    "BrainMriCase",
    "CardiacCtCase",
    "ChestXrayCase",
    "Nodule",
    "Plaque",
    "ProstateMriCase",
    "agatston_scores",
    "make_brain_mri",
    "make_cardiac_ct",
    "make_chest_xray",
    "make_prostate_mri",
]
