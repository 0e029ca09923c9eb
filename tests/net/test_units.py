"""UID checks, the no-clobber instance store and the pacs.json round trip (no network)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from engine.net.instance_store import InstanceStore, WriteOutcome
from engine.net.pacs_config import Auth, PacsConfig, find_pacs, load_pacs, save_pacs
from engine.net.uids import InvalidUidError, instance_path, is_valid_uid


@pytest.mark.parametrize("uid", ["1.2.840.10008.1.2", "0", "2.25.0.10", "1." * 31 + "1"])
def test_valid_uids(uid: str) -> None:
    assert is_valid_uid(uid)


@pytest.mark.parametrize(
    "uid", ["", "1..2", "1.2.", ".1.2", "1.02", "1.2.a", "../1", "1/2", "1.2 ", "1." * 32 + "1", None, 12]
)
def test_invalid_uids(uid: object) -> None:
    assert not is_valid_uid(uid)


def test_instance_path_refuses_path_tricks(tmp_path: Path) -> None:
    assert instance_path(tmp_path, "1.2", "1.3", "1.4") == tmp_path / "1.2" / "1.3" / "1.4.dcm"
    with pytest.raises(InvalidUidError, match="SeriesInstanceUID"):
        instance_path(tmp_path, "1.2", "..", "1.4")


def test_store_writes_once_and_keeps_the_first_copy(tmp_path: Path) -> None:
    store = InstanceStore(tmp_path / "root")
    assert stat.S_IMODE((tmp_path / "root").stat().st_mode) == 0o750
    first = store.write("1.2", "1.3", "1.4", b"first")
    assert first.outcome is WriteOutcome.STORED and first.path.read_bytes() == b"first"
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o640
    assert store.write("1.2", "1.3", "1.4", b"first").outcome is WriteOutcome.IDENTICAL
    assert store.write("1.2", "1.3", "1.4", b"other").outcome is WriteOutcome.CONFLICT
    assert first.path.read_bytes() == b"first"
    assert [p.name for p in first.path.parent.iterdir()] == ["1.4.dcm"]


def test_pacs_json_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "pacs.json"
    assert load_pacs(path) == []
    config = PacsConfig(
        "main", "pacs.example.org", 104, "PACS", dicomweb_url="https://x/dicom-web",
        auth=Auth("basic", username="u", password_env="PW"),
    )  # fmt: skip
    save_pacs([config], path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert find_pacs("main", path) == config
    with pytest.raises(KeyError, match="main"):
        find_pacs("other", path)


def test_bad_pacs_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="AE title"):
        PacsConfig("x", "h", 104, "A" * 17)
    with pytest.raises(ValueError, match="TCP port"):
        PacsConfig("x", "h", 0, "PACS")
    with pytest.raises(ValueError, match="auth type"):
        Auth("digest")
    with pytest.raises(ValueError, match="unknown PACS setting"):
        PacsConfig.from_json({"name": "x", "host": "h", "port": 1, "called_ae": "A", "colour": "red"})


def test_auth_secret_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = Auth("token", token_env="SIGHTLINE_TEST_TOKEN")
    with pytest.raises(ValueError, match="SIGHTLINE_TEST_TOKEN"):
        auth.secret()
    monkeypatch.setenv("SIGHTLINE_TEST_TOKEN", "abc")
    assert auth.secret() == "abc"
