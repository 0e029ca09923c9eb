"""Training budgets are step counts: two runs with the same seed and a tiny budget give identical weights
and logs, and stop after exactly the budgeted number of optimizer steps (no wall-clock limit left)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from training.calcium import train as calcium_train
from training.calcium.records import CLASSES
from training.cxr.phantom_dataset import SplitSpec
from training.cxr.train import TrainConfig as CxrConfig
from training.cxr.train import train as cxr_train


def _same_weights(first: dict, second: dict) -> None:
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


def _without_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in ("minutes", "seconds", "epoch_s")} for row in rows]


def test_no_training_config_has_a_wall_clock_budget() -> None:
    from training.brain.train import TrainConfig as BrainConfig

    for config in (CxrConfig, BrainConfig, calcium_train.TrainConfig):
        names = {field.name for field in dataclasses.fields(config)}
        assert "max_steps" in names and not any("minute" in n or "second" in n for n in names), config


def _calcium_arrays(n: int, seed: int) -> calcium_train.Arrays:
    rng = np.random.default_rng(seed)
    return calcium_train.Arrays(rng.normal(size=(n, 3, 32, 32)).astype(np.float32),
                                rng.normal(size=(n, 3, 64, 64)).astype(np.float32),
                                rng.normal(size=(n, 8)).astype(np.float32),
                                rng.integers(0, len(CLASSES), n).astype(np.int64))


def test_calcium_same_seed_same_weights_after_the_step_budget(tmp_path: Path) -> None:
    train_data, val_data = _calcium_arrays(40, 1), _calcium_arrays(12, 2)
    runs = []
    for name in ("a", "b"):
        config = calcium_train.TrainConfig(out=str(tmp_path / name), epochs=5, batch=8, width=4, max_steps=7,
                                           patience=100)
        checkpoint = calcium_train.train(config, train_data, val_data, log=lambda _: None)
        log = json.loads((Path(config.out) / "train_log.json").read_text())
        runs.append((torch.load(checkpoint, weights_only=True), log))
    (first, log_a), (second, log_b) = runs
    _same_weights(first["state"], second["state"])
    assert log_a["steps"] == 7 and log_a["history"][-1]["steps"] == 7  # 5 steps per epoch: stopped in epoch 2
    assert _without_time(log_a["history"]) == _without_time(log_b["history"])


@pytest.fixture(scope="module")
def tiny_cxr_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cxr_budget_cache")


def test_cxr_same_seed_same_weights_after_the_step_budget(tiny_cxr_cache: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    runs = []
    for name in ("a", "b"):
        config = CxrConfig(out=str(tmp_path / name), cache=str(tiny_cxr_cache),
                           train=SplitSpec("train", 0, 6, 256, 128), val=SplitSpec("val", 500_000, 3, 256, 128),
                           epochs=3, batch_size=2, crop=64, crops_per_epoch=4, val_subset=3, head_cases=6,
                           max_steps=3, warmup_steps=1)
        best = cxr_train(config)
        log = [json.loads(line) for line in (Path(config.out) / "train_log.jsonl").read_text().splitlines()]
        runs.append((torch.load(best, map_location="cpu", weights_only=False), log))
    (first, log_a), (second, log_b) = runs
    _same_weights(first["model"], second["model"])
    epochs = [row for row in log_a if "epoch" in row]
    assert [row["steps"] for row in epochs] == [2, 3]  # 2 steps per epoch, stopped by the 3-step budget
    assert _without_time(epochs) == _without_time([row for row in log_b if "epoch" in row])
