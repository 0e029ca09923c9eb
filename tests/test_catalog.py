"""The SQLite catalog: schema, idempotent and transactional import, series round trip, queries, commands."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.catalog import (
    SCHEMA_VERSION,
    STATUSES,
    Catalog,
    CatalogError,
    PatientKey,
    SeriesKey,
)
from engine.geometry import Geometry
from engine.progress import Cancelled, CancelToken
from engine.series import FileError, FileRef, InstanceHeader, ScanResult, SeriesInfo

REPO_ROOT = Path(__file__).resolve().parents[1]
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"


def oblique_direction() -> np.ndarray:
    """A proper rotation about a tilted axis: every column is off the patient axes."""
    axis = np.array([1.0, 2.0, 3.0]) / np.linalg.norm([1.0, 2.0, 3.0])
    angle = 0.3
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def make_series(
    series_uid: str = "1.2.3.1",
    study_uid: str = "1.2.3",
    n: int = 4,
    stack_index: int = 0,
    patient_id: str = "P1",
    folder: str = "/data/ct",
    skip: tuple[int, ...] = (),
) -> SeriesInfo:
    """A hand-built oblique CT stack of ``n`` slices (slices listed in ``skip`` left out)."""
    direction = oblique_direction()
    spacing = (0.7031249, 0.7031249, 1.25)
    origin = (-120.5, 33.25, 1000.0 / 3)
    slices = [k for k in range(n) if k not in skip]
    instances = [
        InstanceHeader(
            ref=FileRef(f"{folder}/IM{k:04d}.dcm"),
            sop_instance_uid=f"{series_uid}.{stack_index}.{k + 1}",
            sop_class_uid=CT_IMAGE,
            transfer_syntax_uid=EXPLICIT_LE,
            rows=16,
            columns=12,
            instance_number=k + 1,
            position=tuple(float(v) for v in np.asarray(origin) + direction[:, 2] * spacing[2] * k),
            orientation=tuple(direction[:, 0]) + tuple(direction[:, 1]),
        )
        for k in slices
    ]
    return SeriesInfo(
        series_uid=series_uid,
        study_uid=study_uid,
        modality="CT",
        description="Chest 1.25 mm",
        series_number=3,
        frame_of_reference_uid="1.2.3.9",
        patient={
            "PatientID": patient_id,
            "PatientName": "DOE^JANE",
            "PatientBirthDate": "19600101",
            "PatientSex": "F",
        },
        study={
            "StudyDate": "20240131",
            "StudyTime": "101500",
            "StudyDescription": "CT CHEST",
            "AccessionNumber": "A7",
        },
        stack_index=stack_index,
        instances=instances,
        shape=(len(slices), 16, 12),
        geometry=Geometry((len(slices), 16, 12), spacing, origin, direction),
        warnings=["slice spacing varies by up to 0.01 mm"],
    )


def multiframe_series() -> SeriesInfo:
    """One zipped enhanced-MR file whose frames are listed out of order, with per-frame hints."""
    instance = InstanceHeader(
        ref=FileRef("/data/mr.zip", "DICOM/MR/EMR0001"),
        sop_instance_uid="1.2.4.1.1",
        sop_class_uid="1.2.840.10008.5.1.4.1.1.4.1",
        transfer_syntax_uid=EXPLICIT_LE,
        rows=8,
        columns=8,
        frames=3,
    )
    return SeriesInfo(
        series_uid="1.2.4.1",
        study_uid="1.2.4",
        modality="MR",
        patient={"PatientID": "P2", "PatientName": "ROE^RICHARD", "PatientBirthDate": "", "PatientSex": "M"},
        study={"StudyDate": "", "StudyTime": "", "StudyDescription": "", "AccessionNumber": ""},
        instances=[instance],
        frame_order=[(0, 2), (0, 0), (0, 1)],
        shape=(3, 8, 8),
        geometry=Geometry((3, 8, 8), (0.5, 0.5, 2.0), (1.0, 2.0, 3.0), oblique_direction().T),
        extra={"frame_positions": [(1.0, 2.0, 3.0), (1.5, 2.5, 5.0)], "note": ("a", 1)},
    )


def series_record(info: SeriesInfo) -> dict:
    """Every field of a SeriesInfo, with the geometry as plain numbers, for exact comparison."""
    record = {name: getattr(info, name) for name in info.__dataclass_fields__ if name != "geometry"}
    geometry = info.geometry
    record["geometry"] = (
        None
        if geometry is None
        else (geometry.shape, geometry.spacing, geometry.origin, geometry.direction.tolist())
    )
    return record


def table_rows(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as connection:
        return {
            table: connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
            for table in ("patients", "studies", "series", "instances")
        }


@pytest.fixture
def catalog(tmp_path: Path):
    with Catalog(tmp_path / "catalog.sqlite") as opened:
        yield opened


# -- schema ------------------------------------------------------------------------------------------------


def test_schema_is_versioned_wal_with_foreign_keys(catalog: Catalog) -> None:
    with sqlite3.connect(catalog.path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        indexes = {
            row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
    assert {"instances_sop", "series_study", "studies_patient"} <= indexes
    assert catalog._connection().execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_catalog_from_a_newer_sightline_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(CatalogError, match="newer Sightline"):
        Catalog(path)


def test_a_file_that_is_not_a_database_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    path.write_bytes(b"not a database, just some text " * 100)
    with pytest.raises(CatalogError, match="catalog.sqlite"):
        Catalog(path)


def test_default_location_is_the_per_user_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path / "home"))
    with Catalog() as default:
        assert default.path == tmp_path / "home" / "catalog.sqlite"
    with pytest.raises(CatalogError, match="closed"):
        default.counts()


# -- round trip ----------------------------------------------------------------------------------------------


def test_series_info_round_trip_is_exact(catalog: Catalog) -> None:
    ct, mr = make_series(), multiframe_series()
    catalog.import_scan(ScanResult(series=[ct, mr]))
    for original in (ct, mr):
        rebuilt = catalog.series_info(SeriesKey(original.series_uid, original.stack_index))
        assert series_record(rebuilt) == series_record(original)
    assert catalog.series_info(SeriesKey(ct.series_uid)).geometry.same_grid(ct.geometry, tolerance_mm=0)
    with pytest.raises(KeyError, match="1.2.999"):
        catalog.series_info(SeriesKey("1.2.999"))


def test_series_without_geometry_round_trips(catalog: Catalog) -> None:
    info = make_series()
    info.geometry, info.shape = None, ()
    info.instances[0].position = info.instances[0].orientation = info.instances[0].instance_number = None
    catalog.import_scan(ScanResult(series=[info]))
    assert series_record(catalog.series_info(SeriesKey(info.series_uid))) == series_record(info)


def test_split_stacks_are_separate_series_rows(catalog: Catalog) -> None:
    first, second = make_series(n=3), make_series(n=5, stack_index=1, folder="/data/ct2")
    second.instances[0].sop_instance_uid = first.instances[0].sop_instance_uid  # one file in both stacks
    catalog.import_scan(ScanResult(series=[first, second]))
    stacks = catalog.series_by_uid(first.series_uid)
    assert [row.key for row in stacks] == [SeriesKey(first.series_uid, 0), SeriesKey(first.series_uid, 1)]
    assert [row.n_instances for row in stacks] == [3, 5]
    assert [
        row.series.stack_index for row in catalog.instances_by_uid(first.instances[0].sop_instance_uid)
    ] == [0, 1]
    rebuilt = catalog.series_info(SeriesKey(first.series_uid, 1))
    assert series_record(rebuilt) == series_record(second)
    assert catalog.counts() == {"patients": 1, "studies": 1, "series": 2, "instances": 8}


# -- idempotent import ---------------------------------------------------------------------------------------


def test_importing_the_same_scan_twice_changes_nothing(catalog: Catalog) -> None:
    scan = ScanResult(
        series=[make_series(), multiframe_series()], errors=[FileError("/data/x.txt", "not DICOM")]
    )
    first = catalog.import_scan(scan)
    assert (first.studies_added, first.series_added, first.instances_added) == (2, 2, 5)
    assert first.errors == scan.errors
    before = table_rows(catalog.path)
    second = catalog.import_scan(scan)
    assert (second.studies_added, second.series_added, second.instances_added, second.series_unchanged) == (
        0,
        0,
        0,
        2,
    )
    assert not second.changed
    assert table_rows(catalog.path) == before


def test_a_rescan_that_finds_more_instances_adds_them(catalog: Catalog) -> None:
    catalog.import_scan(ScanResult(series=[make_series(n=6, skip=(2, 4))]))
    assert catalog.counts()["instances"] == 4
    complete = make_series(n=6)
    outcome = catalog.import_scan(ScanResult(series=[complete]))
    assert (outcome.series_updated, outcome.instances_added, outcome.series_added) == (1, 2, 0)
    assert series_record(catalog.series_info(SeriesKey(complete.series_uid))) == series_record(complete)
    assert [row.instance_number for row in catalog.instances(SeriesKey(complete.series_uid))] == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]


def test_a_partial_rescan_keeps_the_stack_and_says_what_it_skipped(catalog: Catalog) -> None:
    original = make_series(n=6, skip=(5,))
    catalog.import_scan(ScanResult(series=[original]))
    moved = make_series(n=6, skip=(0, 1), folder="/mnt/copy")  # lacks slices 0-1, adds slice 5
    outcome = catalog.import_scan(ScanResult(series=[moved]))
    assert outcome.instances_added == 0 and not outcome.changed
    assert len(outcome.not_added) == 1 and "1 scanned instance(s) not added" in outcome.not_added[0]
    rebuilt = catalog.series_info(SeriesKey(original.series_uid))
    assert [i.sop_instance_uid for i in rebuilt.instances] == [i.sop_instance_uid for i in original.instances]
    assert [i.ref.path.split("/")[1] for i in rebuilt.instances] == ["data", "data", "mnt", "mnt", "mnt"]
    assert rebuilt.geometry.same_grid(original.geometry)


def test_relative_file_locations_are_stored_absolute(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    info = make_series(n=1, folder="scans")
    info.instances[0].ref = FileRef("scans/study.zip", "IM0")
    catalog.import_scan(ScanResult(series=[info]))
    [row] = catalog.instances(SeriesKey(info.series_uid))
    assert row.ref == FileRef(str(tmp_path / "scans" / "study.zip"), "IM0")


def test_reimport_keeps_the_worklist_status(catalog: Catalog) -> None:
    catalog.import_scan(ScanResult(series=[make_series()]))
    catalog.set_status("1.2.3", "in progress")
    catalog.import_scan(ScanResult(series=[make_series(n=5)]))
    assert catalog.status("1.2.3") == "in progress"


# -- transactions --------------------------------------------------------------------------------------------


def three_studies() -> ScanResult:
    return ScanResult(series=[make_series(f"1.5.{k}.1", f"1.5.{k}", patient_id=f"Q{k}") for k in range(3)])


def test_a_failing_import_leaves_nothing_partial(catalog: Catalog) -> None:
    catalog.import_scan(ScanResult(series=[make_series()]))
    before = table_rows(catalog.path)

    def fail_on_second(done: int, total: int, message: str) -> None:
        if done == 2:
            raise OSError("disk unplugged")

    with pytest.raises(OSError, match="disk unplugged"):
        catalog.import_scan(three_studies(), progress=fail_on_second)
    assert table_rows(catalog.path) == before
    assert catalog.study("1.5.0") is None
    catalog.import_scan(three_studies())  # the catalog is still writable afterwards
    assert catalog.counts()["studies"] == 4


def test_a_cancelled_import_is_rolled_back(catalog: Catalog) -> None:
    token = CancelToken()

    def cancel_after_first(done: int, total: int, message: str) -> None:
        token.cancel()

    with pytest.raises(Cancelled):
        catalog.import_scan(three_studies(), progress=cancel_after_first, cancel=token)
    assert catalog.counts() == {"patients": 0, "studies": 0, "series": 0, "instances": 0}


KILLED_IMPORT = """
import os, signal, sys
sys.path.insert(0, {root!r})
sys.path.insert(0, {tests!r})
from engine.catalog import Catalog
from engine.series import ScanResult
from test_catalog import make_series, three_studies

catalog = Catalog({path!r})
catalog.import_scan(ScanResult(series=[make_series()]))

def die(done, total, message):
    if done == 2:
        os.kill(os.getpid(), signal.SIGKILL)

catalog.import_scan(three_studies(), progress=die)
"""


def test_a_killed_import_leaves_a_consistent_catalog(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    script = KILLED_IMPORT.format(root=str(REPO_ROOT), tests=str(REPO_ROOT / "tests"), path=str(path))
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert child.returncode == -9, child.stderr.decode()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
    with Catalog(path) as catalog:
        assert [study.study_uid for study in catalog.studies()] == ["1.2.3"]
        assert catalog.counts() == {"patients": 1, "studies": 1, "series": 1, "instances": 4}


def test_readers_see_the_last_commit_while_an_import_runs(catalog: Catalog) -> None:
    catalog.import_scan(ScanResult(series=[make_series()]))
    writing, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def hold(done: int, total: int, message: str) -> None:
        writing.set()
        release.wait(30)

    def worker() -> None:
        try:
            catalog.import_scan(three_studies(), progress=hold)
        except BaseException as error:  # surfaced by the assertion below
            failures.append(error)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert writing.wait(30)
        assert catalog.counts()["studies"] == 1  # not blocked, and nothing uncommitted is visible
    finally:
        release.set()
        thread.join(30)
    assert not failures
    assert catalog.counts()["studies"] == 4


# -- status, queries, removal ----------------------------------------------------------------------------


def test_status_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as catalog:
        catalog.import_scan(ScanResult(series=[make_series()]))
        assert catalog.status("1.2.3") == STATUSES[0] == "to do"
        catalog.set_status("1.2.3", "done")
        with pytest.raises(ValueError, match="unknown study status"):
            catalog.set_status("1.2.3", "finished")
        with pytest.raises(KeyError):
            catalog.set_status("9.9", "done")
    with Catalog(path) as reopened:
        assert reopened.status("1.2.3") == "done"


def test_queries_walk_patients_studies_series_instances(catalog: Catalog) -> None:
    catalog.import_scan(ScanResult(series=[make_series(), make_series("1.2.3.2", n=2), multiframe_series()]))
    patients = catalog.patients()
    assert [p.key for p in patients] == [PatientKey("P1", "DOE^JANE"), PatientKey("P2", "ROE^RICHARD")]
    assert (patients[0].birth_date, patients[0].sex, patients[0].n_studies) == ("19600101", "F", 1)
    [study] = catalog.studies(patients[0].key)
    assert (study.study_uid, study.date, study.description, study.accession, study.n_series) == (
        "1.2.3",
        "20240131",
        "CT CHEST",
        "A7",
        2,
    )
    assert len(catalog.studies()) == 2
    series = catalog.series("1.2.3")
    assert [(s.key.series_uid, s.n_instances, s.shape) for s in series] == [
        ("1.2.3.1", 4, (4, 16, 12)),
        ("1.2.3.2", 2, (2, 16, 12)),
    ]
    assert series[0].spacing == (0.7031249, 0.7031249, 1.25)
    assert series[0].warnings == ("slice spacing varies by up to 0.01 mm",)
    instances = catalog.instances(SeriesKey("1.2.3.1"))
    assert [i.ref for i in instances] == [FileRef(f"/data/ct/IM{k:04d}.dcm") for k in range(4)]
    assert instances[1].position == make_series().instances[1].position
    [zipped] = catalog.instances_by_uid("1.2.4.1.1")
    assert (zipped.ref, zipped.frames, zipped.position) == (
        FileRef("/data/mr.zip", "DICOM/MR/EMR0001"),
        3,
        None,
    )
    assert catalog.study("1.2.4").patient == PatientKey("P2", "ROE^RICHARD")
    assert catalog.study("9.9") is None


def test_remove_study_takes_its_series_instances_and_lonely_patient(catalog: Catalog) -> None:
    catalog.import_scan(
        ScanResult(series=[make_series(), make_series("1.2.5.1", "1.2.5"), multiframe_series()])
    )
    assert catalog.remove_study("1.2.4")
    assert catalog.counts() == {"patients": 1, "studies": 2, "series": 2, "instances": 8}
    assert catalog.remove_study("1.2.3")
    assert catalog.counts() == {"patients": 1, "studies": 1, "series": 1, "instances": 4}
    assert not catalog.remove_study("1.2.3")
    assert catalog.instances_by_uid("1.2.3.1.0.1") == []


# -- commands ------------------------------------------------------------------------------------------------


def run_cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    from app.cli import main

    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_info_on_an_empty_catalog_says_how_to_import(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run_cli(["info"], capsys)
    assert code == 0
    assert "empty" in out and "sightline import PATH" in out


def test_info_lists_the_tree_and_json_has_the_documented_structure(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as catalog:
        catalog.import_scan(
            ScanResult(series=[make_series(), make_series(n=2, stack_index=1), multiframe_series()])
        )
    code, out, _ = run_cli(["info", "--catalog", str(path)], capsys)
    assert code == 0
    assert "DOE^JANE" in out and "2024-01-31 10:15" in out and "[to do]" in out
    assert "#3 stack 1 CT" in out and "12 x 16 x 4 @ 0.703 x 0.703 x 1.25 mm" in out
    assert "warning: slice spacing varies" in out
    code, out, _ = run_cli(["info", "--catalog", str(path), "--json"], capsys)
    listing = json.loads(out)
    assert listing["counts"] == {"patients": 2, "studies": 2, "series": 3, "instances": 7}
    assert listing["schema_version"] == SCHEMA_VERSION
    series = listing["patients"][0]["studies"][0]["series"]
    assert [(s["stack_index"], s["n_instances"], s["shape"]) for s in series] == [
        (0, 4, [4, 16, 12]),
        (1, 2, [2, 16, 12]),
    ]
    assert set(series[0]) == {
        "series_uid", "stack_index", "study_uid", "modality", "description", "series_number",
        "frame_of_reference_uid", "n_instances", "shape", "spacing", "warnings",
    }  # fmt: skip


def test_import_refuses_a_missing_path_and_imports_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    code, _, err = run_cli(["import", str(tmp_path), str(tmp_path / "nowhere")], capsys)
    assert code == 2
    assert "no such file or folder" in err and "nowhere" in err


def test_a_progress_callback_may_query_the_catalog_mid_import(catalog: Catalog) -> None:
    seen: list[int] = []
    catalog.import_scan(
        three_studies(), progress=lambda done, total, message: seen.append(catalog.counts()["studies"])
    )
    assert seen == [1, 2, 3]


@pytest.fixture
def dicom_folder(tmp_path: Path) -> Path:
    """pydicom's CT_small and MR_small (two patients, one study each), an RT plan and a sidecar file."""
    from pydicom.data import get_testdata_file

    folder = tmp_path / "incoming"
    folder.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm"):
        shutil.copy(get_testdata_file(name), folder / name)
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_import_command_catalogues_real_files_once(
    dicom_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from engine.dicom.loader import load_series
    from engine.dicom.scanner import scan

    code, out, _ = run_cli(["import", str(dicom_folder)], capsys)
    assert code == 0, out
    assert "Imported 2 new study(ies), 2 new series, 2 new instance(s)" in out
    code, out, _ = run_cli(["import", str(dicom_folder)], capsys)
    assert code == 0 and "Nothing new: all 2 series are already in" in out
    code, out, _ = run_cli(["import", str(dicom_folder), "--json"], capsys)
    report = json.loads(out)
    assert code == 0
    assert (report["import"]["series_added"], report["import"]["series_unchanged"]) == (0, 2)
    assert report["counts"] == {"patients": 2, "studies": 2, "series": 2, "instances": 2}
    assert sorted(Path(entry["path"]).name for entry in report["skipped"]) == ["notes.txt", "rtplan.dcm"]
    assert report["import"]["errors"] == []
    code, out, _ = run_cli(["info"], capsys)
    assert "CompressedSamples^CT1" in out and "CompressedSamples^MR1" in out
    with Catalog() as catalog:
        for scanned in scan(dicom_folder).series:
            rebuilt = catalog.series_info(SeriesKey(scanned.series_uid, scanned.stack_index))
            assert series_record(rebuilt) == series_record(scanned)
            assert np.array_equal(load_series(rebuilt).array, load_series(scanned).array)


def test_import_command_reads_a_zip(
    dicom_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(dicom_folder / "CT_small.dcm", "DICOM/CT_small.dcm")
    code, out, _ = run_cli(
        ["import", str(archive), "--catalog", str(tmp_path / "c.sqlite"), "--json"], capsys
    )
    assert code == 0
    assert json.loads(out)["import"]["instances_added"] == 1
    with Catalog(tmp_path / "c.sqlite") as catalog:
        [row] = catalog.instances_by_uid("1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322")
    assert row.ref == FileRef(str(archive), "DICOM/CT_small.dcm")
    assert row.ref.read_bytes() == (dicom_folder / "CT_small.dcm").read_bytes()


def test_import_command_fails_when_no_file_could_be_used(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "IM0001").write_text("hello")
    code, out, _ = run_cli(["import", str(folder)], capsys)
    assert code == 1
    assert "IM0001" in out
