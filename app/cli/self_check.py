"""`sightline smoke-test [--out DIR] [--synthesis-steps N]` (the frozen app also takes `--smoke-test`).

Starts the reading window on a sample study, runs every plugin once, renders offscreen and writes the
reports and ``smoke.json`` to DIR (default: a new temporary folder). Per-user data goes to DIR/home, so
the user's catalog and audit log are untouched. Exit status 0 when every check passed, else 1 (each
failed check is printed with its reason).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "smoke-test",
        help="self-check: open a sample study, run every plugin once, write the reports",
        description="Check that this installation works: window, VTK rendering, every AI plugin, reports.",
    )
    parser.add_argument("--out", type=Path, help="output folder (default: a new temporary folder)")
    parser.add_argument("--synthesis-steps", type=int, default=2, help="DDIM steps of a synthesis plugin")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    out = (args.out or Path(tempfile.mkdtemp(prefix="sightline-smoke-"))).resolve()
    os.environ["SIGHTLINE_HOME"] = str(out / "home")
    from app.self_check import run_self_check

    checks = run_self_check(out, args.synthesis_steps)
    failed = [check.name for check in checks if not check.ok]
    print(f"SMOKE {'FAILED: ' + ', '.join(failed) if failed else 'PASSED'} ({len(checks)} checks) -> {out}")
    return 1 if failed else 0
