"""`sightline plugins add|remove` and manifest signatures: a plugin is installed only when every file it
loads has the manifest's hash, the manifest carries a trusted Ed25519 signature (or IT allowed unsigned,
and then every result says so) and its carried example gives its carried expected labels."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from engine.ai import audit
from engine.ai.install import InstallRefused, install, remove
from engine.ai.registry import discover
from engine.ai.runner import run_plugin
from engine.ai.signing import generate_key, sign_manifest, trusted_keys, verify_manifest
from engine.nifti import read_nifti
from engine.paths import trusted_keys_dirs, user_plugins_dir
from tests.ai.declared_plugin import make_plugin


@pytest.fixture
def machine(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGHTLINE_MACHINE_DIR", str(tmp_path / "machine"))
    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.fixture
def keys(machine):
    trusted = trusted_keys_dirs()[0]
    trusted.mkdir(parents=True)
    generate_key(machine / "site.key", trusted / "site.pub")
    generate_key(machine / "stranger.key", machine / "stranger.pub")
    return {"site": machine / "site.key", "stranger": machine / "stranger.key"}


@pytest.fixture
def plugin(machine):
    return make_plugin(machine / "source" / "declared")


def test_signed_plugin_installs_runs_and_removes(plugin, keys, machine):
    sign_manifest(plugin, keys["site"])
    log = machine / "audit.jsonl"
    report = install(plugin, audit_log=log)
    target = user_plugins_dir() / "declared"
    assert report.target == target and (target / "model.onnx").is_file()
    assert report.verdict.signed and report.example["dice"] == {"bright": 1.0}
    # discovered by default, runs through the runtime, its label map on the input voxels
    registry = discover()
    assert "declared" in registry.plugins
    volume = read_nifti(target / "example" / "CT.nii.gz", modality="CT")
    result = run_plugin("declared", {"CT": volume}, registry=registry, audit_log=log)
    assert result.label_map is not None and result.label_map.geometry.same_grid(volume.geometry)
    assert result.label_map.array[1, 1, 1] == 0  # largest component only
    assert result.label_map.array[6, 7, 5] == 1
    assert not any("unsigned" in w for w in result.warnings)
    assert all(f.tier == "needs_review" for f in result.findings)  # no domain data
    remove("declared", audit_log=log)
    assert not target.exists() and "declared" not in discover().plugins
    events = [entry["event"] for entry in audit.read_entries(log)]
    assert events.count("plugin_installed") == 1 and events.count("plugin_removed") == 1


def test_unsigned_plugin_is_refused_unless_allowed_and_then_says_so(plugin, keys, machine):
    with pytest.raises(InstallRefused, match="no signature"):
        install(plugin, audit_log=machine / "audit.jsonl")
    report = install(plugin, allow_unsigned=True, audit_log=machine / "audit.jsonl")
    assert not report.verdict.signed
    volume = read_nifti(plugin / "example" / "CT.nii.gz", modality="CT")
    result = run_plugin("declared", {"CT": volume}, registry=discover(), audit_log=machine / "audit.jsonl")
    assert any(w.startswith("unsigned plugin, installed with --allow-unsigned") for w in result.warnings)


def test_tampered_file_is_refused(plugin, keys, machine):
    sign_manifest(plugin, keys["site"])
    data = bytearray((plugin / "model.onnx").read_bytes())
    data[-1] ^= 1
    (plugin / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(InstallRefused, match=r"model.onnx: SHA-256 [0-9a-f]{64} but the manifest says"):
        install(plugin, audit_log=machine / "audit.jsonl")


def test_unlisted_file_is_refused(plugin, keys, machine):
    sign_manifest(plugin, keys["site"])
    (plugin / "extra.py").write_text("print('hello')\n")
    with pytest.raises(InstallRefused, match="extra.py: not hashed by the manifest"):
        install(plugin, audit_log=machine / "audit.jsonl")


def test_tampered_manifest_is_refused(plugin, keys, machine):
    sign_manifest(plugin, keys["site"])
    manifest = plugin / "manifest.toml"
    manifest.write_text(manifest.read_text().replace("largest_component = [1]", "largest_component = []"))
    assert not verify_manifest(plugin).signed
    with pytest.raises(InstallRefused, match="does not match the manifest"):
        install(plugin, audit_log=machine / "audit.jsonl")


def test_unknown_key_is_refused(plugin, keys, machine):
    sign_manifest(plugin, keys["stranger"])
    assert len(trusted_keys()) == 1
    with pytest.raises(InstallRefused, match="not a trusted key"):
        install(plugin, audit_log=machine / "audit.jsonl")


def test_wrong_expected_output_is_refused(plugin, keys, machine):
    from engine.ai.hashing import sha256_file
    from engine.nifti import write_nifti
    from engine.volume import LabelMap

    expected = read_nifti(plugin / "example" / "expected.nii.gz")
    wrong = np.zeros(expected.array.shape, np.uint8)
    wrong[:6] = 1
    old = sha256_file(plugin / "example" / "expected.nii.gz")
    write_nifti(LabelMap(wrong, expected.geometry), plugin / "example" / "expected.nii.gz")
    manifest = plugin / "manifest.toml"
    manifest.write_text(manifest.read_text().replace(old, sha256_file(plugin / "example" / "expected.nii.gz")))
    sign_manifest(plugin, keys["site"])
    with pytest.raises(InstallRefused, match="example output differs"):
        install(plugin, audit_log=machine / "audit.jsonl")


def test_cli_adds_a_zip_and_removes_it(plugin, keys, machine, capsys):
    sign_manifest(plugin, keys["site"])
    archive = machine / "declared.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(plugin.rglob("*")):
            zipped.write(path, Path("declared") / path.relative_to(plugin))
    assert main(["plugins", "add", str(archive)]) == 0
    out = capsys.readouterr().out
    assert "installed declared 0.1.0" in out and "signed by trusted key" in out
    assert main(["plugins", "add", str(archive)]) == 1  # already installed
    assert "already installed" in capsys.readouterr().err
    assert main(["plugins", "--json"]) in (0, 1)
    assert '"declarative": true' in capsys.readouterr().out
    assert main(["plugins", "remove", "declared"]) == 0
    assert main(["plugins", "remove", "declared"]) == 1


def test_zip_leaving_its_folder_is_refused(machine, keys):
    archive = machine / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("../outside.txt", "x")
    with pytest.raises(InstallRefused, match="points outside the archive"):
        install(archive, audit_log=machine / "audit.jsonl")


def test_cli_keys(machine, capsys):
    assert main(["plugins", "keygen", str(machine / "k.key"), str(machine / "k.pub")]) == 0
    assert main(["plugins", "trust", str(machine / "k.pub")]) == 0
    assert len(trusted_keys()) == 1
    source = make_plugin(machine / "p" / "declared")
    assert main(["plugins", "sign", str(source), "--key", str(machine / "k.key")]) == 0
    assert verify_manifest(source).signed
    shutil.rmtree(source)


def test_added_declarative_plugin_exports_like_a_shipped_one(plugin, keys, machine):
    """On a DICOM CT study: result.json, NIfTI overlays, SR, SEG and PDF, the SEG on the series' voxels."""
    import json

    from pydicom import dcmread

    from engine.analysis.service import analyze_study
    from tests.ai.conftest import ct_series

    sign_manifest(plugin, keys["site"])
    install(plugin, audit_log=machine / "audit.jsonl")
    study = machine / "study"
    study.mkdir()
    datasets, geometry = ct_series(n_slices=10, rows=16, columns=14)
    for i, ds in enumerate(datasets):
        ds.save_as(study / f"{i}.dcm", enforce_file_format=True)
    out = machine / "out"
    analyze_study(study, "declared", out, audit_log=machine / "audit.jsonl", registry=discover())
    for name in ("result.json", "label_map.nii.gz", "sr.dcm", "seg.dcm", "report.pdf"):
        assert (out / name).is_file(), name
    seg = dcmread(out / "seg.dcm")
    assert seg.Modality == "SEG" and int(seg.NumberOfFrames) >= 1
    labels = read_nifti(out / "label_map.nii.gz")
    assert labels.geometry.same_grid(geometry, tolerance_mm=1e-3)
    document = json.loads((out / "result.json").read_text())
    assert document["findings"] and all(f["tier"] == "needs_review" for f in document["findings"])
