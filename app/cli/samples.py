"""`sightline samples`: write the phantom sample studies (chest X-ray, brain MRI, cardiac CT, prostate MRI).

The generators live in ``training.phantoms``; ARCHITECTURE §1 forbids ``app`` from importing ``training``, so
this command runs the generator in a child process and relays its output and exit status: from the source
tree ``python -m training.phantoms.samples`` (repository root as working directory), in the installed app
the app's own executable with ``--write-samples`` (its entry point runs the generator, which the bundle
carries; the rest of ``training`` is left out). The welcome screen's "Create sample studies" runs the same
child through :func:`create_samples` (progress per study, Cancel) and catalogues what it wrote.
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from engine.paths import data_dir
from engine.progress import Cancelled, CancelToken, ProgressCallback, report

if TYPE_CHECKING:
    from engine.catalog import Catalog, ImportReport

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "resources" / "samples"
GENERATOR_MODULE = "training.phantoms.samples"
FROZEN_SWITCH = "--write-samples"  # resources/packaging/sightline_main.py runs the generator on it
_STARTED = re.compile(r"^(?P<name>[\w-]+): writing \((?P<index>\d+)/(?P<total>\d+)\)")
_DONE = re.compile(r"^(?P<name>[\w-]+): (wrote|already present)")


def frozen() -> bool:
    """True inside the installed (PyInstaller) app."""
    return bool(getattr(sys, "frozen", False))


def default_out() -> Path:
    """Where `sightline samples` writes by default: the user's data folder in the installed app (the install
    folder may be read-only), resources/samples in the source tree (`make samples`)."""
    return user_samples_folder() if frozen() else DEFAULT_OUT


def user_samples_folder() -> Path:
    """The sample studies of this user: ``<data folder>/samples`` (engine.paths)."""
    return data_dir() / "samples"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "samples",
        help="write the phantom sample studies",
        description="Write deterministic phantom sample studies (DICOM + ground truth) into a folder; "
        "studies already there are kept unless --force is given. All data are synthetic.",
    )
    parser.add_argument("--out", type=Path, default=default_out(),
                        help=f"output folder (default: {default_out()})")
    parser.add_argument("--force", action="store_true", help="rewrite studies that already exist")
    parser.set_defaults(handler=run)


def generator_command(out: Path, force: bool = False) -> list[str]:
    """The child process that writes the sample studies into ``out``."""
    if frozen():
        command = [sys.executable, FROZEN_SWITCH, "--out", str(Path(out).resolve())]
    else:
        command = [sys.executable, "-m", GENERATOR_MODULE, "--out", str(Path(out).resolve())]
    return [*command, "--force"] if force else command


def _child_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if not frozen():
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    return env


def run(args: argparse.Namespace) -> int:
    """Run the sample writer in a child process; returns its exit status."""
    try:
        return subprocess.run(generator_command(args.out, args.force), cwd=REPO_ROOT, env=_child_env(),
                              check=False).returncode
    except OSError as error:
        print(f"sightline samples: cannot start the phantom generator: {error}", file=sys.stderr)
        return 1


def create_samples(out: Path | None = None, progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None, force: bool = False) -> list[Path]:
    """Write the sample studies into ``out`` (default: the user's data folder) in a child process, reporting
    ``progress(done, total, message)`` per study; ``cancel`` stops the child (Cancelled is raised, no partial
    study is left). Returns the study folders in ``out``. RuntimeError with the child's output on failure."""
    target = Path(out) if out is not None else user_samples_folder()
    target.mkdir(parents=True, exist_ok=True)
    try:
        child = subprocess.Popen(generator_command(target, force), cwd=REPO_ROOT, env=_child_env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    except OSError as error:
        raise RuntimeError(f"cannot start the sample generator: {error}") from None
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True, name="samples-output").start()
    output: list[str] = []
    done, total = 0, 0
    report(progress, 0, 1, "starting the sample generator")
    while True:
        if cancel is not None and cancel.cancelled:
            _stop(child)
            _remove_partials(target)
            raise Cancelled("sample studies: cancelled")
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            continue
        if line is None:
            break
        output.append(line)
        started = _STARTED.match(line)
        if started:
            total = int(started["total"])
            report(progress, done, total, f"writing {started['name']} ({started['index']}/{total})")
        elif _DONE.match(line):
            done += 1
            report(progress, done, max(total, done), line)
    status = child.wait()
    if status != 0:
        _remove_partials(target)
        tail = "\n".join(output[-8:])
        raise RuntimeError(f"the sample generator failed (exit status {status}): {tail}")
    return sample_folders(target)


def sample_folders(folder: Path) -> list[Path]:
    """The complete study folders in ``folder`` (a study is written beside it and renamed in when done)."""
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.is_dir() and not path.name.startswith("."))


def catalog_samples(folders: list[Path], catalog: Catalog, progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> ImportReport:
    """Scan ``folders`` and add their series to ``catalog`` (one transaction per study)."""
    from engine.catalog import ImportReport
    from engine.dicom.scanner import scan

    outcome = ImportReport()
    for index, folder in enumerate(folders):
        report(progress, index, len(folders), f"cataloguing {folder.name}")
        outcome.merge(catalog.import_scan(scan(folder, cancel=cancel), cancel=cancel))
    report(progress, len(folders), len(folders), "sample studies catalogued")
    return outcome


def _stop(child: subprocess.Popen) -> None:
    child.terminate()
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _remove_partials(folder: Path) -> None:
    for partial in folder.glob(".*.partial"):
        shutil.rmtree(partial, ignore_errors=True)
