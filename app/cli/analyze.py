"""`sightline analyze STUDY... --plugin ID --out DIR`: run an AI plugin headless over studies, in batch.

Each STUDY (folder, file, zip or DICOMDIR) goes through engine.analysis.service.analyze_study, the path the
AI panel takes too: its series are matched to the plugin's input roles, loaded and run through the AI
runtime (model hash check, suitability, domain, plausibility, audit log). Per study, DIR/<name>/ receives
``result.json`` (+ NIfTI overlays), a DICOM SR (``sr.dcm``, TID 1500), a DICOM SEG when voxels are labelled
and a one-page ``report.pdf``. Studies that fail, or that the plugin refuses (engine.ai.suitability: wrong body
part, view, species, spacing...), are reported one line each with the reason; the exit status is 1 if any
failed or was refused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="run an AI plugin on studies and write result.json, DICOM SR and a PDF per study",
        description=__doc__.splitlines()[0].split(": ", 1)[1],
    )
    parser.add_argument("studies", nargs="+", type=Path, metavar="STUDY", help="study folder, file, zip or DICOMDIR")
    parser.add_argument("--plugin", required=True, help="plugin id (see `sightline plugins`)")
    parser.add_argument("--out", required=True, type=Path, help="output folder (one subfolder per study)")
    parser.add_argument("--audit-log", type=Path, help="audit log (default: the per-user log)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from engine.ai.runner import default_registry
    from engine.ai.suitability import InputRefused
    from engine.analysis.service import analyze_study

    try:
        plugin = default_registry().get(args.plugin)
    except KeyError as error:
        print(f"sightline analyze: {error.args[0]}", file=sys.stderr)
        return 2
    failures, used = 0, set()
    for study in args.studies:
        name = _study_name(study)
        while name in used:
            name += "_"
        used.add(name)
        target = args.out / name
        try:
            written = analyze_study(study, plugin.id, target, args.audit_log)
        except InputRefused as refused:  # not a study this model was validated on: no output at all
            failures += 1
            print(f"REFUSED {study}: {refused}", file=sys.stderr)
            continue
        except Exception as error:  # one bad study must not stop the batch; the message names it
            failures += 1
            print(f"FAILED {study}: {type(error).__name__}: {error}", file=sys.stderr)
            continue
        print(f"{study}: " + ", ".join(str(path) for path in written))
    if failures:
        print(f"sightline analyze: {failures} of {len(args.studies)} studies failed", file=sys.stderr)
    return 1 if failures else 0


def _study_name(study: Path) -> str:
    name = study.resolve().name or "study"
    return name.removesuffix(".zip")
