"""`sightline convert PATH OUT_DIR [--format nifti|nrrd]`: every stack as a NIfTI or NRRD file + JSON sidecar.

PATH is read as `sightline scan` reads it (folder, .zip, DICOMDIR or file). For each stack it writes
OUT_DIR/<series number>_<description>.nii.gz (or .nrrd) and a .json sidecar with the source UIDs, the grid
and the geometry warnings; prints one line per stack (warnings under it), the stacks that failed and the
files that could not be used, then a summary. Exit status: 0 when at least one stack was written or there
was nothing to convert, 1 when every stack failed, 2 when the run cannot start (PATH missing, bad OUT_DIR).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

PROGRESS_INTERVAL_S = 2.0
MAX_LISTED = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert DICOM series to NIfTI or NRRD files with JSON sidecars (like dcm2niix)",
        description="Convert every stack (series, or part of a split series) under PATH into OUT_DIR: one "
        "image file per stack (NIfTI .nii.gz or NRRD .nrrd, patient coordinates kept) and a JSON sidecar "
        "with its UIDs, spacing, orientation and geometry warnings. No patient identifiers are written.",
    )
    parser.add_argument("path", type=Path, metavar="PATH", help="folder (recursive), .zip, DICOMDIR or file")
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="output folder (created if needed)")
    parser.add_argument(
        "--format", dest="fmt", choices=("nifti", "nrrd"), default="nifti",
        help="nifti (.nii.gz, default; 8-bit colour as RGB24) or nrrd (.nrrd; also 16-bit colour)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.path.exists():
        print(f"sightline convert: no such file or folder: {args.path}", file=sys.stderr)
        return 2
    from engine.convert import convert

    try:
        result = convert(args.path, args.out_dir, args.fmt, progress=_progress_printer())
    except (OSError, ValueError) as exc:
        print(f"sightline convert: error: {exc}", file=sys.stderr)
        return 2
    for stack in result.written:
        print(f"{stack.image}")
        for warning in stack.warnings:
            print(f"  ! {warning}")
    for label, reason in result.failed:
        print(f"failed: {label}: {reason}", file=sys.stderr)
    for title, entries in (("error", result.errors), ("skipped", result.skipped)):
        for entry in entries[:MAX_LISTED]:
            print(f"{title}: {entry.path}: {entry.reason}", file=sys.stderr)
        if len(entries) > MAX_LISTED:
            print(f"{title}: ... and {len(entries) - MAX_LISTED} more", file=sys.stderr)
    print(f"{result.summary()} -> {args.out_dir}")
    return 1 if result.failed and not result.written else 0


def _progress_printer():  # type: ignore[no-untyped-def]
    """One stderr line per stack at most every few seconds (conversions of big studies take a while)."""
    last = [0.0]

    def progress(done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if done < total and now - last[0] >= PROGRESS_INTERVAL_S:
            last[0] = now
            print(f"{done + 1}/{total} {message}", file=sys.stderr, flush=True)

    return progress
