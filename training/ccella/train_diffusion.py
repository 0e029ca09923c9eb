"""Stage 2: train the latent denoiser of one variant (ccella | text | class | uncond) for a fixed number of
optimiser steps (the same for every variant, so the ablations see the same data and budget) on the
pre-encoded latents, with 15 % of the reports dropped (null report), joint loss with the noise L1 weighted
by region (gland, lesion) and, for ccella, the side and level cross-entropies (the extensions in losses.py), and an
exponential moving average of the weights (the EMA weights are saved and used for sampling).

    python -m training.ccella.train_diffusion --variant ccella --steps 6000
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import numpy as np
import torch

from training.ccella.budget import Budget
from training.ccella.config import TRAIN_SEEDS, WORK_DIR
from training.ccella.data import cached_split, null_text
from training.ccella.diffusion import q_sample, random_timesteps
from training.ccella.losses import joint_loss
from training.ccella.regions import latent_region_weights
from training.ccella.unet import VARIANTS, Denoiser

REPORT_DROP = 0.15
EMA_DECAY = 0.998  # reached after a warm-up: decay_k = min(EMA_DECAY, (1 + k) / (10 + k))
PHANTOM_SPACING = (2.0, 2.0, 2.25)  # x, y, z mm of the model grid (constant in the phantom data)


def train(variant: str, steps: int, batch: int = 16, lr: float = 1e-3, seed: int = 0, work: Path = WORK_DIR
          ) -> dict:
    """Train ``variant``; writes work/diffusion_<variant>.pt and returns the metrics."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    latents = np.load(work / "latents.npz")["latents"]
    split = cached_split("train", TRAIN_SEEDS, with_text=True, work=work)
    weights = latent_region_weights(split.labels)
    levels = split.level
    null_features, null_mask = null_text(work)
    model = Denoiser(variant)
    ema = copy.deepcopy(model).requires_grad_(False)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    spacing = torch.tensor([PHANTOM_SPACING] * batch, dtype=torch.float32)
    budget, log = Budget(max_steps=steps), []
    while budget.running():
        index = rng.integers(len(latents), size=batch)
        has_report = rng.random(batch) >= REPORT_DROP
        text = np.where(has_report[:, None, None], split.features[index].astype(np.float32), null_features)
        mask = np.where(has_report[:, None], split.mask[index], null_mask)
        target = torch.from_numpy(split.label_class[index])
        class_probs = torch.nn.functional.one_hot(target, 2).float() if variant == "class" else torch.zeros(batch, 2)
        x0 = torch.from_numpy(latents[index])
        noise = torch.randn(x0.shape, generator=generator)
        t = random_timesteps(generator, batch)
        eps, logits, side_logits, level_logits = model(q_sample(x0, t, noise), t, torch.from_numpy(text),
                                                       torch.from_numpy(mask).float(), spacing, class_probs,
                                                       torch.zeros(batch, 1))
        heads = variant == "ccella"
        findings = {"side": (side_logits, torch.from_numpy(split.side[index])),
                    "level": (level_logits, torch.from_numpy(levels[index]))} if heads else None
        loss, parts = joint_loss(eps, noise, logits if heads else None, target, torch.from_numpy(has_report),
                                 weights=torch.from_numpy(weights[index]), findings=findings)
        for group in optimiser.param_groups:
            group["lr"] = lr * budget.lr_factor()
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        decay = min(EMA_DECAY, (1 + budget.steps) / (10 + budget.steps))
        with torch.no_grad():
            for average, current in zip(ema.parameters(), model.parameters(), strict=True):
                average.lerp_(current, 1 - decay)
        budget.steps += 1
        if budget.steps % 100 == 0:
            log.append({"step": budget.steps, "seconds": round(budget.elapsed, 1), **parts})
            print(json.dumps(log[-1]), flush=True)
    metrics = {"variant": variant, "steps": budget.steps, "seconds": round(budget.elapsed, 1), "batch": batch,
               "samples_seen": budget.steps * batch, "parameters": sum(p.numel() for p in model.parameters())}
    torch.save({"variant": variant, "state": ema.state_dict(), "metrics": metrics, "log": log},
               work / f"diffusion_{variant}.pt")
    return metrics


def load_denoiser(variant: str, work: Path = WORK_DIR) -> Denoiser:
    """The trained (EMA) denoiser of ``variant`` in eval mode."""
    model = Denoiser(variant)
    model.load_state_dict(torch.load(work / f"diffusion_{variant}.pt", weights_only=True)["state"])
    return model.eval().requires_grad_(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", choices=VARIANTS, default="ccella")
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(json.dumps(train(args.variant, args.steps, args.batch)))


if __name__ == "__main__":
    main()
