"""Acceptance (issue 17): de-identification adds no dciodvfy error to any object of the public corpora.

Every file of pydicom's test files (``pydicom.data.get_testdata_files()``, which includes pydicom-data's
data_store), of pydicom-data's data_store and of deid-data is de-identified on its own with the basic
profile (burned-in images allowed, so that none is left out); zip members are de-identified in place.
dciodvfy (dicom3tools) then checks each original and its de-identified copy, and the copy's errors,
normalised, must all be among the original's. Normalising removes what de-identification changes on
purpose: UIDs and the quoted values of "Value invalid"-type messages (an error about a value is the same
error whichever value it holds).

The three originals cut short on purpose (MR_truncated.dcm, rtplan_truncated.dcm: an element runs past the
end of the file; emri_small_jpeg_2k_lossless_too_short.dcm: the file ends inside its encapsulated pixel
data) are refused by deid, so no copy is compared; the test checks that exactly these are refused.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydicom.data import get_testdata_files

from engine.deid import DeidContext, DeidOptions, deidentify_tree
from engine.series import FileRef

pytestmark = pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (dicom3tools) not installed")

UNREADABLE_BY_DCIODVFY = "Dicom dataset read failed"
# cut short on purpose, refused by deid; the JPEG 2000 file ends inside its encapsulated pixel data
TRUNCATED_ON_PURPOSE = ["MR_truncated.dcm", "emri_small_jpeg_2k_lossless_too_short.dcm", "rtplan_truncated.dcm"]


def _package_root(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.submodule_search_locations, f"{name} is not installed"
    return Path(next(iter(spec.submodule_search_locations)))


def corpus_files() -> list[Path]:
    """Every file of the three public corpora (the folders' DICOMDIR indexes excepted: their files are here)."""
    files = {Path(p).resolve() for p in get_testdata_files()}
    for root in (_package_root("data_store") / "data", _package_root("deid_data")):
        files |= {p.resolve() for p in root.rglob("*")}
    return sorted(p for p in files if p.is_file() and p.name != "DICOMDIR" and p.suffix != ".py" and
                  "__pycache__" not in p.parts)


def normalise(line: str) -> str:
    """An error line without the UIDs and values that de-identification changes by design."""
    line = re.sub(r"= <[^>]*>", "= <value>", line)
    line = re.sub(r"\b\d+(?:\.\d+)+\b", "<uid>", line)
    return re.sub(r"(UID) \S+$", r"\1 <uid>", line)


def dciodvfy(path: Path) -> list[str]:
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, errors="replace", timeout=60)
    return [line.strip() for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]


def _source_file(source: Path, scratch: Path) -> Path:
    """The original as a file dciodvfy can open: zip members are extracted to ``scratch``."""
    ref = FileRef.parse(str(source))
    if ref.member is None:
        return Path(ref.path)
    target = scratch / f"{abs(hash(str(source)))}.dcm"
    with zipfile.ZipFile(ref.path) as archive:
        target.write_bytes(archive.read(ref.member))
    return target


def test_deid_adds_no_dciodvfy_error_to_the_public_corpora(tmp_path: Path) -> None:
    context = DeidContext(b"dciodvfy-corpus-key")
    options = DeidOptions(allow_burned_in=True)
    pairs: list[tuple[Path, Path]] = []
    refused: list[tuple[Path, str]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for index, path in enumerate(corpus_files()):
            report = deidentify_tree(path, tmp_path / "out" / str(index), options, context=context)
            pairs.extend(report.written)
            refused.extend(report.refused)
    scratch = tmp_path / "members"
    scratch.mkdir()
    originals = [_source_file(source, scratch) for source, _ in pairs]
    with ThreadPoolExecutor(2) as pool:
        before = list(pool.map(dciodvfy, originals))
        after = list(pool.map(dciodvfy, [out for _, out in pairs]))

    unreadable = {str(source) for (source, _), errors in zip(pairs, before, strict=True)
                  if any(UNREADABLE_BY_DCIODVFY in e for e in errors)}
    new_errors = {}
    for (source, _), errors_before, errors_after in zip(pairs, before, after, strict=True):
        added = {normalise(e) for e in errors_after} - {normalise(e) for e in errors_before}
        if added:
            new_errors[str(source)] = sorted(added)
    print(f"DEID-DCIODVFY objects={len(pairs)} unreadable_originals={len(unreadable)} "
          f"with_new_errors={len(new_errors)}")
    assert len(pairs) >= 220, len(pairs)  # 228 objects are written (the three truncated files are refused)
    truncated = sorted(source.name for source, reason in refused if reason.startswith("truncated:"))
    assert truncated == TRUNCATED_ON_PURPOSE, refused
    assert not new_errors, new_errors
