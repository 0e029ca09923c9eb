"""Fréchet distance between Gaussians fitted to two feature sets (the FID formula), computed with a
symmetric eigen-decomposition, plus the textbook scipy.linalg.sqrtm version and pytorch-fid's own
``calculate_frechet_distance`` (loaded from its source file: its module imports torchvision) to check it.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Callable

import numpy as np
from scipy import linalg


def gaussian(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of ``features`` (n, d)."""
    features = np.asarray(features, dtype=np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2), with tr((S1 S2)^1/2) = sum sqrt(eig(A S2 A)),
    A = S1^1/2 (symmetric PSD, so no complex round-off)."""
    values, vectors = np.linalg.eigh(sigma1)
    root = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = np.linalg.eigvalsh(root @ sigma2 @ root)
    trace_sqrt = float(np.sqrt(np.clip(middle, 0, None)).sum())
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt)


def frechet_distance_sqrtm(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """The textbook formula with scipy.linalg.sqrtm (reference)."""
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    covmean = np.real(covmean)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def pytorch_fid_reference() -> Callable[..., float] | None:
    """pytorch-fid's calculate_frechet_distance (numpy + scipy only), or None when it is not installed."""
    spec = importlib.util.find_spec("pytorch_fid")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = f"{list(spec.submodule_search_locations)[0]}/fid_score.py"
    tree = ast.parse(open(path, encoding="utf-8").read())
    function = next(node for node in tree.body
                    if isinstance(node, ast.FunctionDef) and node.name == "calculate_frechet_distance")
    namespace: dict = {"np": np, "linalg": linalg}
    exec(compile(ast.Module(body=[function], type_ignores=[]), path, "exec"), namespace)  # noqa: S102
    return namespace["calculate_frechet_distance"]
