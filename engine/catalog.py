"""The SQLite catalog of imported studies: patients -> studies -> series (stacks) -> instances.

Like Slicer's DICOM database it is the embedded index the browser lists and the loader starts from. It
keeps header facts and file locations only, never pixels, and enough of each scanned stack (instance order,
frame order, geometry) to rebuild its :class:`~engine.series.SeriesInfo` without rescanning.

Concurrency: every thread gets its own connection; the database runs in WAL mode, so the UI thread reads
while an import writes in a worker. Each import is one transaction: a failure or a killed process leaves
the catalog as it was before that import.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from engine.geometry import Geometry
from engine.paths import catalog_path
from engine.progress import CancelToken, ProgressCallback, report
from engine.series import FileError, FileRef, InstanceHeader, ScanResult, SeriesInfo

STATUSES = ("to do", "in progress", "done")  # the annotator worklist states of a study

_PATIENT_TAGS = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex")
_STUDY_TAGS = ("StudyDate", "StudyTime", "StudyDescription", "AccessionNumber")

# Migration i brings a catalog from schema version i to i + 1 (PRAGMA user_version holds the version).
_MIGRATIONS = (
    """
    CREATE TABLE patients (
        id INTEGER PRIMARY KEY,
        patient_id TEXT NOT NULL,
        patient_name TEXT NOT NULL,
        birth_date TEXT NOT NULL DEFAULT '',
        sex TEXT NOT NULL DEFAULT '',
        UNIQUE (patient_id, patient_name)
    );
    CREATE TABLE studies (
        id INTEGER PRIMARY KEY,
        study_uid TEXT NOT NULL UNIQUE,
        patient INTEGER NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
        study_date TEXT NOT NULL DEFAULT '',
        study_time TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        accession TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'to do' CHECK (status IN ('to do', 'in progress', 'done'))
    );
    CREATE INDEX studies_patient ON studies (patient);
    CREATE TABLE series (
        id INTEGER PRIMARY KEY,
        study INTEGER NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
        series_uid TEXT NOT NULL,
        stack_index INTEGER NOT NULL DEFAULT 0,
        modality TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        series_number INTEGER,
        frame_of_reference_uid TEXT NOT NULL DEFAULT '',
        shape TEXT NOT NULL DEFAULT '[]',
        spacing TEXT,
        geometry TEXT,
        frame_order TEXT NOT NULL DEFAULT '[]',
        warnings TEXT NOT NULL DEFAULT '[]',
        extra TEXT NOT NULL DEFAULT '{}',
        UNIQUE (series_uid, stack_index)
    );
    CREATE INDEX series_study ON series (study);
    CREATE TABLE instances (
        id INTEGER PRIMARY KEY,
        series INTEGER NOT NULL REFERENCES series (id) ON DELETE CASCADE,
        slice_index INTEGER NOT NULL,
        sop_instance_uid TEXT NOT NULL,
        sop_class_uid TEXT NOT NULL DEFAULT '',
        transfer_syntax_uid TEXT NOT NULL DEFAULT '',
        location TEXT NOT NULL,
        rows INTEGER NOT NULL,
        columns INTEGER NOT NULL,
        frames INTEGER NOT NULL DEFAULT 1,
        instance_number INTEGER,
        position_x REAL,
        position_y REAL,
        position_z REAL,
        orientation TEXT,
        UNIQUE (series, sop_instance_uid)
    );
    CREATE INDEX instances_sop ON instances (sop_instance_uid);
    CREATE INDEX instances_order ON instances (series, slice_index);
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)

_SERIES_COLUMNS = (
    "series_uid", "stack_index", "modality", "description", "series_number", "frame_of_reference_uid",
    "shape", "spacing", "geometry", "frame_order", "warnings", "extra",
)  # fmt: skip
_SERIES_INSERT = (
    f"INSERT INTO series (study, {', '.join(_SERIES_COLUMNS)}) VALUES (?{', ?' * len(_SERIES_COLUMNS)})"
)
_SERIES_UPDATE = f"UPDATE series SET study = ?, {', '.join(f'{c} = ?' for c in _SERIES_COLUMNS)} WHERE id = ?"

_INSTANCE_COLUMNS = (
    "sop_instance_uid", "sop_class_uid", "transfer_syntax_uid", "location", "rows", "columns", "frames",
    "instance_number", "position_x", "position_y", "position_z", "orientation",
)  # fmt: skip
_INSTANCE_UPSERT = (
    f"INSERT INTO instances (series, slice_index, {', '.join(_INSTANCE_COLUMNS)}) "
    f"VALUES (?, ?{', ?' * len(_INSTANCE_COLUMNS)}) ON CONFLICT (series, sop_instance_uid) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in ("slice_index", *_INSTANCE_COLUMNS[1:]))
)


class CatalogError(Exception):
    """The catalog file cannot be used (e.g. written by a newer Sightline)."""


class PatientKey(NamedTuple):
    """Patients are told apart by PatientID plus PatientName (IDs from different issuers may collide)."""

    patient_id: str
    patient_name: str


class SeriesKey(NamedTuple):
    """A catalogued stack: a series, or one stack of a series the scanner split."""

    series_uid: str
    stack_index: int = 0


@dataclass(frozen=True)
class PatientRow:
    """A patient as the browser lists it."""

    key: PatientKey
    birth_date: str
    sex: str
    n_studies: int

    def to_json(self) -> dict[str, Any]:
        return {
            "patient_id": self.key.patient_id,
            "patient_name": self.key.patient_name,
            "birth_date": self.birth_date,
            "sex": self.sex,
            "n_studies": self.n_studies,
        }


@dataclass(frozen=True)
class StudyRow:
    """A study with its worklist status and number of stacks."""

    study_uid: str
    patient: PatientKey
    date: str
    time: str
    description: str
    accession: str
    status: str
    n_series: int

    def to_json(self) -> dict[str, Any]:
        return {
            "study_uid": self.study_uid,
            "patient_id": self.patient.patient_id,
            "date": self.date,
            "time": self.time,
            "description": self.description,
            "accession": self.accession,
            "status": self.status,
            "n_series": self.n_series,
        }


@dataclass(frozen=True)
class SeriesRow:
    """A catalogued stack as the browser lists it (``shape`` in array order, ``spacing`` in ITK order, mm)."""

    key: SeriesKey
    study_uid: str
    modality: str
    description: str
    series_number: int | None
    frame_of_reference_uid: str
    n_instances: int
    shape: tuple[int, ...]
    spacing: tuple[float, float, float] | None
    warnings: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "series_uid": self.key.series_uid,
            "stack_index": self.key.stack_index,
            "study_uid": self.study_uid,
            "modality": self.modality,
            "description": self.description,
            "series_number": self.series_number,
            "frame_of_reference_uid": self.frame_of_reference_uid,
            "n_instances": self.n_instances,
            "shape": list(self.shape),
            "spacing": list(self.spacing) if self.spacing else None,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class InstanceRow:
    """Where one instance of a stack lives, and its place in the stack."""

    series: SeriesKey
    sop_instance_uid: str
    ref: FileRef
    instance_number: int | None
    position: tuple[float, float, float] | None
    frames: int
    transfer_syntax_uid: str


@dataclass
class ImportReport:
    """What one import added; ``not_added`` explains scanned instances the catalog could not take."""

    studies_added: int = 0
    series_added: int = 0
    series_updated: int = 0
    series_unchanged: int = 0
    instances_added: int = 0
    not_added: list[str] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.series_added or self.series_updated)

    def merge(self, other: ImportReport) -> None:
        """Add ``other``'s numbers and messages to this report."""
        self.studies_added += other.studies_added
        self.series_added += other.series_added
        self.series_updated += other.series_updated
        self.series_unchanged += other.series_unchanged
        self.instances_added += other.instances_added
        self.not_added += other.not_added
        self.errors += other.errors

    def to_json(self) -> dict[str, Any]:
        return {
            "studies_added": self.studies_added,
            "series_added": self.series_added,
            "series_updated": self.series_updated,
            "series_unchanged": self.series_unchanged,
            "instances_added": self.instances_added,
            "not_added": list(self.not_added),
            "errors": [e.to_json() for e in self.errors],
        }


class Catalog:
    """The catalog database at ``path`` (default: :func:`engine.paths.catalog_path`); safe to share
    between threads. Use as a context manager or call :meth:`close` when done."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path is not None else catalog_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connections: dict[threading.Thread, sqlite3.Connection] = {}
        self._connections_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._closed = False
        try:
            connection = self._connection()
            connection.execute("PRAGMA journal_mode=WAL")
            _migrate(connection)
        except sqlite3.DatabaseError as error:
            self.close()
            raise CatalogError(f"cannot open the catalog {self.path}: {error}") from error
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every thread's connection; call it when no other thread is using the catalog."""
        with self._connections_lock:
            self._closed = True
            for connection in self._connections.values():
                connection.close()
            self._connections.clear()

    # -- writing -----------------------------------------------------------------------------------------

    def import_scan(
        self, result: ScanResult, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> ImportReport:
        """Add a scan's stacks in one transaction; importing the same scan again changes nothing.

        File locations are stored as absolute paths.

        A stack already catalogued is replaced when the scan holds all its instances (a re-scan that found
        more); otherwise the catalogued stack is kept, the file locations of the instances the scan saw are
        refreshed, and instances it cannot take are listed in ``not_added``.
        """
        outcome = ImportReport(errors=list(result.errors))
        total = len(result.series)
        with self._write() as connection:
            for done, info in enumerate(result.series):
                if cancel is not None:
                    cancel.raise_if_cancelled()
                _import_series(connection, info, outcome)
                report(progress, done + 1, total, f"catalogued {info.modality} {info.description}".strip())
        return outcome

    def set_status(self, study_uid: str, status: str) -> None:
        """Set a study's worklist status (one of :data:`STATUSES`)."""
        if status not in STATUSES:
            raise ValueError(f"unknown study status {status!r}; expected one of {', '.join(STATUSES)}")
        with self._write() as connection:
            cursor = connection.execute(
                "UPDATE studies SET status = ? WHERE study_uid = ?", (status, study_uid)
            )
            if cursor.rowcount == 0:
                raise KeyError(f"no study {study_uid} in the catalog")

    def remove_study(self, study_uid: str) -> bool:
        """Remove a study with its series and instances (and its patient if it has no other study)."""
        with self._write() as connection:
            removed = connection.execute("DELETE FROM studies WHERE study_uid = ?", (study_uid,)).rowcount
            _remove_orphan_patients(connection)
        return bool(removed)

    # -- reading -----------------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Number of patients, studies, series (stacks) and instances."""
        with self._read() as connection:
            return {
                table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("patients", "studies", "series", "instances")
            }

    def status(self, study_uid: str) -> str:
        """A study's worklist status."""
        study = self.study(study_uid)
        if study is None:
            raise KeyError(f"no study {study_uid} in the catalog")
        return study.status

    def patients(self) -> list[PatientRow]:
        """All patients, by name then ID."""
        with self._read() as connection:
            rows = connection.execute(
                "SELECT p.patient_id, p.patient_name, p.birth_date, p.sex, count(s.id) FROM patients p "
                "LEFT JOIN studies s ON s.patient = p.id GROUP BY p.id ORDER BY p.patient_name, p.patient_id"
            ).fetchall()
        return [PatientRow(PatientKey(r[0], r[1]), r[2], r[3], r[4]) for r in rows]

    def studies(self, patient: PatientKey | None = None) -> list[StudyRow]:
        """The studies of ``patient`` (all studies when None), oldest first."""
        where, params = (
            ("WHERE p.patient_id = ? AND p.patient_name = ?", tuple(patient)) if patient else ("", ())
        )
        with self._read() as connection:
            rows = connection.execute(f"{_STUDY_SELECT} {where} {_STUDY_GROUP}", params).fetchall()
        return [_study_row(r) for r in rows]

    def study(self, study_uid: str) -> StudyRow | None:
        """The study with this StudyInstanceUID, if catalogued."""
        with self._read() as connection:
            row = connection.execute(
                f"{_STUDY_SELECT} WHERE st.study_uid = ? {_STUDY_GROUP}", (study_uid,)
            ).fetchone()
        return _study_row(row) if row else None

    def series(self, study_uid: str) -> list[SeriesRow]:
        """The stacks of a study, by series number then stack index."""
        with self._read() as connection:
            rows = connection.execute(
                f"{_SERIES_SELECT} WHERE st.study_uid = ? {_SERIES_GROUP}", (study_uid,)
            )
            return [_series_row(r) for r in rows.fetchall()]

    def series_by_uid(self, series_uid: str) -> list[SeriesRow]:
        """The stacks catalogued for a SeriesInstanceUID (several when the scanner split the series)."""
        with self._read() as connection:
            rows = connection.execute(
                f"{_SERIES_SELECT} WHERE se.series_uid = ? {_SERIES_GROUP}", (series_uid,)
            )
            return [_series_row(r) for r in rows.fetchall()]

    def instances(self, series: SeriesKey) -> list[InstanceRow]:
        """The instances of a stack, in slice order."""
        with self._read() as connection:
            rows = connection.execute(
                f"{_INSTANCE_SELECT} WHERE se.series_uid = ? AND se.stack_index = ? ORDER BY i.slice_index",
                tuple(series),
            ).fetchall()
        return [_instance_row(r) for r in rows]

    def instances_by_uid(self, sop_instance_uid: str) -> list[InstanceRow]:
        """Where an SOPInstanceUID is catalogued (one row per stack that holds it)."""
        with self._read() as connection:
            rows = connection.execute(
                f"{_INSTANCE_SELECT} WHERE i.sop_instance_uid = ? ORDER BY se.series_uid, se.stack_index",
                (sop_instance_uid,),
            ).fetchall()
        return [_instance_row(r) for r in rows]

    def series_info(self, series: SeriesKey) -> SeriesInfo:
        """Rebuild the scanned :class:`SeriesInfo` of a stack, ready for the loader."""
        with self._read() as connection:
            row = connection.execute(
                "SELECT se.id, se.series_uid, st.study_uid, se.modality, se.description, se.series_number, "
                "se.frame_of_reference_uid, p.patient_id, p.patient_name, p.birth_date, p.sex, "
                "st.study_date, st.study_time, st.description, st.accession, se.stack_index, se.frame_order, "
                "se.shape, se.geometry, se.warnings, se.extra FROM series se "
                "JOIN studies st ON se.study = st.id JOIN patients p ON st.patient = p.id "
                "WHERE se.series_uid = ? AND se.stack_index = ?",
                tuple(series),
            ).fetchone()
            if row is None:
                raise KeyError(f"no series {series.series_uid} stack {series.stack_index} in the catalog")
            instances = connection.execute(
                f"SELECT {', '.join(_INSTANCE_COLUMNS)} FROM instances WHERE series = ? ORDER BY slice_index",
                (row[0],),
            ).fetchall()
        return SeriesInfo(
            series_uid=row[1],
            study_uid=row[2],
            modality=row[3],
            description=row[4],
            series_number=row[5],
            frame_of_reference_uid=row[6],
            patient=dict(zip(_PATIENT_TAGS, row[7:11], strict=True)),
            study=dict(zip(_STUDY_TAGS, row[11:15], strict=True)),
            stack_index=row[15],
            instances=[_instance_header(r) for r in instances],
            frame_order=[tuple(pair) for pair in json.loads(row[16])],
            shape=tuple(json.loads(row[17])),
            geometry=_geometry_from_json(row[18]),
            warnings=json.loads(row[19]),
            extra=_loads(row[20]),
        )

    # -- connections and transactions --------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use; connections of finished threads are closed)."""
        current = threading.current_thread()
        with self._connections_lock:
            if self._closed:
                raise CatalogError(f"the catalog {self.path} is closed")
            connection = self._connections.get(current)
            if connection is None:
                for thread in [t for t in self._connections if not t.is_alive()]:
                    self._connections.pop(thread).close()
                connection = sqlite3.connect(
                    self.path, timeout=30.0, isolation_level=None, check_same_thread=False
                )
                connection.execute("PRAGMA foreign_keys = ON")
                self._connections[current] = connection
            return connection

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (one writer at a time in this process; SQLite's lock across processes).

        Called from inside this thread's open transaction (e.g. by a progress callback) it joins that one.
        """
        with self._write_lock:
            connection = self._connection()
            if connection.in_transaction:
                yield connection
                return
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction, so that queries spanning several statements see one snapshot."""
        connection = self._connection()
        if connection.in_transaction:
            yield connection
            return
        connection.execute("BEGIN")
        try:
            yield connection
        finally:
            connection.execute("COMMIT")


def _migrate(connection: sqlite3.Connection) -> None:
    """Bring the schema up to :data:`SCHEMA_VERSION`, one migration per version, in one transaction."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise CatalogError(
                f"it was written by a newer Sightline (schema {version}; this one knows {SCHEMA_VERSION})"
            )
        for target in range(version, SCHEMA_VERSION):
            for statement in _MIGRATIONS[target].split(";"):
                if statement.strip():
                    connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


# -- import ------------------------------------------------------------------------------------------------


def _import_series(connection: sqlite3.Connection, info: SeriesInfo, outcome: ImportReport) -> None:
    study_id = _upsert_study(connection, info, outcome)
    found = connection.execute(
        "SELECT id FROM series WHERE series_uid = ? AND stack_index = ?", (info.series_uid, info.stack_index)
    ).fetchone()
    scanned = {instance.sop_instance_uid for instance in info.instances}
    if found is None:
        series_id = _inserted_id(connection.execute(_SERIES_INSERT, (study_id, *_series_values(info))))
        _upsert_instances(connection, series_id, info.instances)
        outcome.series_added += 1
        outcome.instances_added += len(scanned)
        return
    series_id = found[0]
    stored = {
        uid for (uid,) in connection.execute("SELECT sop_instance_uid FROM instances WHERE series = ?", found)
    }
    if scanned >= stored:
        connection.execute(_SERIES_UPDATE, (study_id, *_series_values(info), series_id))
        _upsert_instances(connection, series_id, info.instances)
        new = len(scanned - stored)
        outcome.instances_added += new
        if new:
            outcome.series_updated += 1
        else:
            outcome.series_unchanged += 1
        return
    connection.executemany(
        "UPDATE instances SET location = ? WHERE series = ? AND sop_instance_uid = ?",
        [
            (_location(i.ref), series_id, i.sop_instance_uid)
            for i in info.instances
            if i.sop_instance_uid in stored
        ],
    )
    outcome.series_unchanged += 1
    extra = len(scanned - stored)
    if extra:
        outcome.not_added.append(
            f"series {info.series_uid} (stack {info.stack_index}): {extra} scanned instance(s) not added, "
            f"as the scan lacks {len(stored - scanned)} of the catalogued ones; import its files together"
        )


def _inserted_id(cursor: sqlite3.Cursor) -> int:
    """The row id an INSERT on ``cursor`` created."""
    if cursor.lastrowid is None:
        raise CatalogError("the catalog database reported no row id for an insert")
    return cursor.lastrowid


def _upsert_study(connection: sqlite3.Connection, info: SeriesInfo, outcome: ImportReport) -> int:
    patient = [str(info.patient.get(tag, "")) for tag in _PATIENT_TAGS]
    connection.execute(
        "INSERT INTO patients (patient_id, patient_name, birth_date, sex) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (patient_id, patient_name) "
        "DO UPDATE SET birth_date = excluded.birth_date, sex = excluded.sex",
        patient,
    )
    (patient_id,) = connection.execute(
        "SELECT id FROM patients WHERE patient_id = ? AND patient_name = ?", patient[:2]
    ).fetchone()
    study = [str(info.study.get(tag, "")) for tag in _STUDY_TAGS]
    found = connection.execute("SELECT id FROM studies WHERE study_uid = ?", (info.study_uid,)).fetchone()
    if found is None:
        outcome.studies_added += 1
        return _inserted_id(connection.execute(
            "INSERT INTO studies (study_uid, patient, study_date, study_time, description, accession) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (info.study_uid, patient_id, *study),
        ))
    connection.execute(
        "UPDATE studies SET patient = ?, study_date = ?, study_time = ?, description = ?, accession = ? "
        "WHERE id = ?",
        (patient_id, *study, found[0]),
    )
    _remove_orphan_patients(connection)
    return found[0]


def _upsert_instances(
    connection: sqlite3.Connection, series_id: int, instances: list[InstanceHeader]
) -> None:
    connection.executemany(
        _INSTANCE_UPSERT,
        [(series_id, index, *_instance_values(instance)) for index, instance in enumerate(instances)],
    )


def _remove_orphan_patients(connection: sqlite3.Connection) -> None:
    connection.execute("DELETE FROM patients WHERE id NOT IN (SELECT patient FROM studies)")


def _series_values(info: SeriesInfo) -> tuple[Any, ...]:
    return (
        info.series_uid,
        info.stack_index,
        info.modality,
        info.description,
        info.series_number,
        info.frame_of_reference_uid,
        json.dumps([int(n) for n in info.shape]),
        json.dumps(list(info.spacing)) if info.spacing else None,
        _geometry_to_json(info.geometry),
        json.dumps([[int(i), int(f)] for i, f in info.frame_order]),
        json.dumps([str(w) for w in info.warnings]),
        _dumps(info.extra),
    )


def _instance_values(instance: InstanceHeader) -> tuple[Any, ...]:
    position = [float(v) for v in instance.position] if instance.position is not None else [None] * 3
    orientation = [float(v) for v in instance.orientation] if instance.orientation is not None else None
    return (
        instance.sop_instance_uid,
        instance.sop_class_uid,
        instance.transfer_syntax_uid,
        _location(instance.ref),
        int(instance.rows),
        int(instance.columns),
        int(instance.frames),
        int(instance.instance_number) if instance.instance_number is not None else None,
        *position,
        json.dumps(orientation) if orientation is not None else None,
    )


def _location(ref: FileRef) -> str:
    """The stored file location: absolute, so that it stays valid whatever the working folder."""
    return FileRef(os.path.abspath(ref.path), ref.member).display()


# -- JSON columns --------------------------------------------------------------------------------------------


def _geometry_to_json(geometry: Geometry | None) -> str | None:
    if geometry is None:
        return None
    return json.dumps(
        {
            "shape": list(geometry.shape),
            "spacing": list(geometry.spacing),
            "origin": list(geometry.origin),
            "direction": geometry.direction.tolist(),
        }
    )


def _geometry_from_json(text: str | None) -> Geometry | None:
    if text is None:
        return None
    data = json.loads(text)
    return Geometry(
        shape=tuple(data["shape"]),
        spacing=tuple(data["spacing"]),
        origin=tuple(data["origin"]),
        direction=np.array(data["direction"], dtype=float),
    )


def _dumps(value: Any) -> str:
    """JSON that keeps tuples as tuples (loader hints hold e.g. per-frame positions)."""
    return json.dumps(_tag_tuples(value))


def _loads(text: str) -> Any:
    return json.loads(text, object_hook=lambda d: tuple(d["__tuple__"]) if set(d) == {"__tuple__"} else d)


def _tag_tuples(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"__tuple__": [_tag_tuples(v) for v in value]}
    if isinstance(value, list):
        return [_tag_tuples(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _tag_tuples(v) for k, v in value.items()}
    return value


# -- row builders ------------------------------------------------------------------------------------------

_STUDY_SELECT = (
    "SELECT st.study_uid, p.patient_id, p.patient_name, st.study_date, st.study_time, st.description, "
    "st.accession, st.status, count(se.id) FROM studies st JOIN patients p ON st.patient = p.id "
    "LEFT JOIN series se ON se.study = st.id"
)
_STUDY_GROUP = "GROUP BY st.id ORDER BY st.study_date, st.study_time, st.study_uid"

_SERIES_SELECT = (
    "SELECT se.series_uid, se.stack_index, st.study_uid, se.modality, se.description, se.series_number, "
    "se.frame_of_reference_uid, count(i.id), se.shape, se.spacing, se.warnings FROM series se "
    "JOIN studies st ON se.study = st.id LEFT JOIN instances i ON i.series = se.id"
)
_SERIES_GROUP = (
    "GROUP BY se.id ORDER BY se.series_number IS NULL, se.series_number, se.series_uid, se.stack_index"
)

_INSTANCE_SELECT = (
    "SELECT se.series_uid, se.stack_index, i.sop_instance_uid, i.location, i.instance_number, i.position_x, "
    "i.position_y, i.position_z, i.frames, i.transfer_syntax_uid "
    "FROM instances i JOIN series se ON i.series = se.id"
)


def _study_row(row: tuple) -> StudyRow:
    return StudyRow(row[0], PatientKey(row[1], row[2]), *row[3:])


def _series_row(row: tuple) -> SeriesRow:
    spacing = json.loads(row[9]) if row[9] else None
    return SeriesRow(
        SeriesKey(row[0], row[1]),
        study_uid=row[2],
        modality=row[3],
        description=row[4],
        series_number=row[5],
        frame_of_reference_uid=row[6],
        n_instances=row[7],
        shape=tuple(json.loads(row[8])),
        spacing=tuple(spacing) if spacing else None,
        warnings=tuple(json.loads(row[10])),
    )


def _position(x: float | None, y: float | None, z: float | None) -> tuple[float, float, float] | None:
    """The stored position: all three coordinates, or none (_instance_values writes them together)."""
    if x is None:
        return None
    if y is None or z is None:
        raise CatalogError(f"an instance position lacks a coordinate: ({x}, {y}, {z})")
    return x, y, z


def _instance_row(row: tuple) -> InstanceRow:
    return InstanceRow(
        SeriesKey(row[0], row[1]), row[2], FileRef.parse(row[3]), row[4], _position(*row[5:8]), row[8], row[9]
    )


def _instance_header(row: tuple) -> InstanceHeader:
    return InstanceHeader(
        sop_instance_uid=row[0],
        sop_class_uid=row[1],
        transfer_syntax_uid=row[2],
        ref=FileRef.parse(row[3]),
        rows=row[4],
        columns=row[5],
        frames=row[6],
        instance_number=row[7],
        position=_position(*row[8:11]),
        orientation=tuple(json.loads(row[11])) if row[11] is not None else None,
    )
