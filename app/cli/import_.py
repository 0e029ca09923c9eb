"""`sightline import PATH...`: scan folders, zips, DICOMDIRs or files and add what they hold to the catalog.

Exit status: 0 when something was imported or there was nothing to do (no image found, or all of it
already catalogued); 1 when files were found but none could be used; 2 when a PATH does not exist or the
catalog cannot be opened (then nothing is imported). ``--json`` prints::

    {"catalog": path, "paths": [...],
     "import": {"studies_added", "series_added", "series_updated", "series_unchanged", "instances_added",
                "not_added": [message], "errors": [{"path", "reason"}]},
     "skipped": [{"path", "reason"}],   # files knowingly left out: non-image DICOM, duplicates, sidecars
     "counts": {"patients", "studies", "series", "instances"}}
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.catalog import ImportReport
    from engine.progress import ProgressCallback
    from engine.series import FileError

MAX_LISTED_FILES = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import",
        help="scan folders, zips, DICOMDIRs or files into the catalog",
        description="Scan each PATH (folder, zip, DICOMDIR or single file) and add its series to the "
        "catalog. Importing the same files again changes nothing.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="what to scan")
    parser.add_argument("--catalog", type=Path, help="catalog file (default: the per-user catalog)")
    parser.add_argument(
        "--json", action="store_true", help="print machine-readable JSON (structure: see docs)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    missing = [str(path) for path in args.paths if not path.exists()]
    if missing:
        print(
            f"sightline import: no such file or folder: {', '.join(missing)} (nothing imported)",
            file=sys.stderr,
        )
        return 2
    from engine.catalog import Catalog, CatalogError, ImportReport
    from engine.dicom.scanner import scan

    outcome = ImportReport()
    skipped: list[FileError] = []
    found_series = 0
    try:
        with Catalog(args.catalog) as catalog:
            for path in args.paths:
                result = scan(path, progress=_progress_printer(path))
                found_series += len(result.series)
                skipped += result.skipped
                outcome.merge(catalog.import_scan(result))
            counts = catalog.counts()
            location = catalog.path
    except CatalogError as error:
        print(f"sightline import: {error}", file=sys.stderr)
        return 2
    if args.json:
        listing = {
            "catalog": str(location),
            "paths": [str(path) for path in args.paths],
            "import": outcome.to_json(),
            "skipped": [entry.to_json() for entry in skipped],
            "counts": counts,
        }
        print(json.dumps(listing, indent=2))
    else:
        print(_summary(outcome, skipped, found_series, location))
    return 1 if not found_series and (outcome.errors or skipped) else 0


def _summary(outcome: ImportReport, skipped: list[FileError], found_series: int, location: Path) -> str:
    if not found_series:
        lines = ["No DICOM images found; nothing imported."]
    elif not outcome.changed:
        lines = [f"Nothing new: all {outcome.series_unchanged} series are already in {location}"]
    else:
        lines = [
            f"Imported {outcome.studies_added} new study(ies), {outcome.series_added} new series, "
            f"{outcome.instances_added} new instance(s) into {location}"
        ]
        if outcome.series_updated:
            lines.append(f"  {outcome.series_updated} catalogued series gained instances")
        if outcome.series_unchanged:
            lines.append(f"  {outcome.series_unchanged} series were already catalogued")
    lines += [f"  not added: {message}" for message in outcome.not_added]
    if skipped:
        lines.append(f"{len(skipped)} file(s) left out (not DICOM, not images, duplicates or sidecar files)")
        if not found_series:
            lines += _file_lines(skipped)
    if outcome.errors:
        lines.append(f"{len(outcome.errors)} file(s) could not be used:")
        lines += _file_lines(outcome.errors)
    return "\n".join(lines)


def _file_lines(entries: list[FileError]) -> list[str]:
    lines = [f"  {entry.path}: {entry.reason}" for entry in entries[:MAX_LISTED_FILES]]
    if len(entries) > MAX_LISTED_FILES:
        lines.append(f"  ... and {len(entries) - MAX_LISTED_FILES} more (--json lists them all)")
    return lines


def _progress_printer(path: Path) -> ProgressCallback | None:
    """A scan progress callback that redraws one line on an interactive terminal, else None."""
    if not sys.stderr.isatty():
        return None

    def progress(done: int, total: int, message: str) -> None:
        end = "\n" if done >= total else ""
        line = f"\rscanning {path}: {done}/{total} {message}"[:120].ljust(120)
        print(line, end=end, file=sys.stderr, flush=True)

    return progress
