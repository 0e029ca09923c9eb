"""`sightline pacs ...`: configure PACS peers (pacs.json) and talk to them.

- ``pacs add NAME --host H --port P --called-ae AE [...]`` / ``pacs remove NAME`` / ``pacs list``
- ``pacs echo NAME``: C-ECHO
- ``pacs find NAME [filters] [--study UID] [--web] [--json]``: C-FIND (or QIDO-RS) studies, or the
  series of one study
- ``pacs retrieve NAME --study UID [--series UID] [--method move|get|wado]``: C-MOVE to a temporary
  storage SCP on ``receive_port``, C-GET, or WADO-RS, into a folder and the catalog
- ``pacs send NAME PATH... [--deidentify --key KEY] [--web]``: C-STORE (or STOW-RS) files or folders

Exit status: 0 success, 1 the operation failed (network error, failure status, failed instances),
2 bad arguments or configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.catalog import Catalog
    from engine.net.pacs_config import PacsConfig
    from engine.progress import ProgressCallback


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pacs",
        help="query, retrieve from and send to a configured PACS (DIMSE or DICOMweb)",
        description="Configured peers live in pacs.json in the per-user data folder.",
    )
    parser.add_argument("--config", type=Path, help="PACS list file (default: <user data folder>/pacs.json)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="add or replace a PACS")
    add.add_argument("name")
    add.add_argument("--host", required=True)
    add.add_argument("--port", type=int, required=True, help="DIMSE port")
    add.add_argument("--called-ae", required=True, help="the PACS's AE title")
    add.add_argument("--our-ae", default="SIGHTLINE", help="our AE title (default SIGHTLINE)")
    add.add_argument("--receive-port", type=int, default=11112, help="our storage SCP port for C-MOVE")
    add.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds")
    add.add_argument("--dicomweb", default="", metavar="URL", help="DICOMweb base URL")
    add.add_argument("--username", help="DICOMweb basic auth user (with --password-env)")
    add.add_argument("--password-env", metavar="VAR", help="environment variable holding the password")
    add.add_argument("--token-env", metavar="VAR", help="environment variable holding a bearer token")
    add.set_defaults(handler=_add)

    remove = actions.add_parser("remove", help="remove a PACS")
    remove.add_argument("name")
    remove.set_defaults(handler=_remove)

    listing = actions.add_parser("list", help="list the configured PACS")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)

    echo = actions.add_parser("echo", help="C-ECHO a PACS")
    echo.add_argument("name")
    echo.set_defaults(handler=_echo)

    find = actions.add_parser("find", help="find studies, or the series of one study (--study)")
    find.add_argument("name")
    find.add_argument("--patient-id", default="")
    find.add_argument("--patient-name", default="", help="DICOM matching, e.g. 'DOE^*'")
    find.add_argument("--date", default="", help="StudyDate, e.g. 20240101 or 20240101-20240131")
    find.add_argument("--accession", default="")
    find.add_argument("--modality", default="")
    find.add_argument("--study", metavar="UID", help="list the series of this study")
    find.add_argument("--web", action="store_true", help="use QIDO-RS instead of C-FIND")
    find.add_argument("--json", action="store_true")
    find.set_defaults(handler=_find)

    retrieve = actions.add_parser("retrieve", help="retrieve a study or series into the catalog")
    retrieve.add_argument("name")
    retrieve.add_argument("--study", required=True, metavar="UID")
    retrieve.add_argument("--series", metavar="UID")
    retrieve.add_argument("--method", choices=("move", "get", "wado"), default="move")
    retrieve.add_argument("--dir", type=Path, help="folder (default: <user data folder>/received)")
    retrieve.add_argument("--host", default="0.0.0.0", help="C-MOVE: address our SCP listens on")
    retrieve.add_argument("--catalog", type=Path, help="catalog file (default: the per-user catalog)")
    retrieve.set_defaults(handler=_retrieve)

    send = actions.add_parser("send", help="send files or folders (C-STORE, or STOW-RS with --web)")
    send.add_argument("name")
    send.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    send.add_argument("--deidentify", action="store_true", help="de-identify (basic profile) before sending")
    send.add_argument("--key", help="de-identification key, or a file holding it (keeps UIDs consistent)")
    send.add_argument("--allow-partial", action="store_true", help="send even if some files were refused")
    send.add_argument("--web", action="store_true", help="use STOW-RS instead of C-STORE")
    send.set_defaults(handler=_send)


# -- configuration ---------------------------------------------------------------------------------------


def _add(args: argparse.Namespace) -> int:
    from engine.net.pacs_config import Auth, PacsConfig, load_pacs, save_pacs

    try:
        auth = None
        if args.username:
            auth = Auth("basic", username=args.username, password_env=args.password_env or "")
        elif args.token_env:
            auth = Auth("token", token_env=args.token_env)
        config = PacsConfig(
            args.name, args.host, args.port, args.called_ae, args.our_ae, args.receive_port, args.timeout,
            args.dicomweb, auth,
        )  # fmt: skip
        configs = [c for c in load_pacs(args.config) if c.name != args.name] + [config]
        path = save_pacs(configs, args.config)
    except (OSError, ValueError) as error:
        return _fail(f"cannot add: {error}", 2)
    print(f"Saved PACS {args.name!r} in {path}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from engine.net.pacs_config import load_pacs, save_pacs

    try:
        configs = load_pacs(args.config)
        kept = [c for c in configs if c.name != args.name]
        if len(kept) == len(configs):
            return _fail(f"no PACS named {args.name!r}", 2)
        save_pacs(kept, args.config)
    except (OSError, ValueError) as error:
        return _fail(str(error), 2)
    print(f"Removed PACS {args.name!r}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from engine.net.pacs_config import load_pacs

    try:
        configs = load_pacs(args.config)
    except (OSError, ValueError) as error:
        return _fail(str(error), 2)
    if args.json:
        print(json.dumps([_public(c) for c in configs], indent=2))
    for config in [] if args.json else configs:
        web = f", DICOMweb {config.dicomweb_url}" if config.dicomweb_url else ""
        print(f"{config.name}: {config.called_ae}@{config.host}:{config.port} as {config.our_ae}{web}")
    return 0


def _public(config: PacsConfig) -> dict[str, object]:
    """A PACS entry without literal secrets (environment variable names are kept)."""
    data = config.to_json()
    for key in ("password", "token"):
        if key in data.get("auth", {}):
            data["auth"][key] = "***"
    return data


def _load(args: argparse.Namespace) -> PacsConfig | None:
    from engine.net.pacs_config import find_pacs

    try:
        return find_pacs(args.name, args.config)
    except (KeyError, ValueError, OSError) as error:
        _fail(str(error).strip("'\""), 2)
        return None


# -- operations --------------------------------------------------------------------------------------------


def _echo(args: argparse.Namespace) -> int:
    from engine.net.association import DicomNetError
    from engine.net.echo import echo

    pacs = _load(args)
    if pacs is None:
        return 2
    try:
        seconds = echo(pacs)
    except DicomNetError as error:
        return _fail(str(error), 1)
    print(f"C-ECHO {pacs.called_ae}@{pacs.host}:{pacs.port}: success ({seconds * 1000:.0f} ms)")
    return 0


def _find(args: argparse.Namespace) -> int:
    from engine.net import dicomweb, query
    from engine.net.association import DicomNetError

    pacs = _load(args)
    if pacs is None:
        return 2
    filters = dict(
        patient_id=args.patient_id, patient_name=args.patient_name, study_date=args.date,
        accession=args.accession, modality=args.modality,
    )  # fmt: skip
    try:
        if args.study:
            if args.web:
                matches = dicomweb.search_series(pacs, args.study)
            else:
                matches = query.find_series(pacs, args.study, modality=args.modality)
        elif args.web:
            matches = dicomweb.search_studies(pacs, **filters)
        else:
            matches = query.find_studies(pacs, **filters)
    except (DicomNetError, ValueError) as error:
        return _fail(str(error), 1)
    if args.json:
        print(json.dumps([m.to_json() for m in matches], indent=2))
        return 0
    for m in matches:
        if args.study:
            line = (
                f"{m.series_uid}  #{m.series_number}  {m.modality}  {m.description}  ({m.n_instances} images)"
            )
        else:
            who = f"{m.patient_id}  {m.patient_name}"
            line = f"{m.study_uid}  {m.date}  {who}  {m.description}  ({m.n_series} series)"
        print(line)
    print(f"{len(matches)} match(es)", file=sys.stderr)
    return 0


def _retrieve(args: argparse.Namespace) -> int:
    from engine.catalog import Catalog, CatalogError
    from engine.net.association import DicomNetError
    from engine.paths import data_dir

    pacs = _load(args)
    if pacs is None:
        return 2
    directory = args.dir or data_dir() / "received"
    methods = {"move": _by_move, "get": _by_get, "wado": _by_wado}
    try:
        with Catalog(args.catalog) as catalog:
            summary, ok = methods[args.method](args, pacs, directory, catalog)
    except (DicomNetError, CatalogError, OSError, ValueError) as error:
        return _fail(str(error), 1)
    print(f"Retrieved study {args.study} by {args.method}: {summary} -> {directory}")
    return 0 if ok else 1


def _by_move(
    args: argparse.Namespace, pacs: PacsConfig, directory: Path, catalog: Catalog
) -> tuple[str, bool]:
    """C-MOVE to a storage SCP we run for the duration, on the PACS entry's receive_port."""
    from engine.net.retrieve import move
    from engine.net.storage_scp import StorageServer

    server = StorageServer(
        directory, ae_title=pacs.our_ae, host=args.host, port=pacs.receive_port, catalog=catalog,
        timeout=pacs.timeout,
    )  # fmt: skip
    with server:
        result = move(pacs, pacs.our_ae, args.study, args.series, progress=_progress_printer("moving"))
        server.wait_idle(pacs.timeout * 4)
    return f"{result.completed} completed, {result.failed} failed, {result.warning} warnings", result.ok


def _by_get(
    args: argparse.Namespace, pacs: PacsConfig, directory: Path, catalog: Catalog
) -> tuple[str, bool]:
    from engine.net.retrieve import get

    progress = _progress_printer("getting")
    result = get(pacs, directory, args.study, args.series, catalog=catalog, progress=progress)
    return f"{result.completed} completed, {result.failed} failed, {len(result.files)} new file(s)", result.ok


def _by_wado(
    args: argparse.Namespace, pacs: PacsConfig, directory: Path, catalog: Catalog
) -> tuple[str, bool]:
    from engine.net import dicomweb

    series = (
        [args.series] if args.series else [s.series_uid for s in dicomweb.search_series(pacs, args.study)]
    )
    files = 0
    for uid in series:
        files += len(dicomweb.retrieve_series(pacs, args.study, uid, directory, catalog=catalog).files)
    return f"{len(series)} series, {files} new file(s)", True


def _send(args: argparse.Namespace) -> int:
    from engine.net import dicomweb, send
    from engine.net.association import DicomNetError

    pacs = _load(args)
    if pacs is None:
        return 2
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        return _fail(f"no such file or folder: {', '.join(missing)}", 2)
    progress = _progress_printer("sending")
    try:
        if args.deidentify:
            return _send_deidentified(args, pacs, progress)
        files = _expand(args.paths)
        if args.web:
            stow = dicomweb.store(pacs, files, progress=progress)
            for uid, reason in stow.failed:
                print(f"error: {uid}: {reason}", file=sys.stderr)
            print(f"STOW-RS: {len(stow.stored)} stored, {len(stow.failed)} failed")
            return 1 if stow.failed else 0
        result = send.send(pacs, files, progress=progress)
    except (DicomNetError, OSError, ValueError) as error:
        return _fail(str(error), 1)
    for path, reason in result.failed:
        print(f"error: {path}: {reason}", file=sys.stderr)
    print(f"C-STORE to {pacs.called_ae}: {result.summary()}")
    return 0 if result.ok else 1


def _send_deidentified(args: argparse.Namespace, pacs: PacsConfig, progress: ProgressCallback | None) -> int:
    from app.cli.deid import _read_key
    from engine.deid import DeidOptions
    from engine.net.send import send_deidentified

    key = _read_key(args.key)
    if key is None:
        print("note: no --key given; UIDs and pseudonyms will not match other sends", file=sys.stderr)
    failed = 0
    for path in args.paths:
        result = send_deidentified(
            pacs, path, DeidOptions(), key=key, allow_partial=args.allow_partial, progress=progress
        )
        for source, reason in result.deid.refused + result.deid.errors:
            print(f"warning: not sent: {source}: {reason}", file=sys.stderr)
        for sent, reason in result.send.failed:
            print(f"error: {sent.name}: {reason}", file=sys.stderr)
        failed += len(result.send.failed)
        print(f"{path}: de-identified {result.deid.summary()}; C-STORE {result.send.summary()}")
    return 1 if failed else 0


def _expand(paths: list[Path]) -> list[Path]:
    """Files as given, folders as every non-hidden file under them (sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            files.append(path)
    return files


def _fail(message: str, code: int) -> int:
    print(f"sightline pacs: {message}", file=sys.stderr)
    return code


def _progress_printer(verb: str) -> ProgressCallback | None:
    """A progress callback that redraws one line on an interactive terminal, else None."""
    if not sys.stderr.isatty():
        return None

    def progress(done: int, total: int, message: str) -> None:
        text = f"\r{verb}: {done}/{total or '?'} {message}"[:100].ljust(100)
        print(text, end="\n" if total and done >= total else "", file=sys.stderr, flush=True)

    return progress
