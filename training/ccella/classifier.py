"""A small 3D CNN classifier of T2 volumes (32, 64, 64), used twice:

- the evaluator network: trained on its own real phantom split (never seen by the generator) with a class
  head and a lesion-side head (none / right / left); its 32-d pooled features are the 3D FID features and
  its class head is the held-out classifier of the prompt-adherence metric;
- the downstream classifier of the paper's experiment (class head only), trained on real, real +
  synthetic or synthetic volumes and tested on held-out real phantoms.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

FEATURES = 32


class VolumeClassifier(nn.Module):
    """AvgPool x2 -> three conv stages -> global average pool (features) -> class (and side) logits."""

    def __init__(self, side_head: bool = False) -> None:
        super().__init__()

        def stage(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv3d(cin, cout, 3, padding=1), nn.BatchNorm3d(cout), nn.ReLU(),
                                 nn.MaxPool3d(2))

        self.body = nn.Sequential(nn.AvgPool3d(2), stage(1, 8), stage(8, 16), stage(16, FEATURES))
        self.class_head = nn.Linear(FEATURES, 2)
        self.side_head = nn.Linear(FEATURES, 3) if side_head else None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3, 4))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        f = self.features(x)
        return self.class_head(f), (self.side_head(f) if self.side_head is not None else None)


def flip_lr(volumes: np.ndarray, side: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random left-right flips (augmentation), swapping the side labels right (1) <-> left (2)."""
    flip = rng.random(len(volumes)) < 0.5
    volumes = np.where(flip[:, None, None, None], volumes[..., ::-1], volumes)
    side = np.where(flip & (side > 0), 3 - side, side)
    return volumes, side


def train_classifier(volumes: np.ndarray, label_class: np.ndarray, side: np.ndarray | None, steps: int,
                     seed: int = 0, batch: int = 16, lr: float = 3e-3) -> VolumeClassifier:
    """Train for a fixed number of ``steps`` (deterministic: class loss, + side loss when ``side`` is
    given; cosine learning rate); returns the eval-mode model."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = VolumeClassifier(side_head=side is not None)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sides = side if side is not None else np.zeros(len(volumes), dtype=np.int64)
    for step in range(steps):
        index = rng.integers(len(volumes), size=batch)
        x, s = flip_lr(volumes[index], sides[index], rng) if side is not None else (volumes[index], sides[index])
        class_logits, side_logits = model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[:, None])
        loss = nn.functional.cross_entropy(class_logits, torch.from_numpy(label_class[index]))
        if side_logits is not None:
            loss = loss + nn.functional.cross_entropy(side_logits, torch.from_numpy(s))
        for group in optimiser.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


@torch.no_grad()
def predict(model: VolumeClassifier, volumes: np.ndarray, batch: int = 32) -> dict[str, np.ndarray]:
    """Class probabilities (n, 2), side probabilities (n, 3) if the model has that head, features (n, 32)."""
    outputs: dict[str, list] = {"class": [], "side": [], "features": []}
    for i in range(0, len(volumes), batch):
        x = torch.from_numpy(np.asarray(volumes[i:i + batch], dtype=np.float32))[:, None]
        features = model.features(x)
        outputs["features"].append(features.numpy())
        outputs["class"].append(model.class_head(features).softmax(-1).numpy())
        if model.side_head is not None:
            outputs["side"].append(model.side_head(features).softmax(-1).numpy())
    return {name: np.concatenate(parts) for name, parts in outputs.items() if parts}
