"""The diffusion noise schedule and the deterministic DDIM sampler step (numpy; training uses the same).

DDPM with T = 1000 steps and the "scaled linear" beta schedule (linear in sqrt(beta)) from 0.0015 to
0.0195, epsilon prediction. DDIM (eta = 0) walks an evenly spaced subset of the training steps.
"""

from __future__ import annotations

import numpy as np

TRAIN_STEPS = 1000
BETA_START = 0.0015
BETA_END = 0.0195


def alphas_cumprod(steps: int = TRAIN_STEPS, beta_start: float = BETA_START, beta_end: float = BETA_END
                   ) -> np.ndarray:
    """Cumulative product of (1 - beta_t) for t = 0 .. steps-1 (float64)."""
    betas = np.linspace(beta_start**0.5, beta_end**0.5, steps, dtype=np.float64) ** 2
    return np.cumprod(1.0 - betas)


def ddim_timesteps(sample_steps: int, train_steps: int = TRAIN_STEPS) -> np.ndarray:
    """``sample_steps`` training timesteps, evenly spaced from train_steps - 1 down to 0 (int64)."""
    if not 1 <= sample_steps <= train_steps:
        raise ValueError(f"steps must be 1..{train_steps}, got {sample_steps}")
    return np.unique(np.linspace(0, train_steps - 1, sample_steps).round().astype(np.int64))[::-1].copy()


def ddim_step(latent: np.ndarray, eps: np.ndarray, alpha: float, alpha_prev: float) -> np.ndarray:
    """One deterministic DDIM update from cumulative alpha ``alpha`` to ``alpha_prev`` (1.0 at the end)."""
    x0 = (latent - np.sqrt(1.0 - alpha) * eps) / np.sqrt(alpha)
    return (np.sqrt(alpha_prev) * x0 + np.sqrt(1.0 - alpha_prev) * eps).astype(latent.dtype)


def initial_noise(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """The starting latent for ``seed`` (float32 standard normal; the same in training and in the app)."""
    return np.random.default_rng([int(seed), 6]).standard_normal(shape).astype(np.float32)
