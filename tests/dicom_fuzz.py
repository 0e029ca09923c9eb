"""Mutation fuzz of the DICOM scanner and loader: damaged and hostile files must never crash, hang or abort
the process, read outside the scanned folder, exhaust memory, or give an error that names no file.

Mutants are made from the public corpus (pydicom's test files, pydicom-data, deid-data: images of at most
``SEED_MAX_BYTES``) with a seeded generator, so a run is reproducible from ``--seed``:

- ``flip``: a few bytes changed (half the time in the first 2 KiB, where the header is);
- ``truncate``: the file cut at a random length;
- ``field``: Rows, Columns, BitsAllocated, BitsStored, SamplesPerPixel, NumberOfFrames, ... set out of range;
- ``pixel_length``: the PixelData element's length field rewritten;
- ``no_pixels``: PixelData deleted;
- ``dicomdir``: a file-set whose DICOMDIR references ``..``, an absolute path or a symbolic link to a file
  outside it (``OUTSIDE_SECRET.dcm``), is damaged, or references a deleted file;
- ``zip``: mutants zipped under hostile member names (``../x``, ``/x``), the archive damaged, or a member
  that unpacks to more than the allocation budget (a zip bomb);
- ``symlink``: a folder holding symbolic links to a file and a folder outside it.

Each case runs ``scan`` and then ``load_series`` on every stack, in a worker process with an address-space
limit (``MEMORY_LIMIT_BYTES``, RLIMIT_AS) and the engine's allocation budget set below it; the parent gives
each case ``CASE_TIMEOUT_S``. A case fails on: a signal (crash; SIGABRT is counted as an abort), a timeout
(hang), an exception escaping scan or load other than LoadError, an error or skipped entry without a path,
a reason in a library's words (``TypeError``, ``'NoneType'`` ...), running out of memory, or opening the
outside file. Failing cases are copied, with a ``failure.json``, to the reproducer folder.

``python tests/dicom_fuzz.py --mutants 20000 --out build/fuzz`` (``make fuzz N=20000``) runs a campaign and
prints ``FUZZ mutants=... crashes=... aborts=... hangs=... failures=... peak_mb=...``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SEED_MAX_BYTES = 200_000
MEMORY_LIMIT_BYTES = 2 * 2**30
ENGINE_BUDGET = "512M"  # the engine's allocation budget in the worker, well below the memory limit
CASE_TIMEOUT_S = 30.0
SECRET_NAME = "OUTSIDE_SECRET.dcm"
KINDS = ("flip", "truncate", "field", "pixel_length", "no_pixels", "dicomdir", "zip", "symlink")
WEIGHTS = (0.24, 0.08, 0.32, 0.08, 0.04, 0.1, 0.09, 0.05)
FIELD_VALUES: dict[str, tuple] = {
    "Rows": (0, 1, 2, 3, 7, 255, 4096, 65535),
    "Columns": (0, 1, 2, 3, 7, 255, 4096, 65535),
    "BitsAllocated": (0, 1, 7, 12, 24, 32, 64, 255, 4096, 65535),
    "BitsStored": (0, 1, 6, 7, 17, 33, 255, 65535),
    "HighBit": (0, 31, 255, 65535),
    "SamplesPerPixel": (0, 2, 3, 4, 255, 65535),
    "NumberOfFrames": ("0", "-1", "2", "7", "1000", "100000", "1000000", "2147483647", "1e9", "x"),
    "PixelRepresentation": (1, 2, 65535),
    "PlanarConfiguration": (1, 2),
    "PhotometricInterpretation": ("RGB", "YBR_FULL_422", "PALETTE COLOR", "MONOCHROME1", "XYZ", ""),
}
_RAW_TEXT = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b|Traceback|'NoneType'|\bpanicked\b")
_PIXEL_TAG = b"\xe0\x7f\x10\x00"


# ----------------------------------------------------------------------------------------------- mutants


def seed_files() -> list[Path]:
    """Corpus images small enough to mutate quickly: DICOM files (preamble) holding a PixelData element."""
    sys.path.insert(0, str(REPO))
    from training.public_dicom import corpus_files

    seeds = []
    for path in corpus_files():
        if path.stat().st_size > SEED_MAX_BYTES:
            continue
        data = path.read_bytes()
        if data[128:132] == b"DICM" and _PIXEL_TAG in data:
            seeds.append(path)
    return seeds


@dataclass
class Templates:
    """What every case may copy: the seeds, an outside file, a file-set and a zip bomb."""

    seeds: list[Path]
    secret: Path
    fileset: Path
    bomb: Path


def make_templates(work: Path, seeds: list[Path]) -> Templates:
    """Write the shared templates under ``work`` (the outside file sits beside, not inside, any case)."""
    import pydicom
    from pydicom.fileset import FileSet

    work.mkdir(parents=True, exist_ok=True)
    secret = work / SECRET_NAME
    shutil.copy(_native_seed(seeds), secret)
    fileset = work / "fileset_template"
    if not fileset.exists():
        fs = FileSet()
        for seed in [s for s in seeds if "CT_small" in s.name or "MR_small" in s.name][:3] or seeds[:3]:
            fs.add(pydicom.dcmread(seed))
        fs.write(fileset)
    bomb = work / "bomb_template.zip"
    if not bomb.exists():
        with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            with archive.open("IM0001", "w", force_zip64=True) as member:
                block = b"\0" * 2**24
                for _ in range(40):  # 640 MiB of zeros: more than the worker's budget
                    member.write(block)
    return Templates(seeds, secret, fileset, bomb)


def _native_seed(seeds: list[Path]) -> Path:
    return next((s for s in seeds if s.name == "CT_small.dcm"), seeds[0])


def build_case(rng: np.random.Generator, templates: Templates, case: Path) -> str:
    """Write one mutant case (a folder) and return what was done to it."""
    case.mkdir(parents=True)
    kind = str(rng.choice(KINDS, p=WEIGHTS))
    seed = templates.seeds[int(rng.integers(len(templates.seeds)))]
    if kind == "dicomdir":
        return "dicomdir:" + _dicomdir_case(rng, templates, case)
    if kind == "zip":
        return "zip:" + _zip_case(rng, templates, case)
    if kind == "symlink":
        shutil.copy(seed, case / "IM0001.dcm")
        (case / "LINK.dcm").symlink_to(templates.secret)
        (case / "linkdir").symlink_to(templates.secret.parent, target_is_directory=True)
        return f"symlink:{seed.name}"
    data = seed.read_bytes()
    mutated, what = _mutate(rng, kind, data)
    if rng.random() < 0.15:  # a second, independent byte mutation
        mutated, extra = _flip(rng, mutated)
        what += "+" + extra
    (case / "IM0001.dcm").write_bytes(mutated)
    return f"{kind}:{seed.name}:{what}"


def _mutate(rng: np.random.Generator, kind: str, data: bytes) -> tuple[bytes, str]:
    if kind == "truncate":
        at = int(rng.integers(0, len(data)))
        return data[:at], f"cut at {at}"
    if kind == "pixel_length":
        return _pixel_length(rng, data)
    if kind in ("field", "no_pixels"):
        try:
            return _edit_dataset(rng, kind, data)
        except Exception:  # noqa: BLE001 - pydicom refused to write this value: flip bytes instead
            pass
    return _flip(rng, data)


def _flip(rng: np.random.Generator, data: bytes) -> tuple[bytes, str]:
    buffer = bytearray(data)
    count = int(rng.integers(1, 17))
    span = min(len(buffer), 2048) if rng.random() < 0.5 else len(buffer)
    positions = sorted(int(p) for p in rng.integers(0, max(span, 1), count))
    for position in positions:
        if position < len(buffer):
            buffer[position] = int(rng.integers(0, 256))
    return bytes(buffer), f"flip {positions}"


def _pixel_length(rng: np.random.Generator, data: bytes) -> tuple[bytes, str]:
    at = data.rfind(_PIXEL_TAG)
    explicit = data[at + 4 : at + 6] in (b"OB", b"OW")
    field_at = at + (8 if explicit else 4)
    original = int.from_bytes(data[field_at : field_at + 4], "little")
    choices = (0, 1, 2, max(original - 1, 0), original + 1, original * 2, 0x7FFFFFFF, 0xFFFFFFFE, 0xFFFFFFFF)
    value = int(rng.choice(choices)) & 0xFFFFFFFF
    return data[:field_at] + value.to_bytes(4, "little") + data[field_at + 4 :], f"length {original}->{value}"


def _edit_dataset(rng: np.random.Generator, kind: str, data: bytes) -> tuple[bytes, str]:
    import io

    import pydicom

    ds = pydicom.dcmread(io.BytesIO(data), force=True)
    if kind == "no_pixels":
        del ds.PixelData
        what = "PixelData deleted"
    else:
        keyword = str(rng.choice(list(FIELD_VALUES)))
        values = FIELD_VALUES[keyword]
        value = values[int(rng.integers(len(values)))]
        setattr(ds, keyword, value)
        what = f"{keyword}={value!r}"
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=False)
    return out.getvalue(), what


def _dicomdir_case(rng: np.random.Generator, templates: Templates, case: Path) -> str:
    import pydicom

    fileset = case / "cd"
    shutil.copytree(templates.fileset, fileset)
    dicomdir = fileset / "DICOMDIR"
    how = str(rng.choice(("dotdot", "absolute", "link", "flip", "truncate", "missing")))
    if how in ("flip", "truncate"):
        data = dicomdir.read_bytes()
        mutated = _flip(rng, data)[0] if how == "flip" else data[: int(rng.integers(0, len(data)))]
        dicomdir.write_bytes(mutated)
        return how
    ds = pydicom.dcmread(dicomdir)
    records = [r for r in ds.DirectoryRecordSequence if "ReferencedFileID" in r]
    record = records[int(rng.integers(len(records)))]
    if how == "missing":
        fileset.joinpath(*record.ReferencedFileID).unlink()
        return how
    if how == "dotdot":
        depth = len(fileset.relative_to(templates.secret.parent).parts)
        record.ReferencedFileID = [".."] * depth + [SECRET_NAME]
    elif how == "absolute":
        record.ReferencedFileID = str(templates.secret)
    else:
        (fileset / "LINK").symlink_to(templates.secret)
        record.ReferencedFileID = "LINK"
    ds.save_as(dicomdir, enforce_file_format=False)
    return how


def _zip_case(rng: np.random.Generator, templates: Templates, case: Path) -> str:
    how = str(rng.choice(("names", "flip", "truncate", "bomb")))
    target = case / "study.zip"
    if how == "bomb":
        shutil.copy(templates.bomb, target)
        return how
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, name in enumerate(("IM0001.dcm", "../evil.dcm", "/abs.dcm", "a/../../up.dcm")):
            seed = templates.seeds[int(rng.integers(len(templates.seeds)))]
            data = seed.read_bytes() if index == 0 else _flip(rng, seed.read_bytes())[0]
            archive.writestr(name, data)
    if how != "names":
        data = target.read_bytes()
        mutated = _flip(rng, data)[0] if how == "flip" else data[: int(rng.integers(0, len(data)))]
        target.write_bytes(mutated)
    return how


# ----------------------------------------------------------------------------------------------- worker


def worker_main() -> None:
    """Run cases named on stdin, one JSON line of results per case on stdout (the child process)."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    import warnings

    warnings.simplefilter("ignore")
    opened_outside: list[str] = []

    def audit(event: str, args: tuple) -> None:
        if event == "open" and args and SECRET_NAME in str(args[0]):
            opened_outside.append(str(args[0]))

    sys.addaudithook(audit)
    from engine.dicom.loader import LoadError, load_series
    from engine.dicom.scanner import scan

    for line in sys.stdin:
        _reset_peak()
        opened_outside.clear()
        failures = _run_case(Path(line.strip()), scan, load_series, LoadError)
        failures += [f"opened a file outside the scanned folder: {path}" for path in opened_outside]
        print(json.dumps({"failures": failures, "peak_mb": _peak_mb()}), flush=True)


def _run_case(path: Path, scan, load_series, load_error: type[Exception]) -> list[str]:
    failures: list[str] = []
    try:
        report = scan(path)
    except Exception as exc:  # noqa: BLE001 - any escape is a finding
        return [f"scan raised {type(exc).__name__}: {exc}"]
    for entry in report.errors + report.skipped:
        failures += _bad_reason(entry.path, entry.reason)
    for series in report.series:
        try:
            load_series(series)
        except load_error as exc:
            failures += _bad_reason(exc.path, exc.reason)
        except Exception as exc:  # noqa: BLE001 - any escape is a finding
            failures.append(f"load raised {type(exc).__name__}: {exc}")
    return failures


def _bad_reason(path: str, reason: str) -> list[str]:
    problems = []
    if not path:
        problems.append(f"error without a path: {reason}")
    if _RAW_TEXT.search(reason):
        problems.append(f"library text in a reason: {path}: {reason}")
    if reason.startswith("there is not enough memory"):
        problems.append(f"out of memory: {path}: {reason}")
    return problems


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------------------------- parent


@dataclass
class Outcome:
    """What one case did: failure descriptions (empty = fine), its peak memory, and the kind of failure."""

    failures: list[str]
    peak_mb: float = 0.0
    verdict: str = "ok"  # ok | failure | crash | abort | hang


class Worker:
    """The child process that runs cases; restarted after it dies or hangs."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.process: subprocess.Popen | None = None
        self.stderr_path = work / "worker.stderr"

    def run(self, case: Path, timeout: float) -> Outcome:
        process = self.process if self.process and self.process.poll() is None else self._start()
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(f"{case}\n")
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        if not ready:
            self.stop()
            return Outcome([f"no answer within {timeout:.0f} s"], verdict="hang")
        line = process.stdout.readline()
        if not line:
            code = process.wait()
            name = signal.Signals(-code).name if code < 0 else f"exit status {code}"
            tail = self.stderr_path.read_text(errors="replace")[-2000:]
            verdict = "abort" if code == -signal.SIGABRT else "crash"
            self.process = None
            return Outcome([f"worker died: {name}", tail], verdict=verdict)
        result = json.loads(line)
        return Outcome(result["failures"], result["peak_mb"], "failure" if result["failures"] else "ok")

    def _start(self) -> subprocess.Popen:
        env = {**os.environ, "SIGHTLINE_MAX_IMAGE_BYTES": ENGINE_BUDGET, "PYTHONPATH": _python_path()}
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr_path.open("w"),
            text=True,
            env=env,
            cwd=REPO,
        )
        return self.process

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def _python_path() -> str:
    parts = [str(REPO), os.environ.get("PYTHONPATH", "")]
    return os.pathsep.join(p for p in parts if p)


@dataclass
class Summary:
    """A campaign's counts, its worst peak memory and the failing cases."""

    mutants: int = 0
    verdicts: Counter = field(default_factory=Counter)
    peak_mb: float = 0.0
    failures: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        v = self.verdicts
        return (
            f"FUZZ mutants={self.mutants} crashes={v['crash']} aborts={v['abort']} hangs={v['hang']}"
            f" failures={v['failure']} peak_mb={self.peak_mb:.0f} seconds={self.seconds:.0f}"
        )


def campaign(
    mutants: int,
    seed: int,
    out: Path,
    work: Path | None = None,
    timeout: float = CASE_TIMEOUT_S,
    progress_every: int = 0,
) -> Summary:
    """Run ``mutants`` cases from ``seed``; copy each failing case with a failure.json under ``out``.
    ``progress_every`` > 0 prints the running counts to stderr every that many cases."""
    import warnings

    warnings.simplefilter("ignore")  # pydicom warns about every invalid value the mutants are made of
    start = time.perf_counter()
    own_work = work is None
    work = Path(tempfile.mkdtemp(prefix="sightline-fuzz-")) if work is None else work
    templates = make_templates(work, seed_files())
    rng = np.random.default_rng(seed)
    worker = Worker(work)
    summary = Summary()
    try:
        for index in range(mutants):
            case = work / "cases" / f"{index:06d}"
            shutil.rmtree(case, ignore_errors=True)
            what = build_case(rng, templates, case)
            outcome = worker.run(case, timeout)
            summary.mutants += 1
            summary.verdicts[outcome.verdict] += 1
            summary.peak_mb = max(summary.peak_mb, outcome.peak_mb)
            if outcome.verdict != "ok":
                record = {"case": index, "seed": seed, "mutation": what, "verdict": outcome.verdict,
                          "failures": outcome.failures}
                summary.failures.append(record)
                _keep(case, out / f"{index:06d}-{outcome.verdict}", record)
            shutil.rmtree(case, ignore_errors=True)
            if progress_every and summary.mutants % progress_every == 0:
                summary.seconds = time.perf_counter() - start
                print(summary.line(), file=sys.stderr, flush=True)
    finally:
        worker.stop()
        if own_work:
            shutil.rmtree(work, ignore_errors=True)
    summary.seconds = time.perf_counter() - start
    return summary


def _keep(case: Path, target: Path, record: dict) -> None:
    """Copy a failing case (symbolic links as links) and describe it in failure.json."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(case, target, symlinks=True)
    (target / "failure.json").write_text(json.dumps(record, indent=2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=300)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--out", type=Path, default=REPO / "build" / "fuzz")
    parser.add_argument("--timeout", type=float, default=CASE_TIMEOUT_S)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main()
        return 0
    summary = campaign(args.mutants, args.seed, args.out, timeout=args.timeout, progress_every=1000)
    for failure in summary.failures:
        print(f"{failure['verdict']}: case {failure['case']} {failure['mutation']}: {failure['failures'][0]}")
    print(summary.line())
    by_kind = Counter(f["mutation"].split(":")[0] for f in summary.failures)
    if by_kind:
        print("failures by mutation: " + ", ".join(f"{k}={n}" for k, n in sorted(by_kind.items())))
    print(f"reproducers: {args.out}" if summary.failures else "no failures")
    return 1 if summary.failures else 0


if __name__ == "__main__":
    sys.exit(main())
