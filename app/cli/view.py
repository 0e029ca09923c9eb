"""`sightline view [PATH] [--layout 1x1|1x3|2x2] [--screenshot FILE]`: open the reading window.

PATH (a folder, zip, DICOMDIR or file) is scanned into the catalog and its first series opened; without
PATH the window lists the catalog. ``--screenshot FILE`` renders the window once loading has settled,
saves a PNG and exits (status 1 when PATH could not be opened).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

LAYOUTS = ("1x1", "1x3", "2x2")
SCREENSHOT_SIZE = (1600, 1000)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "view",
        help="open the viewer (optionally on a folder, zip or DICOMDIR)",
        description="Open the reading window. PATH is imported into the catalog and its first series shown.",
    )
    parser.add_argument("path", nargs="?", type=Path, metavar="PATH", help="folder, zip, DICOMDIR or file")
    parser.add_argument("--layout", choices=LAYOUTS, default="1x3", help="view layout (default 1x3)")
    parser.add_argument("--screenshot", type=Path, metavar="FILE", help="save a PNG of the window and exit")
    parser.add_argument("--catalog", type=Path, help="catalog file (default: the per-user catalog)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.path is not None and not args.path.exists():
        print(f"sightline view: no such file or folder: {args.path}", file=sys.stderr)
        return 2
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.settings.preferences import Preferences
    from app.settings.store import qsettings
    from app.widgets.main_window import MainWindow
    from engine.catalog import Catalog, CatalogError

    app = QApplication.instance() or QApplication(sys.argv[:1])
    try:
        catalog = Catalog(args.catalog)
    except CatalogError as error:
        print(f"sightline view: {error}", file=sys.stderr)
        return 2
    window = MainWindow(Preferences(qsettings()), catalog)
    window.model.set_layout(args.layout)
    outcome = {"status": 0}
    if args.screenshot is not None:
        window.resize(*SCREENSHOT_SIZE)

        def save() -> None:
            app.processEvents()
            if not window.grab().save(str(args.screenshot)):
                print(f"sightline view: cannot write {args.screenshot}", file=sys.stderr)
                outcome["status"] = 1
            elif args.path is not None and window.model.volume is None:
                print(f"sightline view: nothing shown from {args.path}: {window.last_error or 'no images'}",
                      file=sys.stderr)
                outcome["status"] = 1
            window.close()
            app.quit()

        window.settled.connect(lambda: QTimer.singleShot(50, save))
        if args.path is None:
            QTimer.singleShot(100, save)
    window.show()
    if args.screenshot is None:
        QTimer.singleShot(0, window.editing.offer_recovery)  # label edits a crash left behind
    if args.path is not None:
        window.open_path(args.path)
    app.exec()
    catalog.close()
    return outcome["status"]
