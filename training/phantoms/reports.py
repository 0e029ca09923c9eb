"""Templated free-text prostate MRI reports with varied wording (the text prompts of the CCELLA phantoms)."""

from __future__ import annotations

import numpy as np

_LEVEL_WORDS = {"base": ("base", "basal gland", "prostatic base"),
                "mid": ("mid gland", "mid-gland", "midgland level"),
                "apex": ("apex", "apical gland", "prostatic apex")}
_ZONE_WORDS = ("peripheral zone", "PZ", "peripheral zone")
_LOW_SIGNAL = ("markedly hypointense", "homogeneous low T2 signal", "circumscribed low-signal")

_POSITIVE = (
    "FINDINGS: Prostate volume approximately {volume:.0f} mL. There is a {size:.0f} mm {signal} lesion "
    "in the {side} {zone} at the {level}. IMPRESSION: PI-RADS {pirads}; clinically significant cancer is "
    "likely.",
    "Prostate measures about {volume:.0f} mL. A {signal} focus measuring {size:.0f} mm is seen in the "
    "{level}, {side} {zone}. Assessment: PI-RADS {pirads}. Targeted biopsy recommended.",
    "{side_cap} {zone}, {level}: {size:.0f} mm {signal} lesion. Gland volume {volume:.0f} mL. "
    "Overall PI-RADS category {pirads}.",
    "Axial T2: {signal} lesion of {size:.0f} mm centred in the {side} {zone} ({level}). "
    "Estimated prostate volume {volume:.0f} mL. Conclusion: PI-RADS {pirads}, suspicious for clinically "
    "significant prostate cancer.",
)
_EQUIVOCAL = (
    "FINDINGS: Prostate volume approximately {volume:.0f} mL. Ill-defined, mildly hypointense "
    "{size:.0f} mm area in the {side} {zone} at the {level}. IMPRESSION: PI-RADS 3, equivocal.",
    "A vague {size:.0f} mm region of moderately low T2 signal in the {side} {zone} ({level}); gland volume "
    "{volume:.0f} mL. PI-RADS 3 - indeterminate.",
)
_NEGATIVE = (
    "FINDINGS: Prostate volume approximately {volume:.0f} mL. Homogeneous high T2 signal of the peripheral "
    "zone. No focal suspicious lesion. IMPRESSION: PI-RADS {pirads}.",
    "Gland volume {volume:.0f} mL. No focal abnormality in the peripheral or transition zone. "
    "Assessment: PI-RADS {pirads}; clinically significant cancer is unlikely.",
    "Axial T2 shows no suspicious focal lesion{wedge}. Prostate volume {volume:.0f} mL. Overall PI-RADS "
    "category {pirads}.",
)


def prostate_report(rng: np.random.Generator, pirads: int, volume_ml: float, lesion: dict | None) -> str:
    """A report consistent with ``pirads`` and ``lesion`` (side, level, size_mm), wording drawn by ``rng``."""
    if lesion is None or pirads <= 2:
        template = _NEGATIVE[int(rng.integers(len(_NEGATIVE)))]
        wedge = "; mild wedge-shaped low signal in the peripheral zone" if pirads == 2 else ""
        return template.format(volume=volume_ml, pirads=pirads, wedge=wedge)
    words = {
        "volume": volume_ml,
        "size": lesion["size_mm"],
        "side": lesion["side"],
        "side_cap": lesion["side"].capitalize(),
        "zone": _ZONE_WORDS[int(rng.integers(len(_ZONE_WORDS)))],
        "level": _LEVEL_WORDS[lesion["level"]][int(rng.integers(3))],
        "signal": _LOW_SIGNAL[int(rng.integers(len(_LOW_SIGNAL)))],
        "pirads": pirads,
    }
    templates = _EQUIVOCAL if pirads == 3 else _POSITIVE
    return templates[int(rng.integers(len(templates)))].format(**words)
