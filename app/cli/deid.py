"""`sightline deid IN OUT`: de-identify DICOM files (PS3.15 Annex E basic profile + options).

Reads IN as `sightline scan` does (a file, a folder, a .zip or a DICOMDIR) and writes
OUT/<study UID>/<series UID>/<SOP instance UID>.dcm with new UIDs. Prints refused, failed and skipped
files on stderr and a summary on stdout; exits non-zero only when the run cannot start
(bad IN/OUT, bad key or options).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

OPTION_FLAGS = {
    "retain_uids": "keep the original UIDs (Retain UIDs Option)",
    "retain_device_identity": "keep device names and serial numbers (Retain Device Identity Option)",
    "retain_institution_identity": "keep institution names and addresses (Retain Institution Identity)",
    "retain_patient_characteristics": "keep sex, age, size, weight... (Retain Patient Characteristics)",
    "clean_descriptors": "keep descriptions and comments with identifiers removed (Clean Descriptors Option)",
    "retain_safe_private": "keep a few safe private attributes, e.g. b-values (Retain Safe Private)",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "deid",
        help="de-identify DICOM files (PS3.15 Annex E basic profile)",
        description="De-identify every DICOM file under IN (a folder, a file, a .zip or a DICOMDIR) into "
        "OUT/<study>/<series>/<instance>.dcm with the PS3.15 Annex E Basic Application Confidentiality "
        "Profile and the chosen options. UIDs, patient pseudonyms and date shifts are keyed: reuse the same "
        "--key to keep them consistent across runs.",
    )
    parser.add_argument("input", metavar="IN", type=Path, help="a DICOM file, a folder, a .zip or a DICOMDIR")
    parser.add_argument("output", metavar="OUT", type=Path, help="output folder (not inside IN)")
    for name, help_text in OPTION_FLAGS.items():
        parser.add_argument("--" + name.replace("_", "-"), dest=name, action="store_true", help=help_text)
    dates = parser.add_mutually_exclusive_group()
    dates.add_argument(
        "--retain-long-full-dates",
        dest="retain_long_full_dates",
        action="store_true",
        help="keep dates and times (Retain Longitudinal Temporal Information Full Dates Option)",
    )
    dates.add_argument(
        "--retain-long-modified-dates",
        dest="retain_long_modified_dates",
        action="store_true",
        help="shift all dates of a patient by one keyed number of days, keep times (Modified Dates Option)",
    )
    parser.add_argument(
        "--key",
        metavar="KEY",
        help="secret key, or the path of a file holding it (default: a random key for this run only)",
    )
    parser.add_argument(
        "--allow-burned-in",
        action="store_true",
        help="also de-identify images that may have burned-in text (their pixels are NOT cleaned)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from engine.deid import DeidContext, DeidOptions, deidentify_tree

    try:
        key = _read_key(args.key)
        options = DeidOptions(
            **{name: getattr(args, name) for name in OPTION_FLAGS},
            retain_long_full_dates=args.retain_long_full_dates,
            retain_long_modified_dates=args.retain_long_modified_dates,
            allow_burned_in=args.allow_burned_in,
        )
        context = DeidContext(key)
        result = deidentify_tree(args.input, args.output, options, context=context)
    except (OSError, ValueError) as exc:
        print(f"sightline deid: error: {exc}", file=sys.stderr)
        return 2
    if context.key_was_generated:
        print("note: no --key given; UIDs and pseudonyms will not match other runs", file=sys.stderr)
    for path, reason in result.refused:
        print(f"warning: refused {path}: {reason}", file=sys.stderr)
    for message in result.warnings:
        print(f"warning: {message}", file=sys.stderr)
    for path, reason in result.errors:
        print(f"error: {path}: {reason}", file=sys.stderr)
    for path, reason in result.skipped:
        print(f"skipped: {path}: {reason}", file=sys.stderr)
    print(f"{result.summary()} -> {args.output}")
    return 0


def _read_key(value: str | None) -> bytes | None:
    """The key bytes: the contents of the file ``value`` names if it exists, else ``value`` itself."""
    if value is None:
        return None
    path = Path(value)
    if path.is_file():
        return path.read_bytes().strip()
    return value.encode("utf-8")
