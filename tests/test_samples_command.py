"""The sample-set writer (skip / --force, atomic study folders) and the `sightline samples` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import build_parser, main
from app.cli import samples as samples_command
from training.phantoms import make_prostate_mri, samples
from training.phantoms.export import write_prostate_mri_study


@pytest.fixture()
def tiny_studies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def writer(name: str, seed: int):
        def write(folder: Path) -> list[Path]:
            calls.append(name)
            return write_prostate_mri_study(make_prostate_mri(seed, shape=(4, 32, 32)), folder)
        return write

    monkeypatch.setattr(samples, "SAMPLE_STUDIES", {"one": writer("one", 1), "two": writer("two", 2)})
    return calls


def test_writes_missing_studies_only_unless_forced(tmp_path: Path, tiny_studies: list[str]) -> None:
    messages: list[str] = []
    assert [p.name for p in samples.write_samples(tmp_path, log=messages.append)] == ["one", "two"]
    assert (tmp_path / "one" / "T2_axial").is_dir() and (tmp_path / "one" / "ground_truth.json").is_file()
    assert "phantom" in (tmp_path / "two" / "README.txt").read_text()
    assert samples.write_samples(tmp_path, log=messages.append) == []
    assert any("skipped" in m for m in messages)
    assert len(samples.write_samples(tmp_path, force=True, log=messages.append)) == 2
    assert tiny_studies == ["one", "two", "one", "two"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]  # no partial folders left


def test_command_runs_the_generator_module(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: dict = {}

    def fake_run(command, **kwargs):
        seen.update(command=command, **kwargs)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(samples_command.subprocess, "run", fake_run)
    assert main(["samples", "--out", str(tmp_path), "--force"]) == 0
    expected = [sys.executable, "-m", "training.phantoms.samples", "--out", str(tmp_path.resolve()),
                "--force"]
    assert seen["command"] == expected
    assert Path(seen["cwd"]) == samples_command.REPO_ROOT


def test_default_output_folder_is_resources_samples() -> None:
    args = build_parser().parse_args(["samples"])
    assert args.out == samples_command.REPO_ROOT / "resources" / "samples" == samples.DEFAULT_OUT
    assert args.force is False


def test_generator_module_is_runnable() -> None:
    result = subprocess.run([sys.executable, "-m", "training.phantoms.samples", "--help"],
                            cwd=samples_command.REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--force" in result.stdout


def test_chest_sample_seed_is_outside_every_chest_xray_split() -> None:
    from training.cxr.phantom_dataset import SPLITS

    assert samples.CHEST_XRAY_SEED >= 1_000_000
    assert all(samples.CHEST_XRAY_SEED not in spec.seeds for spec in SPLITS.values())


def test_every_sample_seed_is_outside_its_models_seed_ranges() -> None:
    from training.brain.data import SPLITS as BRAIN_SPLITS
    from training.calcium.phantom_data import SPLITS as CARDIAC_SPLITS
    from training.ccella.config import EVALUATOR_SEEDS, TEST_SEEDS, TRAIN_SEEDS

    assert all(samples.BRAIN_MRI_SEED not in spec.seeds for spec in BRAIN_SPLITS.values())
    assert all(samples.CARDIAC_CT_SEED not in spec.seeds for spec in CARDIAC_SPLITS.values())
    assert all(samples.PROSTATE_MRI_SEED not in seeds for seeds in (TRAIN_SEEDS, EVALUATOR_SEEDS, TEST_SEEDS))
