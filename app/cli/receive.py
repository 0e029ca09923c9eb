"""`sightline receive`: run the DICOM storage SCP until interrupted (Ctrl+C or SIGTERM).

Received instances are written to DIR/<study UID>/<series UID>/<instance UID>.dcm (atomically; an
instance already stored is never overwritten) and indexed in the catalog when each association ends.
One line per finished association goes to stdout, problems to stderr; exit status 0 after a clean
shutdown, 2 when the server cannot start (port in use, bad folder, bad catalog).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.net.storage_scp import AssociationReport


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "receive",
        help="receive DICOM instances (C-STORE SCP) into a folder and the catalog",
        description="Listen for C-STORE and C-ECHO requests until interrupted. Every storage SOP class and "
        "transfer syntax is accepted; files are named from their UIDs only.",
    )
    parser.add_argument("--port", type=int, default=11112, help="TCP port (default 11112)")
    parser.add_argument("--ae", default="SIGHTLINE", help="our AE title (default SIGHTLINE)")
    parser.add_argument(
        "--dir", type=Path, help="where received files go (default: <user data folder>/received)"
    )
    parser.add_argument(
        "--host", default="0.0.0.0", help="address to listen on (default all; 127.0.0.1 for this machine)"
    )
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="CALLING_AE",
        help="accept only these calling AE titles (repeat; default: any)",
    )
    parser.add_argument(
        "--max-associations", type=int, default=10, help="simultaneous associations (default 10)"
    )
    parser.add_argument("--catalog", type=Path, help="catalog file (default: the per-user catalog)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from engine.catalog import CatalogError
    from engine.net.storage_scp import StorageServer
    from engine.paths import data_dir

    directory = args.dir or data_dir() / "received"
    stop = threading.Event()
    server = StorageServer(
        directory,
        ae_title=args.ae,
        host=args.host,
        port=args.port,
        allowed_aes=args.allow,
        max_associations=args.max_associations,
        catalog=args.catalog,
        on_association=_print_report,
    )
    try:
        server.start()
    except (OSError, CatalogError, ValueError) as error:
        print(f"sightline receive: cannot start: {error}", file=sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    allowed = ", ".join(args.allow) if args.allow else "any calling AE"
    print(
        f"Listening as {args.ae} on {args.host}:{server.port} ({allowed}); files go to {directory}",
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
    print("Stopped.", flush=True)
    return 0


def _print_report(report: AssociationReport) -> None:
    added = report.catalog.instances_added if report.catalog is not None else 0
    print(
        f"{report.calling_ae} ({report.address}): {len(report.files)} new, "
        f"{report.identical} already stored, "
        f"{report.failed} failed; {added} instance(s) added to the catalog",
        flush=True,
    )
    for message in report.warnings:
        print(f"warning: {message}", file=sys.stderr, flush=True)
    for message in report.errors:
        print(f"error: {message}", file=sys.stderr, flush=True)
    if report.index_error:
        print(f"error: indexing failed: {report.index_error}", file=sys.stderr, flush=True)
