"""The diffusion schedule, the DDIM step and report tokenisation (numpy + tokenizers only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plugins.prostate_synthesis.schedule import alphas_cumprod, ddim_step, ddim_timesteps, initial_noise
from plugins.prostate_synthesis.text import ReportTokenizer

TOKENIZER = Path(__file__).resolve().parents[2] / "plugins" / "prostate_synthesis" / "tokenizer.json"


def test_scaled_linear_schedule() -> None:
    alphas = alphas_cumprod()
    assert alphas.shape == (1000,)
    assert np.all(np.diff(alphas) < 0)
    assert alphas[0] == pytest.approx(1 - 0.0015)
    betas = 1 - alphas[1:] / alphas[:-1]
    assert betas[-1] == pytest.approx(0.0195)
    assert np.allclose(np.diff(np.sqrt(np.concatenate([[0.0015], betas]))), np.diff(np.sqrt(betas)).mean(), rtol=1e-3)


def test_ddim_timesteps_descend_to_zero() -> None:
    steps = ddim_timesteps(50)
    assert len(steps) == 50 and steps[0] == 999 and steps[-1] == 0
    assert np.all(np.diff(steps) < 0)
    with pytest.raises(ValueError):
        ddim_timesteps(0)


def test_ddim_step_with_true_noise_recovers_the_clean_sample() -> None:
    rng = np.random.default_rng(0)
    x0, eps = rng.standard_normal((2, 4, 8, 16, 16)).astype(np.float32)
    alpha = float(alphas_cumprod()[500])
    noisy = np.sqrt(alpha) * x0 + np.sqrt(1 - alpha) * eps
    assert np.allclose(ddim_step(noisy, eps, alpha, 1.0), x0, atol=1e-4)


def test_initial_noise_is_seeded() -> None:
    assert np.array_equal(initial_noise(3, (4, 8, 16, 16)), initial_noise(3, (4, 8, 16, 16)))
    assert not np.array_equal(initial_noise(3, (4, 8, 16, 16)), initial_noise(4, (4, 8, 16, 16)))


def test_tokenizer_keeps_the_end_of_a_long_report() -> None:
    tokenizer = ReportTokenizer(TOKENIZER, 16)
    tokens = tokenizer(["word " * 40 + "impression pirads five", ""])
    assert tokens.ids.shape == (2, 16) and tokens.mask.shape == (2, 16)
    cls, sep = tokens.ids[0, 0], tokens.ids[0, -1]
    assert (cls, sep) == (101, 102)
    short = tokenizer(["impression pirads five"]).ids[0]
    tail = short[1:list(short).index(102)]
    assert list(tokens.ids[0, -1 - len(tail):-1]) == list(tail)
    assert list(tokens.ids[1, :2]) == [101, 102] and tokens.mask[1].sum() == 2
