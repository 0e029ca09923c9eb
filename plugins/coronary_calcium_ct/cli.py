"""`sightline calcium-score SERIES --labels MASK [--json] [--calibration F]`: exact coronary calcium scores.

SERIES is a DICOM folder / file / zip holding one CT volume, or a NIfTI / MetaImage file in HU; MASK an
artery label map on the same grid (0 background, 1 LM, 2 LAD, 3 LCX, 4 RCA). Prints per-artery and total
Agatston, volume and mass scores, the risk category and the rules applied (rules.py);
``--json`` prints scoring.CalciumReport.to_json(). Exit status 2 for unusable inputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .scoring import CalciumReport


def register(subparsers: argparse._SubParsersAction) -> None:
    from .rules import DEFAULT_MASS_CALIBRATION

    parser = subparsers.add_parser(
        "calcium-score",
        help="score coronary calcium (Agatston, volume, mass) from a CT and an artery label map",
        description="Exact Agatston / volume / mass scores per coronary artery from a CT series and an artery "
        "label map (0 background, 1 LM, 2 LAD, 3 LCX, 4 RCA) on the same grid.",
    )
    parser.add_argument("series", type=Path, metavar="SERIES", help="DICOM folder/file/zip, or a NIfTI/MHA file")
    parser.add_argument("--labels", type=Path, required=True, metavar="MASK", help="artery label map (NIfTI/MHA)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--calibration", type=float, default=DEFAULT_MASS_CALIBRATION, metavar="F",
                        help="mass calibration factor c_HA in mg HA/cm^3 per HU (default %(default)s; calibrate "
                        "with a hydroxyapatite phantom for your scanner and protocol)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from .io import CalciumInputError, load_artery_mask, load_ct
    from .rules import ScoringRules
    from .scoring import score_arteries

    try:
        rules = ScoringRules(mass_calibration=args.calibration)
        volume = load_ct(args.series)
        labels = load_artery_mask(args.labels, volume.geometry)
    except (CalciumInputError, ValueError) as error:
        print(f"sightline calcium-score: {error}", file=sys.stderr)
        return 2
    report = score_arteries(volume.array, labels, volume.geometry, rules)
    print(json.dumps(report.to_json(), indent=2) if args.json else format_report(report))
    return 0


def format_report(report: CalciumReport) -> str:
    """The human-readable table."""
    lines = [f"{'Artery':<8}{'Agatston':>12}{'Volume mm3':>14}{'Mass mg':>12}{'Lesions':>9}"]
    for name, score in [*report.arteries.items(), ("Total", report.total)]:
        lines.append(f"{name:<8}{score.agatston:>12.1f}{score.volume_mm3:>14.1f}{score.mass_mg:>12.1f}"
                     f"{score.lesions:>9d}")
    category = report.category
    lines += ["", f"Risk category: {category.name} (Agatston {category.range_text}): {category.meaning}; "
                  f"CAC-DRS {category.cac_drs}",
              f"Rules: {report.rules_text}"]
    return "\n".join(lines)
