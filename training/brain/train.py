"""Train the brain-tumour U-Net on phantom splits (single process, CPU).

    python -m training.brain.train --out build/brain/run --cache build/brain/cache

Random 48^3 crops (two thirds centred near tumour), optionally acquisition augmentation (``--augment``,
``training.brain.augment``: per-sequence gamma, bias field, Rician noise, thick axial slabs; off by default:
with the 480-step budget it cost TC/ET Dice, see the module), left-right flips and per-sequence intensity jitter;
focal + Dice loss on the WT/TC/ET regions; AdamW with cosine annealing and warm restarts (stepped per
iteration); validation Dice on the whole model-grid volumes after each epoch; early stopping on the mean
validation Dice; checkpoints ``last.pt`` (resumable) and ``best.pt``; progress lines and ``train_log.jsonl``.
Everything random is seeded from ``seed``. The budget is ``epochs`` x ``steps_per_epoch`` optimizer steps
(capped by ``max_steps``), never wall-clock time: a seed gives the same weights on any machine.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

from training.brain.augment import Augmentation, Augmenter
from training.brain.data import SPLITS, CachedSplit, build_split
from training.brain.losses import segmentation_loss
from training.brain.metrics import dice
from training.brain.model import NetConfig, UNet3D


@dataclass
class TrainConfig:
    """Everything that determines a run (saved into every checkpoint)."""

    out: str
    cache: str = "build/brain/cache"
    net: NetConfig = field(default_factory=NetConfig)
    augmentation: Augmentation | None = None  # acquisition augmentation (None: off, the shipped recipe)
    patch: int = 48
    batch_size: int = 2
    steps_per_epoch: int = 40
    epochs: int = 40
    lr: float = 3e-3
    weight_decay: float = 1e-4
    restart_epochs: int = 3  # first cosine cycle; each next one is twice as long
    patience: int = 8
    max_steps: int = 0  # optimizer-step cap (0: epochs x steps_per_epoch)
    seed: int = 0
    threads: int = 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--cache", default=TrainConfig.cache)
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--steps-per-epoch", type=int, default=TrainConfig.steps_per_epoch)
    parser.add_argument("--max-steps", type=int, default=TrainConfig.max_steps,
                        help="optimizer-step cap (0: epochs x steps per epoch)")
    parser.add_argument("--train-cases", type=int, default=SPLITS["train"].count)
    parser.add_argument("--val-cases", type=int, default=SPLITS["val"].count)
    parser.add_argument("--augment", action="store_true",
                        help="acquisition augmentation (training.brain.augment; off by default)")
    parser.add_argument("--brats", help="train on the BraTS case folders under this folder instead "
                                        "(last fifth, by sorted case id, for validation)")
    args = parser.parse_args(argv)
    config = TrainConfig(out=args.out, cache=args.cache, epochs=args.epochs,
                         steps_per_epoch=args.steps_per_epoch, max_steps=args.max_steps,
                         augmentation=Augmentation() if args.augment else None)
    limit_threads(config.threads)
    splits = brats_splits(args.brats) if args.brats else load_splits(config, args.train_cases, args.val_cases)
    print(f"[train] best checkpoint: {train(config, splits)}", flush=True)
    return 0


def limit_threads(threads: int) -> None:
    """Use ``threads`` CPU threads in PyTorch and SimpleITK (the machines are shared)."""
    torch.set_num_threads(threads)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)


def load_splits(config: TrainConfig, train_cases: int, val_cases: int) -> dict[str, CachedSplit]:
    """The cached train and validation splits (first ``*_cases`` seeds of each)."""
    return {"train": build_split(replace(SPLITS["train"], count=train_cases), config.cache),
            "val": build_split(replace(SPLITS["val"], count=val_cases), config.cache)}


def brats_splits(root: str) -> dict[str, CachedSplit]:
    """Train / validation splits of the BraTS cases under ``root`` (80 / 20 by sorted case id)."""
    from training.brain.brats import brats_split, find_cases

    cases = find_cases(root)
    if len(cases) < 2:
        raise SystemExit(f"need at least two BraTS case folders under {root}, found {len(cases)}")
    cut = max(1, int(round(len(cases) * 0.8)))
    return {"train": brats_split(cases[:cut], "train"), "val": brats_split(cases[cut:], "val")}


def sample_batch(split: CachedSplit, rng: np.random.Generator, patch: int, batch_size: int,
                 tumour_fraction: float = 2 / 3, augment: bool = True, augmenter: Augmenter | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of random crops (images, region targets) as float32 tensors; ``augmenter`` (with ``augment``)
    adds the acquisition augmentation before the flip and jitter."""
    images, targets = [], []
    for _ in range(batch_size):
        index = int(rng.integers(len(split)))
        image, target = split.images[index], split.targets[index]
        shape = np.asarray(image.shape[1:])
        size = np.minimum(patch, shape)
        if rng.random() < tumour_fraction and target[0].any():
            voxels = np.argwhere(target[0])
            centre = voxels[rng.integers(len(voxels))] + rng.integers(-patch // 4, patch // 4 + 1, size=3)
            start = np.clip(centre - size // 2, 0, shape - size)
        else:
            start = np.array([rng.integers(0, s - p + 1) for s, p in zip(shape, size, strict=True)])
        box = tuple(slice(int(a), int(a + p)) for a, p in zip(start, size, strict=True))
        crop = image[(slice(None), *box)].astype(np.float32)
        label = target[(slice(None), *box)].astype(np.float32)
        if augment:
            if augmenter is not None:
                crop = augmenter(crop, index, box, rng)
            if rng.random() < 0.5:  # left-right flip (x axis)
                crop, label = crop[..., ::-1], label[..., ::-1]
            crop = crop * rng.uniform(0.9, 1.1, size=(4, 1, 1, 1)) + rng.uniform(-0.1, 0.1, size=(4, 1, 1, 1))
        images.append(np.ascontiguousarray(crop, dtype=np.float32))
        targets.append(np.ascontiguousarray(label))
    return torch.from_numpy(np.stack(images)), torch.from_numpy(np.stack(targets))


def predict_volume(model: UNet3D, image: np.ndarray) -> np.ndarray:
    """Logits (3, z, y, x) of one whole model-grid volume (padded to multiples of 8), eval mode."""
    model.eval()
    shape = image.shape[1:]
    padded = np.pad(np.asarray(image, dtype=np.float32), [(0, 0)] + [(0, -n % 8) for n in shape])
    with torch.no_grad():
        return model(torch.from_numpy(padded)[None])[0].numpy()[:, : shape[0], : shape[1], : shape[2]]


def validation_dice(model: UNet3D, split: CachedSplit) -> np.ndarray:
    """(n, 3) Dice of WT, TC, ET per case, whole model-grid volumes, eval mode."""
    scores = []
    for image, target in zip(split.images, split.targets, strict=True):
        logits = predict_volume(model, image)
        scores.append([dice(logits[r] > 0, target[r]) for r in range(3)])
    return np.asarray(scores)


def train(config: TrainConfig, splits: dict[str, CachedSplit], resume: bool = True) -> Path:
    """Run (or resume) training; returns the path of the best checkpoint."""
    limit_threads(config.threads)
    torch.manual_seed(config.seed)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    model = UNet3D(config.net)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        optimizer, T_0=config.restart_epochs * config.steps_per_epoch, T_mult=2, eta_min=config.lr * 0.02)
    state = {"epoch": 0, "steps": 0, "best": -1.0, "stale": 0,
             "rng": np.random.default_rng(config.seed).bit_generator.state}
    last, best = out / "last.pt", out / "best.pt"
    if resume and last.is_file():
        saved = torch.load(last, weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        state = saved["state"]
        print(f"[train] resumed at epoch {state['epoch']}", flush=True)
    rng = np.random.default_rng()
    rng.bit_generator.state = state["rng"]
    log = out / "train_log.jsonl"
    augmenter = Augmenter(splits["train"].images, config.augmentation) if config.augmentation else None
    while state["epoch"] < config.epochs and state["stale"] < config.patience:
        if config.max_steps and state.get("steps", 0) >= config.max_steps:
            print("[train] step budget reached", flush=True)
            break
        model.train()
        clock, losses = time.monotonic(), []
        for _ in range(config.steps_per_epoch):
            if config.max_steps and state.get("steps", 0) >= config.max_steps:
                break
            images, targets = sample_batch(splits["train"], rng, config.patch, config.batch_size,
                                           augmenter=augmenter)
            loss = segmentation_loss(model(images), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            state["steps"] = state.get("steps", 0) + 1
            losses.append(loss.item())
        scores = validation_dice(model, splits["val"]).mean(axis=0)
        state["epoch"] += 1
        mean = float(scores.mean())
        improved = mean > state["best"]
        state["best"], state["stale"] = (mean, 0) if improved else (state["best"], state["stale"] + 1)
        state["rng"] = rng.bit_generator.state
        record = {"epoch": state["epoch"], "steps": state["steps"], "loss": float(np.mean(losses)),
                  "lr": scheduler.get_last_lr()[0],
                  "val_dice": dict(zip(("WT", "TC", "ET"), scores.round(4).tolist(), strict=True)),
                  "val_mean": round(mean, 4), "epoch_s": round(time.monotonic() - clock, 1)}
        checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                      "scheduler": scheduler.state_dict(), "state": state,
                      "config": asdict(config), "net": config.net.to_dict(), "metrics": record}
        torch.save(checkpoint, last)
        if improved:
            torch.save(checkpoint, best)
        with log.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        print(f"[train] {json.dumps(record)}{' *' if improved else ''}", flush=True)
    return best


def load_model(path: str | Path) -> UNet3D:
    """The network of a checkpoint, in eval mode."""
    saved = torch.load(path, weights_only=False)
    net = dict(saved["net"])
    net["widths"] = tuple(net["widths"])
    model = UNet3D(NetConfig(**net))
    model.load_state_dict(saved["model"])
    return model.eval()


if __name__ == "__main__":
    raise SystemExit(main())
