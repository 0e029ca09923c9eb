"""Kernel / dose augmentation of the training phantoms, applied to the HU volume BEFORE candidate extraction.

Noise changes the candidate stage itself: white noise of 35-60 HU pushes blood-pool and fat voxels over the
130 HU Agatston threshold, so a noisy scan holds hundreds to thousands of small noise candidates that a
classifier trained on clean phantoms never saw (the shifted set ``sharper kernel / lower dose`` gave 71
false-positive coronary lesions per case). Shifting or adding noise to the candidate patches (``train.py``)
cannot teach that, since the candidates themselves are different. So every training (and validation)
phantom also gives two augmented records, each with its own seeded stream (``[seed, STREAM]``, disjoint from
the phantom's 3003 and the shifted sets' 4004 streams):

- ``noise``: unfiltered white noise, sigma drawn from ``NOISE_SIGMA_HU`` (sharp kernel / low dose);
- ``blur``: in-plane Gaussian blur, sigma drawn from ``BLUR_SIGMA_PX`` pixels (soft kernel / iterative
  reconstruction).

The candidate stage is the plugin's, unchanged (Agatston: >= 130 HU, lesion area >= 1 mm^2): a noisy case
keeps every candidate with a coronary target and at most ``MAX_BACKGROUND`` non-coronary ones, drawn from the
same stream — three quarters of them near the heart (within ``NEAR_HEART_MM`` of its centre, where a noise
candidate competes with a plaque), the rest anywhere in the body. The drawn ranges cover the shifted sets'
(35-60 HU and 1.2-2.0 px): those two sets are no longer fully outside the training distribution, and the
model card says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from scipy import ndimage

from engine.geometry import Geometry
from plugins.coronary_calcium_ct.candidates import Candidates

STREAM = 5005
NOISE_SIGMA_HU = (15.0, 60.0)
BLUR_SIGMA_PX = (0.6, 2.0)
MAX_BACKGROUND = 60
NEAR_HEART_MM = 80.0
NEAR_SHARE = 0.75
VARIANTS = ("noise", "blur")


def added_noise(hu: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``hu`` + unfiltered white noise of a sigma drawn from NOISE_SIGMA_HU (float32)."""
    sigma = rng.uniform(*NOISE_SIGMA_HU)
    return hu.astype(np.float32) + rng.normal(0.0, sigma, hu.shape).astype(np.float32)


def blurred(hu: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``hu`` blurred in-plane with a Gaussian of a sigma drawn from BLUR_SIGMA_PX pixels (float32)."""
    sigma = rng.uniform(*BLUR_SIGMA_PX)
    return ndimage.gaussian_filter(hu.astype(np.float32), (0.0, sigma, sigma))


TRANSFORMS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "noise": added_noise, "blur": blurred}


def variant(hu: np.ndarray, name: str, seed: int) -> np.ndarray:
    """The ``name`` variant of phantom ``seed``'s volume, from its own stream (reproducible per seed)."""
    return TRANSFORMS[name](hu, np.random.default_rng([seed, STREAM, VARIANTS.index(name)]))


def background_subset(candidates: Candidates, targets: np.ndarray, geometry: Geometry,
                      heart_centre_lps: np.ndarray, rng: np.random.Generator,
                      max_background: int = MAX_BACKGROUND) -> np.ndarray:
    """Sorted indices of the candidates kept: every coronary one, at most ``max_background`` others (see the
    module docstring)."""
    coronary = np.flatnonzero(targets > 0)
    background = np.flatnonzero(targets == 0)
    if len(background) <= max_background:
        return np.arange(len(targets))
    peaks = geometry.voxel_to_patient(np.array([candidates.items[i].peak_voxel for i in background], dtype=float))
    near_mask = np.linalg.norm(peaks - np.asarray(heart_centre_lps, dtype=float), axis=1) <= NEAR_HEART_MM
    near, far = background[near_mask], background[~near_mask]
    n_near = min(len(near), int(round(max_background * NEAR_SHARE)))
    n_far = min(len(far), max_background - n_near)
    n_near = min(len(near), max_background - n_far)
    chosen = np.concatenate([rng.choice(near, n_near, replace=False), rng.choice(far, n_far, replace=False)])
    return np.sort(np.concatenate([coronary, chosen.astype(np.int64)]))


def subset(candidates: Candidates, keep: np.ndarray) -> Candidates:
    """The candidates ``keep`` (indices), renumbered 1..n in the component image like find_candidates."""
    lookup = np.zeros(len(candidates.items) + 1, dtype=np.int32)
    lookup[np.asarray(keep, dtype=np.int64) + 1] = np.arange(1, len(keep) + 1, dtype=np.int32)
    items = [dataclasses.replace(candidates.items[i], component=new) for new, i in enumerate(keep, start=1)]
    return Candidates(lookup[candidates.components], items, candidates.body_centre_voxel)
