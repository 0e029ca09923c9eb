"""Stage 1: train the KL autoencoder for a wall-clock budget, fit the latent scale (1 / std of the
posterior means), pre-encode the training latents once and save everything in one checkpoint.

The network is fully convolutional, so it trains on random (16, 32, 32) crops (an eighth of a volume:
eight times the updates per second on a shared CPU) and encodes whole volumes. ``--resume`` continues
from the saved checkpoint. Gradients are clipped (a crop run once jumped from L1 0.05 to 0.56 in one step and
never recovered), and a resumed run whose held-out reconstruction is worse than the checkpoint's keeps the
checkpoint's weights (the run is still recorded, with ``kept: false``).

    python -m training.ccella.train_autoencoder --seconds 360 [--full] [--resume]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from training.ccella.autoencoder import KLAutoencoder, kl_divergence
from training.ccella.budget import Budget
from training.ccella.config import TEST_SEEDS, TRAIN_SEEDS, WORK_DIR
from training.ccella.data import cached_split

KL_WEIGHT = 1e-6
CROP = (16, 32, 32)
MAX_GRAD_NORM = 1.0


def random_crops(rng: np.random.Generator, volumes: np.ndarray, batch: int) -> torch.Tensor:
    """``batch`` random (16, 32, 32) crops, offsets multiples of 4 (the latent stride), half of them
    around the grid centre where the prostate lies."""
    crops = []
    for index in rng.integers(len(volumes), size=batch):
        limits = [n - c for n, c in zip(volumes.shape[1:], CROP, strict=True)]
        if rng.random() < 0.5:
            start = [int(np.clip(lim // 2 + 4 * rng.integers(-2, 3), 0, lim)) for lim in limits]
        else:
            start = [4 * int(rng.integers(lim // 4 + 1)) for lim in limits]
        z, y, x = start
        crops.append(volumes[index, z:z + CROP[0], y:y + CROP[1], x:x + CROP[2]])
    return torch.from_numpy(np.stack(crops))[:, None]


def train(seconds: float, batch: int = 8, lr: float = 2e-3, seed: int = 0, resume: bool = False, crop: bool = True,
          work: Path = WORK_DIR) -> dict:
    """Train, scale, pre-encode; writes work/autoencoder.pt and work/latents.npz; returns the metrics."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed + int(resume))
    volumes = cached_split("train", TRAIN_SEEDS, with_text=True, work=work).volumes
    model, history, previous = KLAutoencoder(), [], None
    if resume:
        checkpoint = torch.load(work / "autoencoder.pt", weights_only=True)
        model.load_state_dict(checkpoint["state"])
        history = checkpoint["metrics"].get("runs", [checkpoint["metrics"]])
        previous = checkpoint
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    budget, log = Budget(seconds), []
    while budget.running():
        x = (random_crops(rng, volumes, batch) if crop
             else torch.from_numpy(volumes[rng.integers(len(volumes), size=batch)])[:, None])
        reconstruction, mean, logvar = model(x)
        l1 = (reconstruction - x).abs().mean()
        loss = l1 + KL_WEIGHT * kl_divergence(mean, logvar)
        for group in optimiser.param_groups:
            group["lr"] = lr * budget.lr_factor()
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
        optimiser.step()
        budget.steps += 1
        if budget.steps % 25 == 0:
            log.append({"step": budget.steps, "seconds": round(budget.elapsed, 1), "l1": float(l1.detach())})
            print(json.dumps(log[-1]), flush=True)
    model.eval()
    test = cached_split("test", TEST_SEEDS, with_text=True, work=work).volumes
    run = {"steps": budget.steps, "seconds": round(budget.elapsed, 1), "batch": batch,
           "input": f"random {CROP} crops" if crop else "full volumes", "test_l1": reconstruction_l1(model, test),
           "kept": True}
    if previous is not None and run["test_l1"] > previous["metrics"]["test_l1"]:
        model.load_state_dict(previous["state"])
        run["kept"] = False
    latents = encode_all(model, volumes)
    model.scale.fill_(float(1.0 / latents.std()))
    runs = [*history, run]
    metrics = {"runs": runs, "seconds": round(sum(r["seconds"] for r in runs), 1), "scale": float(model.scale),
               "test_l1": min(r["test_l1"] for r in runs if r.get("kept", True)),
               "parameters": sum(p.numel() for p in model.parameters())}
    torch.save({"state": model.state_dict(), "metrics": metrics, "log": log}, work / "autoencoder.pt")
    np.savez(work / "latents.npz", latents=(latents * float(model.scale)).astype(np.float32))
    return metrics


@torch.no_grad()
def encode_all(model: KLAutoencoder, volumes: np.ndarray, batch: int = 16) -> np.ndarray:
    """Unscaled posterior means of ``volumes`` (n, z, y, x)."""
    parts = [model.encoder(torch.from_numpy(volumes[i:i + batch])[:, None])[0].numpy()
             for i in range(0, len(volumes), batch)]
    return np.concatenate(parts)


@torch.no_grad()
def reconstruction_l1(model: KLAutoencoder, volumes: np.ndarray, batch: int = 16) -> float:
    """Mean |x - decode(encode(x))| on ``volumes`` (model intensity units)."""
    errors = []
    for i in range(0, len(volumes), batch):
        x = torch.from_numpy(volumes[i:i + batch])[:, None]
        errors.append(float((model.decode(model.encode(x)) - x).abs().mean()) * len(x))
    return sum(errors) / len(volumes)


def load_autoencoder(work: Path = WORK_DIR) -> KLAutoencoder:
    """The frozen, trained autoencoder (eval mode, scale restored)."""
    model = KLAutoencoder()
    model.load_state_dict(torch.load(work / "autoencoder.pt", weights_only=True)["state"])
    return model.eval().requires_grad_(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=360.0)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--resume", action="store_true", help="continue from the saved checkpoint")
    parser.add_argument("--full", action="store_true", help="train on whole volumes instead of crops")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(json.dumps(train(args.seconds, args.batch, resume=args.resume, crop=not args.full)))


if __name__ == "__main__":
    main()
