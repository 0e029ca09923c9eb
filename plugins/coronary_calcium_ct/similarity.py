"""A study's calcium profile as a retrieval embedding: studies with similar per-artery burden are near.

embedding = [0.5, log1p(Agatston LM, LAD, LCX, RCA) / 6, log1p(lesion count) / 3], float32: the constant
keeps zero-calcium studies a non-zero vector (they all match each other); cosine similarity then compares
the distribution of calcium across the arteries and its overall size.
"""

from __future__ import annotations

import numpy as np

from .rules import ARTERIES


def profile_embedding(agatston_by_artery: dict[str, float], lesions: int) -> np.ndarray:
    """The embedding of per-artery (3 mm-normalised) Agatston scores and the number of 3D lesions."""
    values = [np.log1p(max(float(agatston_by_artery.get(name, 0.0)), 0.0)) / 6 for name in ARTERIES.values()]
    return np.array([0.5, *values, np.log1p(max(lesions, 0)) / 3], dtype=np.float32)


def profile_label(agatston_by_artery: dict[str, float], category_name: str) -> str:
    """Plain text for a library entry, e.g. "LAD 37, LCX 139, RCA 177; total 354 (Moderate)"."""
    parts = [f"{name} {score:.0f}" for name, score in agatston_by_artery.items() if score > 0]
    total = sum(agatston_by_artery.values())
    return (", ".join(parts) or "no coronary calcium") + f"; total {total:.0f} ({category_name})"
