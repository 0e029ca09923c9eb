"""Train NoduleNet on cached phantom splits; runs alone or under ``torchrun`` (DDP, gloo on CPU).

    python -m training.cxr.train --out build/cxr/run --epochs 12
    torchrun --standalone --nproc_per_node=2 -m training.cxr.train --out build/cxr/run

AdamW with a cosine schedule (linear warm-up), augmentation from ``augment``, validation each epoch
(CPM + image AUC on the validation split), early stopping on validation CPM, checkpoints ``last.pt``
(resumable with ``--resume``) and ``best.pt``, progress lines on stdout and ``train_log.jsonl``.

The budget is counted in optimizer steps (``--epochs`` x steps per epoch, capped by ``--max-steps``), never
in wall-clock time: the same seed and thread count give the same weights on any machine, however loaded.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from training.cxr.augment import augment, random_crops
from training.cxr.losses import detector_loss
from training.cxr.metrics import auc, detection_metrics, match
from training.cxr.model import STRIDE, NetConfig, NoduleNet
from training.cxr.phantom_dataset import SPLITS, PhantomSet, SplitSpec, build_split
from training.cxr.predict import predict, torch_forward
from training.cxr.targets import make_targets


@dataclass
class TrainConfig:
    """Everything that determines a run (saved into every checkpoint)."""

    out: str
    cache: str = "build/cxr/cache"
    train: SplitSpec = SPLITS["train"]
    val: SplitSpec = SPLITS["val"]
    epochs: int = 11
    batch_size: int = 16
    crop: int = 256  # train on crops of the model grid (0 = whole images); the network is fully convolutional
    crops_per_epoch: int = 1200
    val_subset: int = 100  # validation cases scored each epoch (early stopping)
    head_cases: int = 600  # training cases (whole images) that fit the image head
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 50
    patience: int = 4
    max_steps: int = 0  # 0 = epochs x steps per epoch; else training stops after this many optimizer steps
    seed: int = 0
    threads: int = 1
    max_steps_per_epoch: int = 0  # 0 = crops_per_epoch / batch_size
    max_degrees: float = 10.0  # augmentation rotation (0.1.0: 5), toward rotated bedside films
    scale_range: float = 0.15  # augmentation log-scale (0.1.0: 0.08), toward other detector pixel sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--cache", default=TrainConfig.cache)
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--max-steps", type=int, default=TrainConfig.max_steps,
                        help="optimizer-step budget (0: epochs x steps per epoch)")
    parser.add_argument("--threads", type=int, default=TrainConfig.threads)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--max-steps-per-epoch", type=int, default=0)
    parser.add_argument("--crop", type=int, default=TrainConfig.crop)
    parser.add_argument("--crops-per-epoch", type=int, default=TrainConfig.crops_per_epoch)
    parser.add_argument("--split", nargs=4, action="append", metavar=("NAME", "FIRST", "COUNT", "SIZE"),
                        help="override a split: train|val first_seed count render_size (tiny runs)")
    parser.add_argument("--model-size", type=int, default=SPLITS["train"].model_size)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    splits = {name: dataclasses.replace(s, model_size=args.model_size) for name, s in SPLITS.items()}
    for name, first, count, size in args.split or []:
        splits[name] = SplitSpec(name, int(first), int(count), int(size), args.model_size)
    config = TrainConfig(out=args.out, cache=args.cache, train=splits["train"], val=splits["val"],
                         epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         max_steps=args.max_steps, seed=args.seed, threads=args.threads,
                         max_steps_per_epoch=args.max_steps_per_epoch, crop=args.crop,
                         crops_per_epoch=args.crops_per_epoch)
    train(config, resume=args.resume)
    return 0


def train(config: TrainConfig, resume: bool = False) -> Path:
    """Run training; returns the best checkpoint's path (written by rank 0)."""
    rank, world = _init_distributed()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    if rank == 0:
        for spec in (config.train, config.val):
            build_split(spec, config.cache)
    if world > 1:
        dist.barrier()  # rank 0 renders the caches, the others then read them
    train_set, val_set = build_split(config.train, config.cache), build_split(config.val, config.cache)
    model = NoduleNet(NetConfig())
    net = DistributedDataParallel(model) if world > 1 else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = _steps_per_epoch(config, world)
    total = max(1, steps_per_epoch * config.epochs)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _lr_factor(step, total, config.warmup_steps))
    state = {"epoch": 0, "best_cpm": -1.0, "bad_epochs": 0, "step": 0}
    if resume and (out / "last.pt").is_file():
        checkpoint = torch.load(out / "last.pt", map_location="cpu", weights_only=False)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        schedule.load_state_dict(checkpoint["schedule"])
        state = checkpoint["state"]
    started = time.monotonic()
    log = (out / "train_log.jsonl").open("a") if rank == 0 else None
    while state["epoch"] < config.epochs:
        epoch = state["epoch"]
        rng = np.random.default_rng([config.seed, epoch, rank])
        order = np.random.default_rng([config.seed, epoch]).integers(0, len(train_set), config.crops_per_epoch)
        order = order[rank::world]
        net.train()
        losses: list[float] = []
        for step in range(steps_per_epoch):
            if budget_spent(state, config):
                break
            batch = np.sort(order[step * config.batch_size:(step + 1) * config.batch_size])
            pixels = np.asarray(train_set.images[batch], dtype=np.float32)
            nodules = [train_set.case_nodules(i) for i in batch]
            if config.crop and config.crop < pixels.shape[-1]:
                pixels, nodules = random_crops(pixels, nodules, config.crop, rng)
            images, nodules = augment(torch.from_numpy(pixels[:, None]), nodules, rng,
                                      scale_range=config.scale_range, max_degrees=config.max_degrees)
            targets = make_targets(nodules, images.shape[-1] // STRIDE)
            parts = detector_loss(net(images), targets)
            optimizer.zero_grad(set_to_none=True)
            parts["total"].backward()
            optimizer.step()
            schedule.step()
            losses.append(float(parts["total"].detach()))
            state["step"] = state.get("step", 0) + 1
            if rank == 0 and (step + 1) % 25 == 0:
                print(f"[train] epoch {epoch + 1}/{config.epochs} step {step + 1}/{steps_per_epoch} "
                      f"loss {np.mean(losses[-25:]):.4f} lr {schedule.get_last_lr()[0]:.2e}", flush=True)
        state["epoch"] = epoch + 1
        stop = torch.zeros(1)
        if rank == 0:
            scores = validate(model, _subset(val_set, config.val_subset))
            improved = scores["cpm"] > state["best_cpm"]
            state["best_cpm"] = max(state["best_cpm"], scores["cpm"])
            state["bad_epochs"] = 0 if improved else state["bad_epochs"] + 1
            minutes = (time.monotonic() - started) / 60
            record = {"epoch": epoch + 1, "steps": state["step"], "train_loss": float(np.mean(losses)), **scores,
                      "minutes": minutes}
            print(f"[val] epoch {epoch + 1}: " + " ".join(f"{k} {v:.4f}" for k, v in record.items()), flush=True)
            log.write(json.dumps(record) + "\n")
            log.flush()
            checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                          "schedule": schedule.state_dict(), "state": state, "config": _jsonable(config),
                          "net": asdict(model.config)}
            torch.save(checkpoint, out / "last.pt")
            if improved:
                torch.save(checkpoint, out / "best.pt")
            if state["bad_epochs"] >= config.patience or budget_spent(state, config):
                stop[0] = 1.0
        if world > 1:
            dist.broadcast(stop, 0)
        if stop.item():
            break
    if rank == 0:
        best = torch.load(out / "best.pt", map_location="cpu", weights_only=False)
        model.load_state_dict(best["model"])
        head_started = time.monotonic()
        init_cam_from_heatmap(model)
        fit_image_head(model, _subset(train_set, config.head_cases))
        best["model"], best["image_head"] = model.state_dict(), validate(model, _subset(val_set, config.val_subset))
        best["image_head"]["seconds"] = time.monotonic() - head_started
        print(f"[val] after training the image head on whole images: {best['image_head']}", flush=True)
        log.write(json.dumps({"image_head": best["image_head"]}) + "\n")
        log.close()
        torch.save(best, out / "best.pt")
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return out / "best.pt"


def validate(model: NoduleNet, val_set: PhantomSet) -> dict[str, float]:
    """Validation CPM (detections) and AUC (image logit)."""
    model.eval()
    predictions = predict(torch_forward(model), val_set.images)
    matched = match([d[:, [0, 1, 3]] for d in predictions.detections],
                    [val_set.case_nodules(i) for i in range(len(val_set))], val_set.spacing_mm)
    scores = detection_metrics(matched)
    return {"cpm": scores["cpm"], "sens@0.5": scores["sens@0.5"],
            "auc": auc(predictions.image_logits, val_set.positive)}


CAM_GAIN = 256.0  # keeps the pooled CAM features O(1) (they average a few hot cells over the whole grid)


def init_cam_from_heatmap(model: NoduleNet, first: float = -3.0, step: float = 0.25) -> np.ndarray:
    """Set the CAM target layer so that channel k = gain * ReLU(centre logit - t_k), t_k = first + k * step.

    The layer is a 3x3 conv whose centre tap copies the heat-map head's 1x1 weights, and a batch norm
    (eval) that adds the head's bias minus the threshold. Global average pooling of these channels is a
    histogram of the detector's evidence over the whole image, which the linear image head then weighs.
    Returns the thresholds.
    """
    conv, norm = model.cam_layer[0], model.cam_layer[1]
    thresholds = first + step * np.arange(conv.out_channels)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[:, :, 1, 1] = model.heatmap.weight[0, :, 0, 0]
        norm.running_mean.zero_()
        norm.running_var.fill_(1.0 - norm.eps)
        norm.weight.fill_(CAM_GAIN)
        norm.bias.copy_(CAM_GAIN * (model.heatmap.bias[0] - torch.from_numpy(thresholds).float()))
    return thresholds


def fit_image_head(model: NoduleNet, train_set: PhantomSet, l2: float = 1e-4) -> None:
    """Logistic regression of the image label on whole-image pooled CAM features (the linear head)."""
    model.eval()
    features = []
    with torch.no_grad():
        for first in range(0, len(train_set), 8):
            batch = torch.from_numpy(np.asarray(train_set.images[first:first + 8], dtype=np.float32)[:, None])
            features.append(model(batch)["cam_features"].mean(dim=(2, 3)))
    pooled, labels = torch.cat(features), torch.from_numpy(train_set.positive.astype(np.float32))
    weight = torch.zeros_like(model.classifier.weight, requires_grad=True)
    bias = torch.zeros_like(model.classifier.bias, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        logits = pooled @ weight[0] + bias[0]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels) + l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        model.classifier.weight.copy_(weight)
        model.classifier.bias.copy_(bias)


def _subset(split: PhantomSet, n: int) -> PhantomSet:
    """The first ``n`` cases of ``split`` (all when n is 0 or larger than the split)."""
    if not n or n >= len(split):
        return split
    keep = split.nodules["case"] < n
    return PhantomSet(images=split.images[:n], lungs=split.lungs[:n],
                      nodules={key: value[keep] for key, value in split.nodules.items()},
                      seeds=split.seeds[:n], spacing_mm=split.spacing_mm[:n])


def load_model(checkpoint: str | os.PathLike) -> NoduleNet:
    """A NoduleNet (eval mode) from a checkpoint written by :func:`train`."""
    data = torch.load(checkpoint, map_location="cpu", weights_only=False)
    net = data["net"]
    model = NoduleNet(NetConfig(widths=tuple(net["widths"]), cam_channels=net["cam_channels"]))
    model.load_state_dict(data["model"])
    return model.eval()


def _init_distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def budget_spent(state: dict, config: TrainConfig) -> bool:
    """True once ``config.max_steps`` optimizer steps have run (never when it is 0)."""
    return bool(config.max_steps) and state.get("step", 0) >= config.max_steps


def _steps_per_epoch(config: TrainConfig, world: int) -> int:
    steps = max(1, (config.crops_per_epoch // world) // config.batch_size)
    return min(steps, config.max_steps_per_epoch) if config.max_steps_per_epoch else steps


def _lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _jsonable(config: TrainConfig) -> dict:
    return json.loads(json.dumps(asdict(config)))


if __name__ == "__main__":
    raise SystemExit(main())
