"""The annotators' worklist over the catalog: statuses, next/previous, filters, resume where left off."""

from __future__ import annotations

import pytest

from engine.catalog import Catalog
from engine.editing.worklist import DONE, IN_PROGRESS, TO_DO, Worklist, WorklistFilter
from engine.geometry import Geometry
from engine.series import FileRef, InstanceHeader, ScanResult, SeriesInfo

STUDIES = [  # study uid, date, modality, patient id, description
    ("1.1", "20240101", "CT", "P1", "CT CHEST"),
    ("1.2", "20240102", "MR", "P2", "MR BRAIN"),
    ("1.3", "20240103", "CT", "P3", "CT CARDIAC CALCIUM"),
    ("1.4", "20240104", "MR", "P4", "MR PROSTATE"),
]


def _series(study_uid: str, date: str, modality: str, patient_id: str, description: str) -> SeriesInfo:
    instance = InstanceHeader(
        ref=FileRef(f"/data/{study_uid}/IM1.dcm"), sop_instance_uid=f"{study_uid}.1.1",
        sop_class_uid="1.2.840.10008.5.1.4.1.1.2", transfer_syntax_uid="1.2.840.10008.1.2.1",
        rows=4, columns=4, instance_number=1, position=(0.0, 0.0, 0.0), orientation=(1, 0, 0, 0, 1, 0),
    )
    return SeriesInfo(
        series_uid=f"{study_uid}.1", study_uid=study_uid, modality=modality, description=description,
        series_number=1, patient={"PatientID": patient_id, "PatientName": f"DOE^{patient_id}"},
        study={"StudyDate": date, "StudyTime": "080000", "StudyDescription": description,
               "AccessionNumber": f"ACC{study_uid}"},
        instances=[instance], shape=(1, 4, 4), geometry=Geometry((1, 4, 4)),
    )


@pytest.fixture
def catalog(tmp_path):
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        catalog.import_scan(ScanResult(series=[_series(*study) for study in STUDIES]))
        yield catalog


def _uids(items) -> list[str]:
    return [item.study_uid for item in items]


def test_queue_next_previous_and_status_in_the_catalog(catalog: Catalog) -> None:
    worklist = Worklist(catalog)
    assert _uids(worklist.items()) == ["1.1", "1.2", "1.3", "1.4"] and worklist.current is None
    first = worklist.next()
    assert first.study_uid == "1.1" and catalog.status("1.1") == IN_PROGRESS  # opening starts the work
    assert first.modalities == ("CT",)
    worklist.set_status(DONE)
    assert catalog.status("1.1") == DONE
    assert worklist.next().study_uid == "1.2"
    assert worklist.previous().study_uid == "1.1"
    assert catalog.status("1.1") == DONE  # reopening a finished study keeps it done
    worklist.open("1.4")
    assert worklist.next() is None and worklist.current.study_uid == "1.4"
    assert worklist.counts() == {TO_DO: 1, IN_PROGRESS: 2, DONE: 1}
    with pytest.raises(KeyError):
        worklist.open("9.9")


def test_filters_by_status_modality_and_text(catalog: Catalog) -> None:
    worklist = Worklist(catalog)
    worklist.set_filter(WorklistFilter(modality="mr"))
    assert _uids(worklist.items()) == ["1.2", "1.4"]
    worklist.set_filter(WorklistFilter(text="cardiac"))
    assert _uids(worklist.items()) == ["1.3"]
    worklist.set_filter(WorklistFilter(text="p4"))
    assert _uids(worklist.items()) == ["1.4"]
    catalog.set_status("1.2", DONE)
    worklist.set_filter(WorklistFilter(status=TO_DO))
    assert _uids(worklist.items()) == ["1.1", "1.3", "1.4"]
    with pytest.raises(ValueError):
        WorklistFilter(status="finished")


def test_next_skips_what_the_filter_hides_even_after_the_current_study_leaves_it(catalog: Catalog) -> None:
    worklist = Worklist(catalog)
    worklist.set_filter(WorklistFilter(status=TO_DO))
    worklist.next()  # 1.1, now in progress: no longer 'to do'
    worklist.set_status(DONE)
    assert worklist.next().study_uid == "1.2"
    catalog.set_status("1.3", DONE)
    assert worklist.next().study_uid == "1.4"
    assert worklist.previous() is None  # 1.1-1.3 are no longer 'to do'


def test_resume_where_you_left_off_and_filter_persist(catalog: Catalog, tmp_path) -> None:
    worklist = Worklist(catalog)
    worklist.set_filter(WorklistFilter(modality="CT"))
    worklist.open("1.3")
    worklist.save_position({"series_uid": "1.3.1", "slice": 42, "label": 2})
    again = Worklist(catalog)
    item, position = again.resume()
    assert item.study_uid == "1.3" and position == {"series_uid": "1.3.1", "slice": 42, "label": 2}
    assert again.filter == WorklistFilter(modality="CT")
    again.open("1.1")
    assert Worklist(catalog).resume()[1] == {}  # a new study starts at its beginning
    catalog.remove_study("1.1")
    assert Worklist(catalog).resume() is None


def test_an_unreadable_state_file_only_loses_the_position(catalog: Catalog, tmp_path) -> None:
    state = tmp_path / "worklist.json"
    state.write_text("{not json")
    worklist = Worklist(catalog, state)
    assert worklist.resume() is None and worklist.next().study_uid == "1.1"
    with pytest.raises(ValueError):
        Worklist(catalog, tmp_path / "fresh.json").save_position({"slice": 1})
