"""Adapting the trained model to a new site: AdaBN (test-time, unlabelled), LoRA and full fine-tuning.

``adabn`` re-estimates every BatchNorm's running mean/variance on unlabelled new-site volumes (Li et al.
2016), sampled like the training crops with the model's own prediction as pseudo-label, and changes
nothing else. ``fine_tune`` trains either the LoRA adapters only (BatchNorm frozen) or
every parameter, on random crops of the labelled new-site cases. ``adaptation_table`` runs the
experiment: base model, AdaBN, LoRA, full fine-tuning, scored on held-out new-site phantoms.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from training.brain.data import CachedSplit, SplitSpec
from training.brain.lora import add_lora, freeze_norm_statistics, merge_lora
from training.brain.losses import segmentation_loss
from training.brain.model import UNet3D, parameter_count
from training.brain.train import predict_volume, sample_batch, validation_dice


def adabn(model: UNet3D, images: Sequence[np.ndarray], patch: int = 48, crops_per_image: int = 4,
          seed: int = 0) -> UNet3D:
    """A copy of ``model`` whose BatchNorm statistics are re-estimated on unlabelled ``images`` (c, z, y, x).

    The statistics are averaged over crops drawn the way training drew them (``patch``-sized, two thirds
    centred near tumour), with the base model's own prediction standing in for the missing labels:
    whole-volume statistics would describe a different input distribution than the one the network was
    trained on (mostly healthy tissue instead of tumour-centred crops).
    """
    pseudo = [predict_volume(model, image) > 0 for image in images]
    unlabelled = CachedSplit(SplitSpec("unlabelled", 0, len(images)), list(images), pseudo)
    adapted = copy.deepcopy(model).eval()
    for norm in (m for m in adapted.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)):
        norm.reset_running_stats()
        norm.momentum = None  # cumulative moving average: every crop counts equally
        norm.train()
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for _ in range(max(1, len(images) * crops_per_image // 2)):
            crops, _ = sample_batch(unlabelled, rng, patch, 2)
            adapted(crops)
    return adapted.eval()


def fine_tune(model: UNet3D, split: CachedSplit, mode: str, steps: int, lr: float, seed: int = 0,
              patch: int = 48, batch_size: int = 2, rank: int = 4) -> tuple[UNet3D, int]:
    """A fine-tuned copy (``mode`` "lora": adapters only, merged afterwards; "full": all parameters) and
    the number of parameters trained."""
    tuned = copy.deepcopy(model)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    if mode == "lora":
        parameters = add_lora(tuned, rank=rank)
    elif mode == "full":
        parameters = list(tuned.parameters())
    else:
        raise ValueError(f"mode must be 'lora' or 'full', got {mode!r}")
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    tuned.train()
    if mode == "lora":
        freeze_norm_statistics(tuned)
    for _ in range(steps):
        images, targets = sample_batch(split, rng, patch, batch_size)
        loss = segmentation_loss(tuned(images), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    trained = sum(p.numel() for p in parameters)
    if mode == "lora":
        merge_lora(tuned)
    return tuned.eval(), trained


def adaptation_table(model: UNet3D, site_train: CachedSplit, site_test: CachedSplit, steps: int,
                     log: Callable[[str], None] = print) -> list[dict]:
    """Rows (method, trainable parameters, labelled cases, mean Dice per region + per-case Dice) on
    ``site_test``."""
    rows = []

    def score(name: str, adapted: UNet3D, trained: int, labelled: int, seconds: float) -> None:
        per_case = validation_dice(adapted, site_test)
        means = dict(zip(("WT", "TC", "ET"), per_case.mean(axis=0).round(4).tolist(), strict=True))
        rows.append({"method": name, "trained_parameters": trained, "labelled_cases": labelled,
                     "seconds": round(seconds, 1), "dice": means, "per_case": per_case.tolist()})
        log(f"[adapt] {name}: {means} ({seconds:.0f} s)")

    score("base model (no adaptation)", model, 0, 0, 0.0)
    clock = time.monotonic()
    score("AdaBN (BatchNorm statistics, unlabelled)", adabn(model, site_train.images), 0, 0,
          time.monotonic() - clock)
    clock = time.monotonic()
    lora, trained = fine_tune(model, site_train, "lora", steps, lr=3e-3)
    score("LoRA rank 4 (adapters only)", lora, trained, len(site_train), time.monotonic() - clock)
    clock = time.monotonic()
    full, trained = fine_tune(model, site_train, "full", steps, lr=1e-3)
    score("full fine-tuning", full, parameter_count(full), len(site_train), time.monotonic() - clock)
    return rows
