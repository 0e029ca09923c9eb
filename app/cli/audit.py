"""`sightline audit verify [--log PATH]`: check the hash chain of the AI audit log.

Exit status 0 when every entry chains to the one before and the head file matches the end of the log;
1 when the chain is broken (the first bad entry is named, by line number, with the reason); 2 for usage.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="check the hash-chained audit log of AI runs and exports",
        description="Tools for the append-only, hash-chained audit log of AI runs and exports.",
    )
    actions = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify",
        help="verify every entry's hash, the chain and the recorded end of the log",
        description="Detects edited, inserted, reordered and deleted entries, and a truncated log.",
    )
    verify.add_argument("--log", type=Path, help="audit log file (default: the per-user log)")
    verify.set_defaults(handler=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from engine.ai.audit import default_log_path, verify

    path = args.log if args.log is not None else default_log_path()
    outcome = verify(path)
    if outcome.ok:
        print(f"{path}: OK, {outcome.entries} entries, chain intact")
        return 0
    print(f"{path}: BROKEN at entry {outcome.bad_entry} (line {outcome.bad_entry}): {outcome.reason}")
    print(f"  entries before it verified: {outcome.entries}")
    return 1
