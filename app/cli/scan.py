"""`sightline scan PATH`: list the series (stacks) a folder, zip, DICOMDIR or file holds, without importing.

Exit status: 0 when the scan ran (even when some files were errors: they are listed), 2 when PATH does
not exist. ``--json`` prints one object::

    {"series": [{"series_uid", "stack_index", "study_uid", "patient_id", "modality", "description",
                 "series_number", "n_instances", "shape", "spacing", "warnings": [...]}],
     "errors": [{"path", "reason"}],
     "skipped": [{"path", "reason"}]}

``errors`` are files that are not DICOM or are damaged; ``skipped`` are files knowingly left out: DICOM
objects without an image (SR, RT plan, SEG, DICOMDIR), duplicate copies of an instance, and sidecar files
(.json, .nii.gz, .txt, ...). ``shape`` is in array order (z, y, x) or (y, x); ``spacing`` in mm, (x, y, z).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.dicom.scanner import ScanReport
    from engine.progress import ProgressCallback

PROGRESS_MIN_FILES = 200  # smaller scans finish before a progress line would help
PROGRESS_INTERVAL_S = 0.5
MAX_LISTED = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scan",
        help="list the series in a folder, zip, DICOMDIR or file (headers only, nothing imported)",
        description="Read the DICOM headers under PATH and list the loadable series (stacks) with their "
        "shape, spacing and geometry warnings, plus the files that could not be used.",
    )
    parser.add_argument("path", type=Path, metavar="PATH", help="folder (recursive), .zip, DICOMDIR or file")
    parser.add_argument(
        "--json", action="store_true", help="print machine-readable JSON (structure: see docs)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="files read in parallel (default: 1 on a local disk, 4 on a network file system)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.path.exists():
        print(f"sightline scan: no such file or folder: {args.path}", file=sys.stderr)
        return 2
    from engine.dicom.scanner import scan

    workers = max(1, args.workers) if args.workers else None
    result = scan(args.path, progress=_progress_printer(), workers=workers)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(format_report(result))
    return 0


def format_report(result: ScanReport) -> str:
    """A human-readable table of the stacks, their warnings, and the files left out."""
    header = f"{'#':>3}  {'modality':<8} {'series':>6} {'stack':>5} {'images':>6}  {'shape':<16} "
    header += f"{'spacing (mm)':<22} description"
    lines = [f"{len(result.series)} stack(s), {len(result.errors)} error(s), {len(result.skipped)} skipped"]
    if result.series:
        lines += ["", header]
    for number, info in enumerate(result.series, start=1):
        shape = " x ".join(str(n) for n in info.shape)
        spacing = " x ".join(f"{s:.3g}" for s in info.spacing[: len(info.shape)]) if info.spacing else "-"
        series_number = "" if info.series_number is None else str(info.series_number)
        lines.append(
            f"{number:>3}  {info.modality or '-':<8} {series_number:>6} {info.stack_index:>5} "
            f"{len(info.instances):>6}  {shape:<16} {spacing:<22} {info.description}".rstrip()
        )
        lines += [f"       ! {warning}" for warning in info.warnings]
    for title, entries in (("error(s)", result.errors), ("skipped", result.skipped)):
        if entries:
            lines += ["", f"{len(entries)} {title}:"]
            lines += [f"  {entry.path}: {entry.reason}" for entry in entries[:MAX_LISTED]]
            if len(entries) > MAX_LISTED:
                lines.append(f"  ... and {len(entries) - MAX_LISTED} more (--json lists them all)")
    return "\n".join(lines)


def _progress_printer() -> ProgressCallback:
    """Progress on stderr for big scans: one redrawn line on a terminal, else a line every few seconds."""
    interactive = sys.stderr.isatty()
    last = [0.0]

    def progress(done: int, total: int, message: str) -> None:
        if total < PROGRESS_MIN_FILES:
            return
        now = time.monotonic()
        interval = PROGRESS_INTERVAL_S if interactive else 10 * PROGRESS_INTERVAL_S
        if done < total and now - last[0] < interval:
            return
        last[0] = now
        if interactive:
            end = "\n" if done >= total else ""
            print(
                f"\rscanning: {done}/{total} {message}"[:120].ljust(120), end=end, file=sys.stderr, flush=True
            )
        else:
            print(f"scanning: {done}/{total} files", file=sys.stderr, flush=True)

    return progress
