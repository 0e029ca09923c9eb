"""Brain U-Net: shapes, loss, LoRA (only adapters train; merge is exact), AdaBN (only norm statistics change),
ONNX parity, and a tiny resumable training run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.brain.adapt import adabn, fine_tune  # noqa: E402
from training.brain.data import CachedSplit, SplitSpec  # noqa: E402
from training.brain.export import export_onnx, parity, torch_from_onnx  # noqa: E402
from training.brain.lora import LoRAConv3d, add_lora, merge_lora  # noqa: E402
from training.brain.losses import focal_loss, segmentation_loss, soft_dice_loss  # noqa: E402
from training.brain.model import NetConfig, UNet3D, parameter_count  # noqa: E402
from training.brain.train import TrainConfig, load_model, sample_batch, train  # noqa: E402

TINY = NetConfig(widths=(4, 8, 8, 8))


@pytest.fixture(autouse=True)
def _one_thread():
    """One thread here (training sets it too); the suite's settings are restored afterwards."""
    import SimpleITK as sitk

    threads, itk_threads = torch.get_num_threads(), sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(itk_threads)


def _model() -> UNet3D:
    torch.manual_seed(0)
    model = UNet3D(TINY)
    model.train()
    with torch.no_grad():  # move the BatchNorm statistics off the identity
        for _ in range(2):
            model(torch.randn(2, 4, 16, 16, 16) * 2 + 1)
    return model.eval()


def _split(n: int = 3, shape: tuple[int, int, int] = (16, 24, 16)) -> CachedSplit:
    rng = np.random.default_rng(0)
    images, targets = [], []
    for _ in range(n):
        target = np.zeros((3, *shape), dtype=bool)
        target[0, 4:12, 6:16, 4:12] = True
        target[1, 6:10, 8:14, 6:10] = True
        target[2, 7:9, 9:12, 7:9] = True
        image = rng.normal(0, 0.3, (4, *shape)) + 2.0 * target.sum(axis=0)
        images.append(image.astype(np.float16))
        targets.append(target)
    return CachedSplit(SplitSpec("tiny", 0, n), images, targets)


def test_output_shape_and_parameter_budget() -> None:
    logits = _model()(torch.zeros(1, 4, 16, 24, 32))
    assert logits.shape == (1, 3, 16, 24, 32)
    assert 300_000 <= parameter_count(UNet3D()) <= 1_000_000


def test_losses_are_small_for_confident_correct_predictions() -> None:
    targets = torch.zeros(1, 3, 4, 4, 4)
    targets[:, :, :2] = 1
    right, wrong = (targets * 2 - 1) * 8, (1 - targets * 2) * 8
    assert focal_loss(right, targets) < 1e-4 < focal_loss(wrong, targets)
    assert soft_dice_loss(right, targets) < 0.01 and soft_dice_loss(wrong, targets) > 0.9
    assert segmentation_loss(right, targets) < segmentation_loss(wrong, targets)


def test_lora_starts_at_the_base_model_and_trains_only_adapters() -> None:
    model = _model()
    x = torch.randn(1, 4, 16, 16, 16)
    before = model(x).detach()
    convolutions = sum(isinstance(m, torch.nn.Conv3d) for m in model.modules())
    adapters = add_lora(model, rank=4)
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(name.endswith((".up", ".down")) for name in trainable)
    assert sum(p.numel() for p in adapters) == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert sum(isinstance(m, LoRAConv3d) for m in model.modules()) == convolutions
    assert torch.allclose(model(x), before, atol=1e-6)


def test_lora_fine_tuning_changes_only_conv_weights_and_merges_exactly() -> None:
    model = _model()
    tuned, trained = fine_tune(model, _split(), "lora", steps=3, lr=1e-2, patch=16, batch_size=1)
    base, new = model.state_dict(), tuned.state_dict()
    assert set(base) == set(new)
    changed = [k for k in base if not torch.equal(base[k], new[k])]
    assert changed and all(k.endswith("weight") and base[k].ndim == 5 for k in changed)  # conv weights only
    lora_model = _model()
    add_lora(lora_model, rank=2)
    for module in lora_model.modules():
        if isinstance(module, LoRAConv3d):
            torch.nn.init.normal_(module.up, std=0.1)
    x = torch.randn(1, 4, 16, 16, 16)
    with torch.no_grad():
        expected = lora_model(x)
        assert torch.allclose(merge_lora(lora_model)(x), expected, atol=1e-4)
    assert trained < parameter_count(model)


def test_adabn_changes_only_the_norm_statistics() -> None:
    model = _model()
    shifted = [np.random.default_rng(i).normal(3.0, 2.0, (4, 16, 16, 16)).astype(np.float32) for i in range(2)]
    adapted = adabn(model, shifted)
    base, new = model.state_dict(), adapted.state_dict()
    changed = {k for k in base if not torch.equal(base[k], new[k])}
    assert changed and all(k.endswith(("running_mean", "running_var", "num_batches_tracked")) for k in changed)
    assert any(k.endswith("running_mean") for k in changed)
    assert not adapted.training


def test_onnx_export_matches_torch(tmp_path) -> None:
    import onnx  # noqa: F401 - needed by the test
    model = _model()
    path = export_onnx(model, tmp_path / "tiny.onnx", (16, 16, 16))
    images = [np.random.default_rng(0).normal(size=(4, 16, 24, 32)).astype(np.float32)]
    assert parity(model, path, images) < 1e-4
    eager = torch_from_onnx(path)  # the bench's torch baseline: the same (BatchNorm-folded) weights
    with torch.no_grad():
        assert np.abs(eager(torch.from_numpy(images[0])[None]).numpy() - model(torch.from_numpy(images[0])[None])
                      .numpy()).max() < 1e-4


def test_crops_are_tumour_biased_and_sized() -> None:
    split = _split()
    images, targets = sample_batch(split, np.random.default_rng(0), 8, 4, tumour_fraction=1.0)
    assert images.shape == (4, 4, 8, 8, 8) and targets.shape == (4, 3, 8, 8, 8)
    assert all(t[0].any() for t in targets)


def test_tiny_training_run_checkpoints_and_resumes(tmp_path) -> None:
    config = TrainConfig(out=str(tmp_path / "run"), net=TINY, patch=16, batch_size=1, steps_per_epoch=2,
                         epochs=1, restart_epochs=1)
    splits = {"train": _split(), "val": _split(1)}
    best = train(config, splits)
    assert best.is_file() and (tmp_path / "run" / "last.pt").is_file()
    log = (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()
    assert len(log) == 1
    resumed = train(TrainConfig(**{**config.__dict__, "epochs": 2}), splits)
    assert len((tmp_path / "run" / "train_log.jsonl").read_text().splitlines()) == 2
    assert isinstance(load_model(resumed), UNet3D)
