"""DDPM forward process (noising) in torch and the batched DDIM sampler used for evaluation; the schedule
and the update rule are plugins.prostate_synthesis.schedule's, the same the plugin runs."""

from __future__ import annotations

import numpy as np
import torch

from plugins.prostate_synthesis.schedule import TRAIN_STEPS, alphas_cumprod, ddim_step, ddim_timesteps, initial_noise
from training.ccella.config import LATENT_SHAPE
from training.ccella.unet import Denoiser

ALPHAS = torch.from_numpy(alphas_cumprod()).float()


def q_sample(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """x_t = sqrt(a_t) x0 + sqrt(1 - a_t) noise."""
    a = ALPHAS[t].view(-1, *[1] * (x0.dim() - 1))
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def random_timesteps(generator: torch.Generator, n: int) -> torch.Tensor:
    return torch.randint(0, TRAIN_STEPS, (n,), generator=generator)


@torch.no_grad()
def ddim_sample(model: Denoiser, seeds: list[int], text: np.ndarray, text_mask: np.ndarray, spacing: np.ndarray,
                class_probs: np.ndarray, class_weight: np.ndarray, steps: int = 50, guidance: float = 1.0,
                null_text: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Latents (n, 4, 8, 16, 16) from ``seeds`` and the class probabilities averaged over the steps.

    Arrays are per sample: text (n, L, 384), text_mask (n, L), spacing (n, 3), class_probs (n, 2),
    class_weight (n, 1). With ``guidance`` w != 1, classifier-free guidance against ``null_text`` (features
    (1, L, 384), mask (1, L) of the missing report) as the plugin does: eps_null + w (eps - eps_null).
    """
    latent = np.stack([initial_noise(seed, LATENT_SHAPE) for seed in seeds])
    alphas = alphas_cumprod()
    timesteps = ddim_timesteps(steps)
    inputs = [torch.from_numpy(np.asarray(a, dtype=np.float32)) for a in (text, text_mask, spacing, class_probs,
                                                                           class_weight)]
    n = len(seeds)
    null_inputs = None
    if guidance != 1.0:
        features, mask = null_text
        null_inputs = [torch.from_numpy(np.repeat(np.asarray(a, dtype=np.float32), n, axis=0))
                       for a in (features, mask)] + inputs[2:]
    probs = np.zeros((n, 2))
    for index, t in enumerate(timesteps):
        timestep = torch.full((n,), int(t))
        eps, logits = model(torch.from_numpy(latent), timestep, *inputs)[:2]
        if null_inputs is not None:
            eps_null = model(torch.from_numpy(latent), timestep, *null_inputs)[0]
            eps = eps_null + guidance * (eps - eps_null)
        probs += logits.softmax(-1).numpy() / len(timesteps)
        alpha_prev = alphas[timesteps[index + 1]] if index + 1 < len(timesteps) else 1.0
        latent = ddim_step(latent, eps.numpy(), float(alphas[t]), float(alpha_prev))
    return latent, probs
