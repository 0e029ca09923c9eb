"""The study browser keeps every series' thumbnail when the catalog is re-listed (after each open)."""

from __future__ import annotations

from pathlib import Path

from pydicom import dcmwrite

from tests.dicom_factory import synthetic_ct_series


def write_study(folder: Path, seed: int) -> None:
    datasets, _ = synthetic_ct_series(6, 32, 32, (1.0, 1.0, 2.0), (0.0, 0.0, 0.0), seed=seed)
    folder.mkdir(parents=True)
    for index, dataset in enumerate(datasets):
        dcmwrite(folder / f"{index}.dcm", dataset, enforce_file_format=True)


def test_thumbnails_of_other_studies_stay_after_an_open(window, qtbot, tmp_path: Path) -> None:
    write_study(tmp_path / "first", 1)
    write_study(tmp_path / "second", 2)
    with qtbot.waitSignal(window.settled, timeout=30000):
        window.open_path(tmp_path / "first")
    first = window.browser.series_keys()
    assert len(first) == 1
    qtbot.waitUntil(lambda: window.browser.thumbnail(first[0]) is not None, timeout=20000)
    with qtbot.waitSignal(window.settled, timeout=30000):
        window.open_path(tmp_path / "second")
    keys = window.browser.series_keys()
    assert len(keys) == 2
    qtbot.waitUntil(lambda: all(window.browser.thumbnail(key) is not None for key in keys), timeout=20000)
    window.refresh_catalog()  # a third re-listing (a received study): still there
    assert all(window.browser.thumbnail(key) is not None for key in keys)
