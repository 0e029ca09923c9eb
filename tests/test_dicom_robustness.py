"""Damaged and hostile DICOM: no crash, hang, abort, read outside the folder or runaway allocation (issue 17).

Each case starts from a real public file, changes what the issue reported, and checks that the scan and the
loader answer with a per-file error that names the file in plain words while the rest of the folder loads.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import pydicom
import pytest
from pydicom import uid
from pydicom.data import get_testdata_file
from pydicom.fileset import FileSet

from engine.dicom import codecs as dicom_codecs
from engine.dicom.limits import BUDGET_ENV, DEFAULT_BUDGET_BYTES, BoundedReader, allocation_budget
from engine.dicom.loader import LoadError, load_series
from engine.dicom.scanner import scan
from engine.series import FileRef
from training.public_dicom import corpus_files

RAW_TEXT = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b|Traceback|'NoneType'")
_opened: list[str] = []


def _audit(event: str, args: tuple) -> None:
    if event == "open" and args and "OUTSIDE_SECRET" in str(args[0]):
        _opened.append(str(args[0]))


sys.addaudithook(_audit)  # audit hooks cannot be removed; this one only records opens of the marked file


@pytest.fixture(autouse=True)
def _quiet_pydicom() -> None:
    warnings.simplefilter("ignore")


def corpus(name: str) -> Path:
    return Path(get_testdata_file(name))


def mutant(folder: Path, name: str, **attributes: object) -> Path:
    """A copy of corpus file ``name`` with ``attributes`` set, written under ``folder``."""
    ds = pydicom.dcmread(corpus(name))
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"bad_{name}"
    ds.save_as(target, enforce_file_format=False)
    return target


def with_good_neighbour(folder: Path) -> Path:
    shutil.copy(corpus("CT_small.dcm"), folder / "good.dcm")
    return folder


def assert_plain(reason: str) -> None:
    assert not RAW_TEXT.search(reason), reason


@pytest.mark.parametrize(
    ("name", "attributes", "words"),
    [
        ("SC_rgb_rle_2frame.dcm", {"NumberOfFrames": "1000000"}, "NumberOfFrames is 1000000"),
        ("image_dfl.dcm", {"NumberOfFrames": "99999"}, "more than the"),
        ("emri_small_jpeg_2k_lossless.dcm", {"NumberOfFrames": "60000"}, "fragments"),
        ("CT_small.dcm", {"SamplesPerPixel": 65535}, "65535 samples per pixel"),
        ("CT_small.dcm", {"BitsAllocated": 255}, "255 bits allocated"),
        ("CT_small.dcm", {"BitsAllocated": 4096}, "4096 bits allocated"),
        ("MR_small_RLE.dcm", {"BitsAllocated": 65535}, "65535 bits allocated"),
        ("JPEG2000.dcm", {"Rows": 65535, "Columns": 65535, "SamplesPerPixel": 3}, "of memory"),
    ],
)
def test_impossible_header_is_a_scan_error_and_the_folder_still_loads(
    tmp_path: Path, name: str, attributes: dict, words: str
) -> None:
    bad = mutant(tmp_path, name, **attributes)
    result = scan(with_good_neighbour(tmp_path))
    [error] = result.errors
    assert error.path == str(bad) and words in error.reason
    assert_plain(error.reason)
    [series] = result.series
    assert load_series(series).array.shape[-2:] == (128, 128)


def test_allocation_budget_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert allocation_budget() == DEFAULT_BUDGET_BYTES == 4 * 2**30
    monkeypatch.setenv(BUDGET_ENV, "16K")
    assert allocation_budget() == 16 * 1024
    [error] = scan(corpus("CT_small.dcm")).errors
    assert "would need 32 KiB of memory, more than the 16 KiB allowed" in error.reason
    assert BUDGET_ENV in error.reason


@pytest.mark.timeout(60)
def test_rust_panic_in_the_rle_decoder_is_a_per_file_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pylibjpeg-rle panics (a BaseException, which ``except Exception`` misses) on short segments: with it
    as the only decoder the loader must give a LoadError, not wait for ever for the slice."""
    monkeypatch.setitem(dicom_codecs.PLUGIN_PREFERENCE, uid.RLELossless, ("pylibjpeg",))
    bad = mutant(tmp_path, "MR_small_RLE.dcm", Rows=10)
    [series] = scan(bad).series
    with pytest.raises(LoadError) as caught:
        load_series(series)
    assert caught.value.path == str(bad) and "damaged" in caught.value.reason
    assert_plain(caught.value.reason)


@pytest.mark.parametrize(
    ("name", "attributes"),
    [
        ("JPEGLSNearLossless_16.dcm", {"Rows": 2000}),  # GDCM: len <= outbv->GetLength()
        ("SC_rgb_jpeg_dcmtk.dcm", {"BitsStored": 6}),  # GDCM: BitsAllocated == BitsStored
        ("SC_rgb_jpeg_dcmtk.dcm", {"BitsAllocated": 32}),  # GDCM: JPEGCodec.cxx:149
        ("J2K_pixelrep_mismatch.dcm", {"PhotometricInterpretation": "YBR_FULL_422"}),  # numcomps != samples
    ],
)
def test_headers_that_abort_gdcm_give_an_error_or_an_image(tmp_path: Path, name: str, attributes: dict) -> None:
    """Each of these aborted the whole process (SIGABRT inside GDCM); reaching the assertion is the test."""
    bad = mutant(tmp_path, name, **attributes)
    result = scan(bad)
    for series in result.series:
        try:
            load_series(series)
        except LoadError as error:
            assert error.path == str(bad)
            assert_plain(error.reason)


def test_a_gdcm_abort_on_a_damaged_stream_ends_only_a_worker(tmp_path: Path) -> None:
    """Four bytes changed in a JPEG Lossless stream (found by the fuzz) make GDCM abort; the loader decodes
    GDCM's frames in worker processes, so this process gets a LoadError instead."""
    data = bytearray(Path(pydicom.data.get_testdata_file("bad_sequence.dcm", read=False)).read_bytes())
    for at, value in ((495, 26), (1189, 97), (1222, 168), (2009, 82)):
        data[at] = value
    bad = tmp_path / "lossless.dcm"
    bad.write_bytes(bytes(data))
    [series] = scan(bad).series
    with pytest.raises(LoadError) as caught:
        load_series(series)
    assert caught.value.path == str(bad)
    assert_plain(caught.value.reason)


def _fileset(folder: Path) -> Path:
    """A two-image file-set under ``folder``/cd, and a marked DICOM file beside it (outside the file-set)."""
    fs = FileSet()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        fs.add(pydicom.dcmread(corpus(name)))
    fs.write(folder / "cd")
    shutil.copy(corpus("MR_small.dcm"), folder / "OUTSIDE_SECRET.dcm")
    return folder / "cd" / "DICOMDIR"


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_dicomdir_pointing_outside_its_folder_is_never_opened(tmp_path: Path, how: str) -> None:
    dicomdir = _fileset(tmp_path)
    ds = pydicom.dcmread(dicomdir)
    record = next(r for r in ds.DirectoryRecordSequence if "ReferencedFileID" in r)
    if how == "dotdot":
        record.ReferencedFileID = ["..", "OUTSIDE_SECRET.dcm"]
    elif how == "absolute":
        record.ReferencedFileID = str(tmp_path / "OUTSIDE_SECRET.dcm")
    else:
        (dicomdir.parent / "LINK").symlink_to(tmp_path / "OUTSIDE_SECRET.dcm")
        record.ReferencedFileID = "LINK"
    ds.save_as(dicomdir, enforce_file_format=False)
    _opened.clear()
    # the DICOMDIR alone: its other image; its folder: also the file the record no longer references
    for path, stacks in ((dicomdir, 1), (dicomdir.parent, 2)):
        result = scan(path)
        refused = [e for e in result.errors if "outside the DICOMDIR's folder" in e.reason]
        assert len(refused) == 1 and refused[0].path == str(dicomdir)
        assert refused[0].reason.startswith("directory record 4 references")
        assert len(result.series) == stacks
    assert _opened == []


def test_zip_members_named_outside_the_archive_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "study.zip"
    data = corpus("CT_small.dcm").read_bytes()
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("ok/IM1", "../evil", "/abs", "a/../../up"):
            zf.writestr(name, data)
    result = scan(archive)
    refused = sorted(e.path for e in result.errors if "outside the archive" in e.reason)
    assert refused == [f"{archive}::../evil", f"{archive}::/abs", f"{archive}::a/../../up"]
    assert [len(s.instances) for s in result.series] == [1]


def test_zip_member_larger_than_the_budget_is_not_unpacked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BUDGET_ENV, "1M")
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("IM1", b"\0" * (4 * 2**20))
    [error] = scan(archive).errors
    assert error.path == f"{archive}::IM1" and "more than the 1.0 MiB allowed" in error.reason


def test_symbolic_links_leaving_the_scanned_folder_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(corpus("MR_small.dcm"), outside / "OUTSIDE_SECRET.dcm")
    (tmp_path / "study").mkdir()
    folder = with_good_neighbour(tmp_path / "study")
    (folder / "link.dcm").symlink_to(outside / "OUTSIDE_SECRET.dcm")
    (folder / "linked_folder").symlink_to(outside, target_is_directory=True)
    _opened.clear()
    result = scan(folder)
    assert [e.path for e in result.errors] == [str(folder / "link.dcm")]
    assert "outside the scanned folder" in result.errors[0].reason
    assert len(result.series) == 1 and _opened == []


def test_every_public_file_is_loaded_or_refused_in_plain_words() -> None:
    """The public corpus: each file is part of a loaded stack, or is an error / skipped entry naming it in a
    sentence (never a library's exception text)."""
    accounted: dict[str, str] = {}
    for path in corpus_files():
        result = scan(path)
        for entry in result.errors + result.skipped:
            assert entry.path and entry.reason
            assert_plain(entry.reason)
            accounted.setdefault(FileRef.parse(entry.path).path, entry.reason)
        for series in result.series:
            try:
                load_series(series)
            except LoadError as error:
                assert error.path
                assert_plain(error.reason)
                accounted.setdefault(FileRef.parse(error.path).path, error.reason)
            else:
                accounted.update((i.ref.path, "loaded") for i in series.instances)
    missing = [str(p) for p in corpus_files() if str(p) not in accounted]
    assert missing == []
    assert sum(reason == "loaded" for reason in accounted.values()) >= 166  # measured: 166 of 260 files


def test_header_reads_never_allocate_a_damaged_length(tmp_path: Path) -> None:
    """pydicom reads a value with fp.read(length), and Python allocates ``length`` first: a damaged length
    of 1 TiB is a MemoryError on a plain file. Through BoundedReader the read stops at the end of the file."""
    path = tmp_path / "small.bin"
    path.write_bytes(b"0123456789")
    with path.open("rb") as fp:
        with pytest.raises(MemoryError):
            fp.read(2**40)
        fp.seek(4)
        assert BoundedReader(fp, 10).read(2**40) == b"456789"


def test_deflated_file_that_inflates_beyond_the_budget_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pydicom inflates a deflated data set in memory before parsing: 8 MiB of zeros deflate to a few KiB."""
    ds = pydicom.dcmread(corpus("image_dfl.dcm"))
    ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 2048, 4096, 8, 8, 7
    ds.PixelData = bytes(2048 * 4096)
    bomb = tmp_path / "bomb.dcm"
    ds.save_as(bomb, enforce_file_format=False)
    assert bomb.stat().st_size < 100_000
    assert [s.shape for s in scan(bomb).series] == [(2048, 4096)]
    monkeypatch.setenv(BUDGET_ENV, "4M")
    [error] = scan(bomb).errors
    assert error.path == str(bomb) and "once inflated" in error.reason


ORPHAN_PROBE = """
import time
from engine.dicom import sandbox

if __name__ == "__main__":
    pool = sandbox._current_pool()
    print(pool.submit(sandbox.os.getpid).result(60), flush=True)
    time.sleep(60)
"""


def test_decoder_workers_end_when_their_parent_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "probe.py"
    script.write_text(ORPHAN_PROBE)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[1])
    try:
        worker = int(parent.stdout.readline())
    finally:
        parent.kill()
        parent.wait(30)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _alive(worker):
        time.sleep(0.2)
    assert not _alive(worker), "a decoder worker outlived the process that started it"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is gone but not yet reaped
        return stat.read().split()[2] != "Z"
