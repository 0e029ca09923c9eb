"""`sightline samples`: write the phantom sample studies (chest X-ray, brain MRI, cardiac CT, prostate MRI).

The generators live in ``training.phantoms``; ARCHITECTURE §1 forbids ``app`` from importing ``training``, so
this command runs ``python -m training.phantoms.samples`` in a child process (same interpreter, repository
root as working directory) and relays its output and exit status.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "resources" / "samples"
GENERATOR_MODULE = "training.phantoms.samples"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "samples",
        help="write the phantom sample studies",
        description="Write deterministic phantom sample studies (DICOM + ground truth) into a folder; "
        "studies already there are kept unless --force is given. All data are synthetic.",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output folder (default: {DEFAULT_OUT})")
    parser.add_argument("--force", action="store_true", help="rewrite studies that already exist")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the sample writer in a child process; returns its exit status."""
    if getattr(sys, "frozen", False):  # the installed bundle ships the samples but not training/
        print("sightline samples: the installed app already ships the sample studies (File > Welcome); "
              "generating them needs the source tree (`make samples`)", file=sys.stderr)
        return 2
    command = [sys.executable, "-m", GENERATOR_MODULE, "--out", str(Path(args.out).resolve())]
    if args.force:
        command.append("--force")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    try:
        return subprocess.run(command, cwd=REPO_ROOT, env=env, check=False).returncode
    except OSError as error:
        print(f"sightline samples: cannot start the phantom generator: {error}", file=sys.stderr)
        return 1
