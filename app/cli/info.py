"""`sightline info`: list the catalog — patients, their studies, and each study's series (stacks).

``--json`` prints one object::

    {"catalog": path, "schema_version": int,
     "counts": {"patients": n, "studies": n, "series": n, "instances": n},
     "patients": [{"patient_id", "patient_name", "birth_date", "sex", "n_studies",
                   "studies": [{"study_uid", "patient_id", "date", "time", "description", "accession",
                                "status", "n_series",
                                "series": [{"series_uid", "stack_index", "study_uid", "modality",
                                            "description", "series_number", "frame_of_reference_uid",
                                            "n_instances", "shape", "spacing", "warnings"}]}]}]}

``shape`` is in array order (z, y, x) or (y, x); ``spacing`` is in mm, (x, y, z) order, or null.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.catalog import Catalog

EMPTY_HINT = "Import DICOM with: sightline import PATH  (a folder, a zip or a DICOMDIR)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info",
        help="list the catalogued patients, studies and series",
        description="List the catalog: patients -> studies -> series with modality, description, number of "
        "instances, shape, spacing and warnings.",
    )
    parser.add_argument("--catalog", type=Path, help="catalog file (default: the per-user catalog)")
    parser.add_argument(
        "--json", action="store_true", help="print machine-readable JSON (structure: see docs)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from engine.catalog import SCHEMA_VERSION, Catalog, CatalogError
    from engine.paths import catalog_path

    path = args.catalog if args.catalog is not None else catalog_path()
    listing: dict[str, Any] = {
        "catalog": str(path),
        "schema_version": SCHEMA_VERSION,
        "counts": {"patients": 0, "studies": 0, "series": 0, "instances": 0},
        "patients": [],
    }
    if path.exists():
        try:
            with Catalog(path) as catalog:
                listing["counts"] = catalog.counts()
                listing["patients"] = catalog_tree(catalog)
        except CatalogError as error:
            print(f"sightline info: {error}", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps(listing, indent=2))
    else:
        print(format_listing(listing))
    return 0


def catalog_tree(catalog: Catalog) -> list[dict[str, Any]]:
    """The catalog as nested JSON records: patients with their studies with their series."""
    patients = []
    for patient in catalog.patients():
        studies = []
        for study in catalog.studies(patient.key):
            series = [row.to_json() for row in catalog.series(study.study_uid)]
            studies.append({**study.to_json(), "series": series})
        patients.append({**patient.to_json(), "studies": studies})
    return patients


def format_listing(listing: dict[str, Any]) -> str:
    """The human-readable listing of :func:`run`'s JSON structure."""
    counts = listing["counts"]
    lines = [
        f"Catalog {listing['catalog']}: {_plural(counts['patients'], 'patient')}, "
        f"{_plural(counts['studies'], 'study', 'studies')}, {_plural(counts['series'], 'series', 'series')}, "
        f"{_plural(counts['instances'], 'instance')}"
    ]
    if not listing["patients"]:
        lines += ["The catalog is empty.", EMPTY_HINT]
    for patient in listing["patients"]:
        facts = ", ".join(
            fact
            for fact in (
                f"ID {patient['patient_id'] or '?'}",
                f"born {_date(patient['birth_date'])}" if patient["birth_date"] else "",
                patient["sex"],
            )
            if fact
        )
        lines.append(f"{patient['patient_name'] or '(no name)'}  ({facts})")
        for study in patient["studies"]:
            when = (
                " ".join(part for part in (_date(study["date"]), _time(study["time"])) if part) or "no date"
            )
            accession = f"  acc {study['accession']}" if study["accession"] else ""
            description = study["description"] or "(no description)"
            lines.append(f"  Study {when}  {description}  [{study['status']}]{accession}")
            lines.append(f"    study UID {study['study_uid']}")
            for series in study["series"]:
                lines.extend(_series_lines(series))
    return "\n".join(lines)


def _series_lines(series: dict[str, Any]) -> list[str]:
    number = f"#{series['series_number']}" if series["series_number"] is not None else "#-"
    stack = f" stack {series['stack_index']}" if series["stack_index"] else ""
    line = (
        f"    {number}{stack} {series['modality'] or '??'}  {series['description'] or '(no description)'}  "
        f"{_plural(series['n_instances'], 'instance')}  {_grid(series['shape'], series['spacing'])}"
    )
    return [line.rstrip()] + [f"      warning: {warning}" for warning in series["warnings"]]


def _grid(shape: list[int], spacing: list[float] | None) -> str:
    """Shape and spacing in (x, y, z) order, as a radiologist reads them: columns x rows x slices."""
    if not shape:
        return ""
    size = " x ".join(str(n) for n in reversed(shape))
    if not spacing:
        return size
    mm = " x ".join(f"{s:.3g}" for s in spacing[: len(shape)])
    return f"{size} @ {mm} mm"


def _date(value: str) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 and value.isdigit() else value


def _time(value: str) -> str:
    return f"{value[:2]}:{value[2:4]}" if len(value) >= 4 and value[:4].isdigit() else value


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else plural or singular + 's'}"
