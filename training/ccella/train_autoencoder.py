"""Stage 1: train the KL autoencoder for a budget of optimizer steps, fit the latent scale (1 / std of the
posterior means), pre-encode the training latents once and save everything in one checkpoint.

The reconstruction loss is an L1 weighted by region: 1 everywhere, more inside the prostate and much more
inside a lesion (the phantom's label maps; the weights are a training choice only, the model never sees
labels). An unweighted L1 lets a small dark lesion (0.1 % of the voxels) blur away: the first model kept a
lesion on 0.20 of the real positives' reconstructions, so no denoiser trained on its latents could draw one.
Gradients are clipped, and ``--resume`` continues from the saved checkpoint; a resumed run whose VALIDATION
reconstruction (``VAL_SEEDS``) is worse than the checkpoint's keeps the checkpoint's weights (recorded with
``kept: false``); the test split only reports. The budget is a step count, never wall-clock time, so the same
seed gives the same weights on any machine.

    python -m training.ccella.train_autoencoder --steps 1250 [--resume]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from training.ccella.autoencoder import KLAutoencoder, kl_divergence
from training.ccella.budget import Budget
from training.ccella.config import TEST_SEEDS, TRAIN_SEEDS, VAL_SEEDS, WORK_DIR
from training.ccella.data import cached_split
from training.ccella.regions import LESION_LABEL, region_weights, weighted_l1

KL_WEIGHT = 1e-6
MAX_GRAD_NORM = 1.0


def train(steps: int, batch: int = 8, lr: float = 2e-3, seed: int = 0, resume: bool = False,
          work: Path = WORK_DIR) -> dict:
    """Train, scale, pre-encode; writes work/autoencoder.pt and work/latents.npz; returns the metrics."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed + int(resume))
    split = cached_split("train", TRAIN_SEEDS, with_text=True, work=work)
    model, history, previous = KLAutoencoder(), [], None
    if resume:
        checkpoint = torch.load(work / "autoencoder.pt", weights_only=True)
        model.load_state_dict(checkpoint["state"])
        history = checkpoint["metrics"].get("runs", [checkpoint["metrics"]])
        previous = checkpoint
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    budget, log = Budget(max_steps=steps), []
    while budget.running():
        index = rng.integers(len(split), size=batch)
        x = torch.from_numpy(split.volumes[index])[:, None]
        weights = region_weights(torch.from_numpy(split.labels[index])[:, None])
        reconstruction, mean, logvar = model(x)
        l1 = weighted_l1(reconstruction, x, weights)
        loss = l1 + KL_WEIGHT * kl_divergence(mean, logvar)
        for group in optimiser.param_groups:
            group["lr"] = lr * budget.lr_factor()
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
        optimiser.step()
        budget.steps += 1
        if budget.steps % 25 == 0:
            log.append({"step": budget.steps, "seconds": round(budget.elapsed, 1), "weighted_l1": float(l1.detach())})
            print(json.dumps(log[-1]), flush=True)
    model.eval()
    test = cached_split("test", TEST_SEEDS, with_text=True, work=work)
    val = cached_split("val", VAL_SEEDS, with_text=False, work=work)
    run = {"steps": budget.steps, "max_steps": steps, "seed": seed, "seconds": round(budget.elapsed, 1),
           "batch": batch, "input": "full volumes, region-weighted L1",
           **reconstruction_errors(model, test.volumes, test.labels),
           "val_l1": reconstruction_errors(model, val.volumes, val.labels)["test_l1"], "kept": True}
    if previous is not None:
        before = KLAutoencoder()
        before.load_state_dict(previous["state"])
        run["val_l1_before"] = reconstruction_errors(before.eval(), val.volumes, val.labels)["test_l1"]
        if run["val_l1"] > run["val_l1_before"]:  # decided on validation, never on test
            model.load_state_dict(previous["state"])
            run["kept"] = False
    latents = encode_all(model, split.volumes)
    model.scale.fill_(float(1.0 / latents.std()))
    runs = [*history, run]
    kept = [r for r in runs if r.get("kept", True)]
    metrics = {"runs": runs, "seconds": round(sum(r["seconds"] for r in runs), 1), "scale": float(model.scale),
               "test_l1": min(r["test_l1"] for r in kept),
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
def reconstruction_errors(model: KLAutoencoder, volumes: np.ndarray, labels: np.ndarray, batch: int = 16
                          ) -> dict[str, float]:
    """Mean |x - decode(encode(x))| over all voxels (``test_l1``) and over lesion voxels (``test_lesion_l1``),
    in model intensity units."""
    total = lesion_total = 0.0
    lesion_voxels = 0
    for i in range(0, len(volumes), batch):
        x = torch.from_numpy(volumes[i:i + batch])[:, None]
        error = (model.decode(model.encode(x)) - x).abs()[:, 0].numpy()
        total += float(error.sum())
        in_lesion = labels[i:i + batch] == LESION_LABEL
        lesion_total += float(error[in_lesion].sum())
        lesion_voxels += int(in_lesion.sum())
    return {"test_l1": total / volumes.size, "test_lesion_l1": lesion_total / max(lesion_voxels, 1)}


def load_autoencoder(work: Path = WORK_DIR) -> KLAutoencoder:
    """The frozen, trained autoencoder (eval mode, scale restored)."""
    model = KLAutoencoder()
    model.load_state_dict(torch.load(work / "autoencoder.pt", weights_only=True)["state"])
    return model.eval().requires_grad_(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=1250, help="optimizer steps of this run")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--resume", action="store_true", help="continue from the saved checkpoint")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(json.dumps(train(args.steps, args.batch, resume=args.resume)))


if __name__ == "__main__":
    main()
