"""The scoring rules (Agatston 1990 as used by orCaScore) and their plain-language statement.

- calcium voxel: HU >= 130 (``threshold_hu``) inside the region being scored (an artery's label);
- lesion: per axial slice (the array's z index), calcium voxels joined by 2D 8-connectivity (edges and
  corners) within the same region;
- a lesion counts only when its area (pixel count x pixel area) is >= 1 mm^2 (``min_area_mm2``);
- density weight by the lesion's peak HU: 130-199 -> 1, 200-299 -> 2, 300-399 -> 3, >= 400 -> 4;
- Agatston = sum of area (mm^2) x weight, multiplied by slice spacing / 3 mm when the slices are not 3 mm
  apart (slice thickness is taken to equal the slice spacing);
- volume score = counted lesions' voxel count x voxel volume (mm^3), no interpolation;
- mass score (mg) = c_HA x mean HU x volume / 1000 over the counted lesions' voxels, c_HA in mg HA / cm^3
  per HU. The default 0.743 is a typical 120 kVp value; it must be calibrated for each scanner and
  protocol with a hydroxyapatite phantom: c_HA = rho_HA / (mean HU of the HA insert - mean HU of water).
"""

from __future__ import annotations

from dataclasses import dataclass

THRESHOLD_HU = 130.0
MIN_AREA_MM2 = 1.0
REFERENCE_SLICE_MM = 3.0
DEFAULT_MASS_CALIBRATION = 0.743  # mg HA / cm^3 per HU (typical 120 kVp; calibrate with a phantom)
CONNECTIVITY = 8
ARTERIES: dict[int, str] = {1: "LM", 2: "LAD", 3: "LCX", 4: "RCA"}
WEIGHT_BOUNDS_HU = (200.0, 300.0, 400.0)  # weight 1 below the first, 4 at or above the last


@dataclass(frozen=True)
class ScoringRules:
    """Parameters of the calcium scores; the defaults are the standard Agatston protocol."""

    threshold_hu: float = THRESHOLD_HU
    min_area_mm2: float = MIN_AREA_MM2
    reference_slice_mm: float = REFERENCE_SLICE_MM
    mass_calibration: float = DEFAULT_MASS_CALIBRATION

    def __post_init__(self) -> None:
        if not self.mass_calibration > 0:
            raise ValueError(f"the mass calibration factor must be positive, got {self.mass_calibration}")
        if self.min_area_mm2 < 0 or self.reference_slice_mm <= 0:
            raise ValueError("minimum area must be >= 0 and the reference slice spacing positive")

    def slice_factor(self, slice_mm: float) -> float:
        """Agatston multiplier for slices ``slice_mm`` apart (1 at the 3 mm reference)."""
        return 1.0 if slice_mm == self.reference_slice_mm else slice_mm / self.reference_slice_mm

    def describe(self, slice_mm: float) -> str:
        """The rules applied to slices ``slice_mm`` apart, in one paragraph (printed with every score)."""
        factor = self.slice_factor(slice_mm)
        scaling = ("3 mm reference, no rescaling" if factor == 1.0 else
                   f"Agatston multiplied by {slice_mm:g}/{self.reference_slice_mm:g} = {factor:.4g}")
        return (f"Agatston: >= {self.threshold_hu:g} HU, lesions = 2D {CONNECTIVITY}-connected per axial slice "
                f"(per artery), lesion area >= {self.min_area_mm2:g} mm^2, weight 1-4 by peak HU "
                f"(130-199/200-299/300-399/>=400); slice spacing {slice_mm:g} mm, thickness taken equal to "
                f"the spacing ({scaling}). Volume: counted lesion voxels x voxel volume. Mass: "
                f"{self.mass_calibration:g} mg HA/cm^3 per HU x mean HU x volume (calibrate c_HA with a "
                f"phantom).")


DEFAULT_RULES = ScoringRules()


def density_weight(peak_hu: float, threshold_hu: float = THRESHOLD_HU) -> int:
    """Agatston density factor of a lesion with this peak HU (0 below the threshold)."""
    if peak_hu < threshold_hu:
        return 0
    return 1 + sum(peak_hu >= bound for bound in WEIGHT_BOUNDS_HU)
