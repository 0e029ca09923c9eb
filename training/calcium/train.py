"""Train LesionNet on candidate records with early stopping on the validation loss (reproducible seeds).

One thread by default (the machines are shared). Augmentation: independent shifts of the local and context
planes by up to 2 samples, HU noise; never mirroring (left/right decides LCX vs RCA).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from training.calcium.model import LesionNet
from training.calcium.records import CLASSES, CaseRecord


@dataclass(frozen=True)
class TrainConfig:
    out: str
    epochs: int = 60
    patience: int = 8
    batch: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    width: int = 16
    seed: int = 0
    threads: int = 1
    max_steps: int = 0  # optimizer-step budget (0: the epochs alone); no wall-clock limit, so a seed is a result


@dataclass
class Arrays:
    """Candidate inputs and targets of several cases stacked together."""

    local: np.ndarray
    context: np.ndarray
    scalars: np.ndarray
    target: np.ndarray

    def __len__(self) -> int:
        return int(self.target.size)


def stack(records: list[CaseRecord]) -> Arrays:
    """All candidates of ``records`` as one set of arrays."""
    return Arrays(*(np.concatenate([getattr(r, key) for r in records]) for key in ("local", "context", "scalars",
                                                                                  "target")))


def _augment(batch: Arrays, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
    local, context = batch.local.copy(), batch.context.copy()
    for i in range(len(batch)):
        local[i] = np.roll(local[i], tuple(rng.integers(-2, 3, size=2)), axis=(1, 2))
        context[i] = np.roll(context[i], tuple(rng.integers(-2, 3, size=2)), axis=(1, 2))
    local += rng.normal(0, 0.02, size=local.shape).astype(np.float32)
    return torch.from_numpy(local), torch.from_numpy(context), torch.from_numpy(batch.scalars)


def _subset(data: Arrays, index: np.ndarray) -> Arrays:
    return Arrays(data.local[index], data.context[index], data.scalars[index], data.target[index])


def predict_logits(model: LesionNet, data: Arrays, batch: int = 256) -> np.ndarray:
    """Logits (n, 5) of ``model`` in eval mode."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(data), batch):
            part = _subset(data, np.arange(start, min(start + batch, len(data))))
            out.append(model(torch.from_numpy(part.local), torch.from_numpy(part.context),
                             torch.from_numpy(part.scalars))[0].numpy())
    return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), dtype=np.float32)


def train(config: TrainConfig, train_data: Arrays, val_data: Arrays, log=print) -> Path:
    """Train; returns the path of the best checkpoint (lowest validation loss)."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = np.random.default_rng(config.seed)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    model = LesionNet(config.width)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    counts = np.bincount(train_data.target, minlength=len(CLASSES)).astype(np.float64)
    weights = torch.tensor(np.sqrt(counts.sum() / np.maximum(counts, 1) / len(CLASSES)), dtype=torch.float32)
    best, best_epoch, started, steps = np.inf, -1, time.monotonic(), 0
    checkpoint = out / "best.pt"
    history = []
    for epoch in range(config.epochs):
        model.train()
        order = rng.permutation(len(train_data))
        losses = []
        for start in range(0, len(order), config.batch):
            if config.max_steps and steps >= config.max_steps:
                break
            batch = _subset(train_data, order[start:start + config.batch])
            if len(batch) < 2:
                continue
            logits, _ = model(*_augment(batch, rng))
            loss = F.cross_entropy(logits, torch.from_numpy(batch.target), weight=weights)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            steps += 1
            losses.append(float(loss.detach()))
        val_logits = predict_logits(model, val_data)
        val_loss = float(F.cross_entropy(torch.from_numpy(val_logits), torch.from_numpy(val_data.target)))
        val_acc = float(np.mean(val_logits.argmax(1) == val_data.target))
        history.append({"epoch": epoch, "steps": steps, "train_loss": float(np.mean(losses)), "val_loss": val_loss,
                        "val_accuracy": val_acc, "minutes": (time.monotonic() - started) / 60})
        log(f"[train] epoch {epoch} train {history[-1]['train_loss']:.4f} val {val_loss:.4f} acc {val_acc:.4f}")
        if val_loss < best:
            best, best_epoch = val_loss, epoch
            torch.save({"state": model.state_dict(), "config": asdict(config), "epoch": epoch, "steps": steps},
                       checkpoint)
        if epoch - best_epoch >= config.patience or (config.max_steps and steps >= config.max_steps):
            break
    (out / "train_log.json").write_text(json.dumps({"best_epoch": best_epoch, "steps": steps, "max_steps":
                                                    config.max_steps, "epochs": config.epochs, "seed": config.seed,
                                                    "history": history}, indent=1))
    return checkpoint


def load_model(checkpoint: str | Path) -> LesionNet:
    """The LesionNet saved at ``checkpoint`` (eval mode)."""
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model = LesionNet(saved["config"]["width"])
    model.load_state_dict(saved["state"])
    return model.eval()
