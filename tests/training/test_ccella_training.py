"""CCELLA training pieces (torch): masked focal loss, joint loss, DDIM determinism, ONNX parity, FID."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.ccella.diffusion import ddim_sample, q_sample  # noqa: E402
from training.ccella.export import denoiser_parity, export_denoiser  # noqa: E402
from training.ccella.frechet import (  # noqa: E402
    frechet_distance,
    frechet_distance_sqrtm,
    gaussian,
    pytorch_fid_reference,
)
from training.ccella.losses import focal_loss, joint_loss  # noqa: E402
from training.ccella.unet import Denoiser  # noqa: E402


def test_focal_loss_matches_the_formula_and_ignores_null_reports() -> None:
    logits = torch.tensor([[2.0, -1.0], [0.3, 0.1], [-2.0, 2.0]])
    target = torch.tensor([1, 0, 1])
    keep = torch.tensor([True, True, False])
    p = torch.softmax(logits, -1)
    manual = [-(0.75 if t else 0.25) * (1 - p[i, t]) ** 2 * torch.log(p[i, t]) for i, t in enumerate(target[:2])]
    assert focal_loss(logits, target, keep) == pytest.approx(float(sum(manual) / 2), rel=1e-5)
    changed = logits.clone()
    changed[2] = torch.tensor([9.0, -9.0])
    assert focal_loss(changed, target, keep) == pytest.approx(float(focal_loss(logits, target, keep)))
    assert float(focal_loss(logits, target, torch.zeros(3, dtype=torch.bool))) == 0.0


def test_joint_loss_adds_a_small_focal_term() -> None:
    eps, noise = torch.zeros(2, 4), torch.ones(2, 4)
    logits, target, keep = torch.zeros(2, 2), torch.tensor([0, 1]), torch.tensor([True, True])
    loss, parts = joint_loss(eps, noise, logits, target, keep, focal_weight=0.1)
    assert parts["l1"] == pytest.approx(1.0)
    assert float(loss) == pytest.approx(1.0 + 0.1 * parts["focal"])
    assert set(joint_loss(eps, noise, None, target, keep)[1]) == {"l1"}


def test_joint_loss_adds_the_finding_cross_entropies_over_reported_samples() -> None:
    eps, noise = torch.zeros(3, 4), torch.ones(3, 4)
    target, keep = torch.tensor([0, 1, 1]), torch.tensor([True, True, False])
    side_logits = torch.tensor([[0.0, 2.0, -1.0], [1.0, 0.0, 3.0], [5.0, 0.0, 0.0]])
    side_target = torch.tensor([1, 2, 2])
    level_logits, level_target = torch.randn(3, 4, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 3, 1])
    loss, parts = joint_loss(eps, noise, None, target, keep, finding_weight=0.5,
                             findings={"side": (side_logits, side_target), "level": (level_logits, level_target)})
    side = torch.nn.functional.cross_entropy(side_logits[:2], side_target[:2])
    level = torch.nn.functional.cross_entropy(level_logits[:2], level_target[:2])
    assert parts["side"] == pytest.approx(float(side), rel=1e-6)
    assert parts["level"] == pytest.approx(float(level), rel=1e-6)
    assert float(loss) == pytest.approx(1.0 + 0.5 * float(side + level), rel=1e-6)


def test_q_sample_endpoints() -> None:
    x0, noise = torch.ones(2, 3), torch.zeros(2, 3)
    assert torch.allclose(q_sample(x0, torch.tensor([0, 999]), noise)[0], torch.full((3,), 0.99925), atol=1e-4)


def _tiny_sample(seeds: list[int]) -> tuple[np.ndarray, np.ndarray]:
    torch.manual_seed(0)
    model = Denoiser("ccella").eval()
    torch.nn.init.normal_(model.out[-1].weight, std=0.05)
    n = len(seeds)
    text = np.random.default_rng(0).standard_normal((n, 64, 384)).astype(np.float32)
    return ddim_sample(model, seeds, text, np.ones((n, 64)), np.array([[2.0, 2.0, 2.25]] * n), np.zeros((n, 2)),
                       np.zeros((n, 1)), steps=4)


def test_ddim_sampling_is_deterministic() -> None:
    first, probs = _tiny_sample([1, 2])
    second, _ = _tiny_sample([1, 2])
    assert first.shape == (2, 4, 8, 16, 16) and probs.shape == (2, 2)
    assert np.array_equal(first, second)
    assert np.allclose(probs.sum(1), 1.0)
    assert not np.allclose(first[0], first[1])


def test_denoiser_onnx_parity(tmp_path) -> None:
    torch.manual_seed(0)
    model = Denoiser("ccella").eval()
    torch.nn.init.normal_(model.out[-1].weight, std=0.05)
    export_denoiser(model, tmp_path / "denoiser.onnx")
    parity = denoiser_parity(model, tmp_path / "denoiser.onnx")
    assert parity["eps"] < 1e-4 and parity["class_logits"] < 1e-4


def test_frechet_distance_matches_reference_formulas() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 16)), rng.normal(size=(120, 16)) * 1.3 + 0.2
    g1, g2 = gaussian(a), gaussian(b)
    ours = frechet_distance(*g1, *g2)
    assert ours == pytest.approx(frechet_distance_sqrtm(*g1, *g2), rel=1e-6)
    assert frechet_distance(*g1, *g1) == pytest.approx(0.0, abs=1e-6)
    reference = pytorch_fid_reference()  # installed by `make test` (Makefile)
    assert reference is not None, "pytorch-fid is not installed"
    assert ours == pytest.approx(float(reference(*g1, *g2)), rel=1e-6)


def test_region_weighted_l1_counts_lesion_errors_most() -> None:
    from training.ccella.regions import LESION_WEIGHT, PROSTATE_WEIGHT, region_weights, weighted_l1

    labels = torch.zeros(1, 1, 2, 4, 4, dtype=torch.uint8)
    labels[..., 0, 0, :2] = 1
    labels[..., 0, 1, 0] = 3
    weights = region_weights(labels)
    assert float(weights[..., 1, 3, 3]) == 1.0
    assert float(weights[..., 0, 0, 0]) == 1.0 + PROSTATE_WEIGHT
    assert float(weights[..., 0, 1, 0]) == 1.0 + PROSTATE_WEIGHT + LESION_WEIGHT
    target = torch.zeros(labels.shape)
    in_lesion, in_background = target.clone(), target.clone()
    in_lesion[..., 0, 1, 0] = 1.0
    in_background[..., 1, 3, 3] = 1.0
    assert float(weighted_l1(in_lesion, target, weights)) == pytest.approx(
        (1.0 + PROSTATE_WEIGHT + LESION_WEIGHT) * float(weighted_l1(in_background, target, weights)))


def test_reconstruction_errors_report_lesion_voxels_separately() -> None:
    from training.ccella.train_autoencoder import reconstruction_errors

    class DimsLesions(torch.nn.Module):  # "reconstructs" everything except a 0.5 loss inside the mask
        def encode(self, x: torch.Tensor) -> torch.Tensor:
            return x

        def decode(self, z: torch.Tensor) -> torch.Tensor:
            return z - 0.5 * (z > 1.5)

    volumes = np.ones((3, 2, 4, 4), dtype=np.float32)
    labels = np.zeros(volumes.shape, dtype=np.uint8)
    volumes[0, 0, :2, :2] = 2
    labels[0, 0, :2, :2] = 3
    errors = reconstruction_errors(DimsLesions(), volumes, labels, batch=2)
    assert errors["test_lesion_l1"] == pytest.approx(0.5)
    assert errors["test_l1"] == pytest.approx(0.5 * 4 / volumes.size)


def test_split_carries_the_phantom_label_maps(tmp_path) -> None:
    from training.ccella.config import VOLUME_SHAPE
    from training.ccella.data import load_split, render_split, save_split
    from training.phantoms.prostate_mri import make_prostate_mri

    split = render_split(range(3), encoder=None)
    assert split.labels.shape == (3, *VOLUME_SHAPE) and split.labels.dtype == np.uint8
    assert np.array_equal(split.labels[1], make_prostate_mri(1, shape=VOLUME_SHAPE).labels)
    assert ((split.labels == 3).any(axis=(1, 2, 3)) == (split.pirads >= 3)).all()
    save_split(split, tmp_path / "tiny.npz")
    assert np.array_equal(load_split(tmp_path / "tiny.npz").labels, split.labels)


def test_latent_region_weights_pool_every_4x4x4_block() -> None:
    from training.ccella.regions import LESION_WEIGHT, PROSTATE_WEIGHT, latent_region_weights

    labels = np.zeros((2, 8, 8, 8), dtype=np.uint8)
    labels[0, 1, 2, 3] = 1  # one gland voxel in block (0, 0, 0)
    labels[0, 5, 5, 6] = 3  # one lesion voxel in block (1, 1, 1)
    weights = latent_region_weights(labels)
    assert weights.shape == (2, 1, 2, 2, 2) and weights.dtype == np.float32
    assert weights[0, 0, 0, 0, 0] == 1.0 + PROSTATE_WEIGHT
    assert weights[0, 0, 1, 1, 1] == 1.0 + PROSTATE_WEIGHT + LESION_WEIGHT
    assert (weights[1] == 1.0).all() and np.count_nonzero(weights[0] != 1.0) == 2


def test_joint_loss_region_weights_favour_the_lesion() -> None:
    noise = torch.zeros(1, 4, 2, 2, 2)
    weights = torch.ones(1, 1, 2, 2, 2)
    weights[..., 0, 0, 0] = 9.0
    logits, target, keep = torch.zeros(1, 2), torch.tensor([1]), torch.tensor([True])
    wrong_in_lesion, wrong_elsewhere = noise.clone(), noise.clone()
    wrong_in_lesion[:, :, 0, 0, 0] = 1.0
    wrong_elsewhere[:, :, 1, 1, 1] = 1.0
    lesion_l1 = joint_loss(wrong_in_lesion, noise, None, target, keep, weights=weights)[1]["l1"]
    other_l1 = joint_loss(wrong_elsewhere, noise, None, target, keep, weights=weights)[1]["l1"]
    assert lesion_l1 == pytest.approx(9 * other_l1)
    assert joint_loss(wrong_in_lesion, noise, logits, target, keep)[1]["l1"] == pytest.approx(1 / 8)


def test_swap_sides_exchanges_left_and_right_words_only() -> None:
    from training.ccella.evaluate import swap_sides

    report = "Right PZ: lesion. Lesion in the left peripheral zone; right TZ normal. Leftover: upright."
    swapped = "Left PZ: lesion. Lesion in the right peripheral zone; left TZ normal. Leftover: upright."
    assert swap_sides(report) == swapped
    assert swap_sides(swap_sides(report)) == report


def test_named_level_reads_the_level_the_phantom_report_names() -> None:
    from training.ccella.config import VOLUME_SHAPE
    from training.ccella.data import named_level
    from training.phantoms.prostate_mri import make_prostate_mri

    cases = [make_prostate_mri(seed, shape=VOLUME_SHAPE) for seed in range(12)]
    for case in cases:
        expected = case.lesion["level"] if case.lesion else "none"
        assert named_level(case.report) == expected, case.report
    assert {named_level(case.report) for case in cases} >= {"none", "mid"}
    assert named_level("Basal gland, left PZ: lesion.") == "base" and named_level("Apical gland.") == "apex"
