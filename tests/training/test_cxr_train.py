"""Training pieces: targets, crops + augmentation keep nodules on their pixels, tiny runs alone and under
torchrun with two DDP processes (gloo), checkpoint resume, and the tiny phantom cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from training.cxr import augment as augment_module  # noqa: E402
from training.cxr.augment import augment, random_crops  # noqa: E402
from training.cxr.phantom_dataset import SplitSpec, build_split  # noqa: E402
from training.cxr.targets import make_targets  # noqa: E402
from training.cxr.train import load_model  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TINY = ["--split", "train", "0", "8", "256", "--split", "val", "500000", "4", "256", "--model-size", "128",
        "--crop", "64", "--batch-size", "2", "--threads", "1"]


def test_targets_put_centre_offset_and_size_on_the_grid() -> None:
    targets = make_targets([np.array([[30.0, 41.0, 9.0]]), np.zeros((0, 3))], grid=32)
    heat = targets["heatmap"][0].numpy()
    row, col = np.unravel_index(heat.argmax(), heat.shape)
    assert (row, col) == (7, 10) and heat[row, col] == 1.0
    np.testing.assert_allclose(targets["offset"][0, :, row, col].numpy(), [0.125, -0.125])
    assert float(torch.exp(targets["log_size"][0, row, col])) == pytest.approx(9.0)
    assert targets["label"].tolist() == [1.0, 0.0] and float(targets["heatmap"][1].sum()) == 0.0


def test_augment_moves_nodules_with_the_image(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(augment_module, "_intensity", lambda images, rng: images)
    images = torch.zeros(3, 1, 128, 128)
    nodules = []
    for b, (row, col) in enumerate([(30, 40), (90, 70), (64, 100)]):
        images[b, 0, row - 1:row + 2, col - 1:col + 2] = 1.0
        nodules.append(np.array([[row, col, 5.0]]))
    out, moved = augment(images, nodules, np.random.default_rng(1), max_shift=0.1, max_degrees=10)
    for b in range(3):
        pixels = out[b, 0].numpy()
        rows, cols = np.nonzero(pixels > 0.5 * pixels.max())
        weights = pixels[rows, cols]
        centre = np.array([(rows * weights).sum(), (cols * weights).sum()]) / weights.sum()
        np.testing.assert_allclose(centre, moved[b][0, :2], atol=0.5)


def test_random_crops_keep_nodule_coordinates() -> None:
    image = np.zeros((1, 128, 128), np.float32)
    image[0, 100, 20] = 7.0
    crops, moved = random_crops(image, [np.array([[100.0, 20.0, 6.0]])], 64, np.random.default_rng(0), 1.0)
    row, col, diameter = moved[0][0]
    assert crops[0, int(row), int(col)] == 7.0 and diameter == 6.0


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("cxr_cache")
    for spec in (SplitSpec("train", 0, 8, 256, 128), SplitSpec("val", 500_000, 4, 256, 128)):
        split = build_split(spec, cache)
        assert split.images.shape == (spec.count, 128, 128)
        assert set(np.unique(split.nodules["case"])) <= set(range(spec.count))
    return cache


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def test_single_process_run_and_resume(tiny_cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    base = [sys.executable, "-m", "training.cxr.train", "--out", str(out), "--cache", str(tiny_cache), *TINY,
            "--crops-per-epoch", "4"]
    first = _run([*base, "--epochs", "1"], _env())
    assert first.returncode == 0, first.stderr[-2000:]
    resumed = _run([*base, "--epochs", "2", "--resume"], _env())
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    epochs = [json.loads(line).get("epoch") for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [e for e in epochs if e is not None] == [1, 2]  # the resumed run went on from epoch 1
    model = load_model(out / "best.pt")
    with torch.no_grad():
        assert model(torch.zeros(1, 1, 128, 128))["heatmap"].shape == (1, 32, 32)


def test_torchrun_two_processes(tiny_cache: Path, tmp_path: Path) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if torchrun is None:
        pytest.fail("torchrun is missing (it comes with torch, which `make test` installs)")
    out = tmp_path / "ddp"
    result = _run([torchrun, "--standalone", "--nproc_per_node=2", "-m", "training.cxr.train", "--out", str(out),
                   "--cache", str(tiny_cache), *TINY, "--epochs", "1", "--crops-per-epoch", "8",
                   "--max-steps-per-epoch", "2"], _env())
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[val] epoch 1" in result.stdout
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()
