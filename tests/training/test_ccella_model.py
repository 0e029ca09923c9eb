"""CCELLA networks (torch): shapes, adaLN-Zero identity at init, fused class heads, variants, override."""

from __future__ import annotations

import pytest
import torch

from training.ccella.autoencoder import KLAutoencoder, depth_to_space, space_to_depth  # noqa: E402
from training.ccella.connector import AdaLNPerceiverBlock, SemanticConnector  # noqa: E402
from training.ccella.export import denoiser_example  # noqa: E402
from training.ccella.unet import VARIANTS, Denoiser  # noqa: E402


def test_autoencoder_shapes_and_space_to_depth_inverse() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 1, 32, 64, 64)
    assert torch.equal(depth_to_space(space_to_depth(x)), x)
    model = KLAutoencoder().eval()
    with torch.no_grad():
        latent = model.encode(x)
        assert latent.shape == (2, 4, 8, 16, 16)
        assert model.decode(latent).shape == x.shape


@pytest.mark.parametrize("variant", VARIANTS)
def test_denoiser_shapes(variant: str) -> None:
    torch.manual_seed(0)
    eps, logits, side_logits, level_logits = Denoiser(variant).eval()(*denoiser_example(batch=2))
    assert eps.shape == (2, 4, 8, 16, 16) and logits.shape == (2, 2)
    assert side_logits.shape == (2, 3) and level_logits.shape == (2, 4)


def test_adaln_zero_block_is_identity_at_init() -> None:
    torch.manual_seed(0)
    block = AdaLNPerceiverBlock(dim=32, time_dim=16)
    queries, text = torch.randn(3, 8, 32), torch.randn(3, 10, 32)
    out = block(queries, text, torch.ones(3, 10), torch.randn(3, 16))
    assert torch.equal(out, queries)
    with torch.no_grad():
        block.modulation.bias.normal_()
    assert not torch.allclose(block(queries, text, torch.ones(3, 10), torch.randn(3, 16)), queries)


def test_class_heads_are_fused_linearly() -> None:
    torch.manual_seed(0)
    connector = SemanticConnector(text_dim=24, dim=32, time_dim=16, queries=4, blocks=3)
    for block in connector.blocks:  # open the gates so the heads see different queries
        torch.nn.init.normal_(block.modulation.weight, std=0.5)
    text, mask, time = torch.randn(2, 6, 24), torch.ones(2, 6), torch.randn(2, 16)
    captured = []
    hooks = [head.register_forward_hook(lambda _m, _i, out: captured.append(out)) for head in connector.heads]
    context, logits, findings = connector(text, mask, time)
    for hook in hooks:
        hook.remove()
    assert context.shape == (2, 4, 32) and len(captured) == 3 and findings == {}
    assert torch.allclose(logits, connector.fuse(torch.cat(captured, dim=-1)))
    fresh = SemanticConnector(text_dim=24, dim=32, time_dim=16, queries=4, blocks=3)
    assert torch.allclose(fresh.fuse.weight, torch.cat([torch.eye(2)] * 3, dim=1) / 3)


@pytest.mark.parametrize(("finding", "output", "n"), [("side", 2, 3), ("level", 3, 4)])
def test_finding_heads_read_the_final_queries_and_feed_the_embedding(finding: str, output: int, n: int) -> None:
    torch.manual_seed(0)
    model = Denoiser("ccella").eval()
    torch.nn.init.normal_(model.out[-1].weight, std=0.1)
    for block in model.connector.blocks:  # open the gates so the text reaches the queries
        torch.nn.init.normal_(block.modulation.weight, std=0.5)
    inputs = list(denoiser_example(batch=2))
    outputs = model(*inputs)
    assert outputs[output].shape == (2, n) and not torch.allclose(outputs[output][0], outputs[output][1])
    with torch.no_grad():  # a different finding prediction changes epsilon, everything else equal
        model.connector.finding_heads[finding][1].bias.add_(torch.linspace(-5.0, 5.0, n))
    assert not torch.allclose(model(*inputs)[0], outputs[0])
    for variant in ("text", "class", "uncond"):
        assert torch.equal(Denoiser(variant)(*inputs)[output], torch.zeros(2, n))


def test_coordinate_channels_break_the_left_right_symmetry() -> None:
    """A mirrored latent does not give a mirrored epsilon: the network knows the patient's left from right."""
    from training.ccella.unet import coordinate_grid

    grid = coordinate_grid()
    assert grid.shape == (1, 3, 8, 16, 16)
    assert float(grid[0, 2, 0, 0, 0]) == -1.0 and float(grid[0, 2, 0, 0, -1]) == 1.0
    assert torch.equal(grid[0, 2, 3, 5], grid[0, 2, 0, 0])  # x varies along x only
    torch.manual_seed(0)
    model = Denoiser("uncond").eval()
    torch.nn.init.normal_(model.out[-1].weight, std=0.1)
    inputs = list(denoiser_example(batch=1))
    inputs[0] = torch.zeros_like(inputs[0])  # a symmetric input: only the coordinates are not
    with torch.no_grad():
        eps = model(*inputs)[0]
    assert not torch.allclose(eps, eps.flip(-1), atol=1e-5)


def test_class_logits_come_from_the_text_not_the_class_input() -> None:
    torch.manual_seed(0)
    model = Denoiser("ccella").eval()
    inputs = list(denoiser_example(batch=2))
    logits_a = model(*inputs)[1]
    inputs[5] = 1 - inputs[5]
    logits_b = model(*inputs)[1]
    assert torch.allclose(logits_a, logits_b)


def test_override_replaces_the_predicted_class_vector() -> None:
    torch.manual_seed(0)
    model = Denoiser("ccella").eval()
    torch.nn.init.normal_(model.out[-1].weight, std=0.1)
    latent, t, text, mask, spacing, _, _ = denoiser_example(batch=1)
    one_hot = torch.tensor([[0.0, 1.0]])
    eps_override = model(latent, t, text, mask, spacing, one_hot, torch.ones(1, 1))[0]
    eps_auto = model(latent, t, text, mask, spacing, one_hot, torch.zeros(1, 1))[0]
    eps_other_override = model(latent, t, text, mask, spacing, 1 - one_hot, torch.ones(1, 1))[0]
    assert not torch.allclose(eps_override, eps_auto)
    assert not torch.allclose(eps_override, eps_other_override)


def test_an_untrained_denoiser_predicts_the_least_squares_noise_estimate() -> None:
    """The preconditioning skip: with the zero-initialised output layer, eps = sqrt(1 - abar_t) * x_t exactly,
    so DDIM's x0 estimate is sqrt(abar_t) * x_t (a shrink towards the mean, never an amplified error)."""
    from plugins.prostate_synthesis.schedule import alphas_cumprod

    torch.manual_seed(0)
    inputs = list(denoiser_example(batch=3))
    inputs[1] = torch.tensor([0, 500, 999])
    with torch.no_grad():
        eps = Denoiser("ccella").eval()(*inputs)[0]
    abar = torch.from_numpy(alphas_cumprod()[[0, 500, 999]]).float().view(-1, 1, 1, 1, 1)
    assert torch.allclose(eps, (1 - abar).sqrt() * inputs[0], atol=1e-6)


def test_budget_ends_after_the_step_count_with_a_cosine_schedule() -> None:
    from training.ccella.budget import Budget

    budget = Budget(max_steps=10, warmup_steps=1)
    factors = []
    while budget.running():
        factors.append(budget.lr_factor())
        budget.steps += 1
    assert budget.steps == 10
    assert factors[0] == pytest.approx(1.0) and factors == sorted(factors, reverse=True) and factors[-1] > 0.05
