"""The hash-chained audit log: appends, every kind of tampering, concurrent writers, and the CLI."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from app.cli import main
from engine.ai import audit


def _log_with(path: Path, n: int) -> list[dict]:
    return [audit.append("ai_run", {"plugin_id": "p", "n": i}, path) for i in range(n)]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def test_entries_chain_and_verify(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    entries = _log_with(log, 3)
    assert [e["seq"] for e in entries] == [0, 1, 2]
    assert entries[0]["prev_hash"] == audit.GENESIS_HASH
    assert entries[1]["prev_hash"] == entries[0]["hash"] == audit.entry_hash(entries[0])
    assert entries[0]["user"] and entries[0]["time_utc"].endswith("+00:00")
    assert audit.read_entries(log) == entries
    assert audit.verify(log) == audit.Verification(True, 3)
    assert json.loads(audit.head_path(log).read_text()) == {"entries": 3, "last_hash": entries[2]["hash"]}


def test_default_log_lives_in_the_user_data_folder() -> None:
    entry = audit.append("export", {"kind": "test"})
    assert audit.read_entries() == [entry]
    assert audit.verify().ok


def test_empty_or_absent_log_verifies(tmp_path: Path) -> None:
    assert audit.verify(tmp_path / "none.jsonl").ok


def _tamper(log: Path, edit) -> audit.Verification:
    lines = _lines(log)
    log.write_text("".join(edit(lines)))
    return audit.verify(log)


def test_an_edited_entry_is_named(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _log_with(log, 4)

    def edit(lines):
        entry = json.loads(lines[1])
        entry["details"]["plugin_id"] = "other"
        lines[1] = json.dumps(entry, sort_keys=True) + "\n"
        return lines

    outcome = _tamper(log, edit)
    assert (outcome.ok, outcome.bad_entry, outcome.entries) == (False, 2, 1)
    assert "entry edited" in outcome.reason


def test_an_inserted_entry_is_detected(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _log_with(log, 3)
    outcome = _tamper(log, lambda lines: lines[:2] + [lines[1]] + lines[2:])
    assert (outcome.ok, outcome.bad_entry) == (False, 3)
    assert "inserted, deleted or moved" in outcome.reason


def test_reordered_entries_are_detected(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _log_with(log, 3)
    outcome = _tamper(log, lambda lines: [lines[0], lines[2], lines[1]])
    assert (outcome.ok, outcome.bad_entry) == (False, 2)


def test_a_deleted_entry_is_detected(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _log_with(log, 4)
    outcome = _tamper(log, lambda lines: lines[:1] + lines[2:])
    assert (outcome.ok, outcome.bad_entry) == (False, 2)


def test_a_rechained_forgery_of_one_entry_still_fails_on_the_next(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _log_with(log, 3)

    def forge(lines):
        entry = json.loads(lines[0])
        entry["details"]["n"] = 99
        entry["hash"] = audit.entry_hash(entry)
        lines[0] = json.dumps(entry, sort_keys=True) + "\n"
        return lines

    outcome = _tamper(log, forge)
    assert (outcome.ok, outcome.bad_entry) == (False, 2)
    assert "prev_hash" in outcome.reason


def test_truncating_the_tail_is_detected_by_the_head_file(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _log_with(log, 4)
    outcome = _tamper(log, lambda lines: lines[:2])
    assert (outcome.ok, outcome.entries, outcome.bad_entry) == (False, 2, 3)
    assert "truncated" in outcome.reason
    assert not _tamper(log, lambda lines: []).ok


def test_a_cut_last_line_and_a_missing_head_are_detected(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _log_with(log, 2)
    data = log.read_bytes()
    log.write_bytes(data[:-10])
    outcome = audit.verify(log)
    assert (outcome.ok, outcome.bad_entry) == (False, 2)
    with pytest.raises(audit.AuditError, match="damaged"):
        audit.append("ai_run", {}, log)
    log.write_bytes(data)
    audit.head_path(log).unlink()
    outcome = audit.verify(log)
    assert not outcome.ok and "head file" in outcome.reason
    log.unlink()
    assert audit.verify(log).ok  # no log, no head: nothing was ever written


def _append_many(path: str, worker: int) -> None:
    for i in range(15):
        audit.append("ai_run", {"worker": worker, "i": i}, path)


def test_concurrent_writers_keep_the_chain_intact(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(str(log), w)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert audit.verify(log) == audit.Verification(True, 60)
    pairs = {(e["details"]["worker"], e["details"]["i"]) for e in audit.read_entries(log)}
    assert len(pairs) == 60


def test_cli_verify_reports_ok_and_names_the_first_bad_entry(tmp_path: Path, capsys) -> None:
    log = tmp_path / "audit.jsonl"
    _log_with(log, 3)
    assert main(["audit", "verify", "--log", str(log)]) == 0
    assert "OK, 3 entries" in capsys.readouterr().out
    lines = _lines(log)
    log.write_text(lines[0] + lines[2])
    assert main(["audit", "verify", "--log", str(log)]) == 1
    out = capsys.readouterr().out
    assert "BROKEN at entry 2" in out and "inserted, deleted or moved" in out
