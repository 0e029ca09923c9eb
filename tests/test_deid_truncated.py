"""Issue 17: deid refuses a DICOM file cut short (an element runs past the end) and writes nothing for it."""

from __future__ import annotations

import shutil
from pathlib import Path

from pydicom.data import get_testdata_file

from engine.deid import DeidContext, DeidOptions, deidentify_tree
from engine.deid.truncation import read_checked


def _copy(name: str, folder: Path) -> Path:
    source = get_testdata_file(name)
    assert source is not None, name
    return Path(shutil.copy(source, folder / name))


def test_truncated_files_are_refused_and_the_others_written(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("MR_truncated.dcm", "rtplan_truncated.dcm", "MR_small.dcm", "rtplan.dcm"):
        _copy(name, inputs)
    out = tmp_path / "out"
    report = deidentify_tree(inputs, out, DeidOptions(allow_burned_in=True), context=DeidContext(b"k"))
    refused = {path.name: reason for path, reason in report.refused}
    assert set(refused) == {"MR_truncated.dcm", "rtplan_truncated.dcm"}, report.refused
    assert refused["MR_truncated.dcm"].startswith(
        "truncated: the data element (7FE0,0010) at offset 1500 runs past the end of the file")
    assert "(300A,00B0) at offset 1418" in refused["rtplan_truncated.dcm"]
    assert sorted(source.name for source, _ in report.written) == ["MR_small.dcm", "rtplan.dcm"]
    assert len(list(out.rglob("*.dcm"))) == 2
    assert not report.errors


def test_cut_anywhere_inside_the_last_element_is_detected(tmp_path: Path) -> None:
    data = _copy("MR_small.dcm", tmp_path).read_bytes()
    _, complete = read_checked(data)
    assert complete is None
    # MR_small.dcm ends with 126 bytes of (FFFC,FFFC) padding after its 8192 bytes of pixel data
    for cut, tag in ((1, "(FFFC,FFFC)"), (100, "(FFFC,FFFC)"), (200, "(7FE0,0010)"), (8000, "(7FE0,0010)")):
        _, reason = read_checked(data[:-cut])
        assert reason is not None and reason.startswith("truncated:") and tag in reason, (cut, reason)
