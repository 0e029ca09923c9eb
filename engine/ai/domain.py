"""Out-of-distribution detection: how far an input lies from the data a model was validated on.

A plugin returns its own feature vector (``AnalysisResult.domain_features``, e.g. the pooled network
features that retrieval also uses). The score is the mean cosine distance of the L2-normalised features to
their ``k`` nearest neighbours among the training set's features (deep k-NN, Sun et al. 2022), which the
manifest's ``[domain]`` table names in a hashed ``.npz``. The threshold is set by the training pipeline
on the validation split so that 95% of in-distribution cases are retained; an input scoring above it is
"outside the validated domain" and every finding is capped to "needs review".

Reference file format (``.npz``): ``features`` float32 (n, d), finite and non-zero rows; ``format_version``
int (1).
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.ai.hashing import sha256_file
from engine.ai.result import DomainScore
from engine.ai.retrieval import normalise_rows
from engine.ai.schema_check import FieldError, check_relative
from engine.atomic import atomic_write_bytes

FORMAT_VERSION = 1
METHOD = "knn_cosine"
DEFAULT_RETENTION = 0.95


class DomainDataError(ValueError):
    """A domain reference file that is missing, altered or malformed; the message names it."""


@dataclass(frozen=True)
class Domain:
    """Manifest ``[domain]``: reference features file, its SHA-256, k, and the threshold from validation."""

    reference: str
    sha256: str
    threshold: float
    k: int = 5
    features: str = "embedding"  # which of the plugin's features, for the reader of the manifest
    retention: float = DEFAULT_RETENTION  # share of validation cases at or below the threshold

    def __post_init__(self) -> None:
        check_relative("reference", self.reference)
        if len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            raise FieldError("sha256", f"must be 64 lower-case hex digits, got {self.sha256!r}")
        if not (math.isfinite(self.threshold) and self.threshold >= 0):
            raise FieldError("threshold", f"must be a non-negative number, got {self.threshold}")
        if self.k < 1:
            raise FieldError("k", f"must be at least 1, got {self.k}")
        if not 0 < self.retention <= 1:
            raise FieldError("retention", f"must be in (0, 1], got {self.retention}")


def knn_distances(features: np.ndarray, reference: np.ndarray, k: int) -> np.ndarray:
    """Mean cosine distance (1 - cos) of each row of ``features`` (q, d) to its ``k`` nearest rows of
    ``reference`` (n, d)."""
    queries, rows = normalise_rows(np.atleast_2d(features)), normalise_rows(reference)
    if queries.shape[1] != rows.shape[1]:
        raise ValueError(f"feature dimension {queries.shape[1]} is not the reference's ({rows.shape[1]})")
    distances = 1.0 - queries @ rows.T
    k = min(k, rows.shape[0])
    nearest = np.partition(distances, k - 1, axis=1)[:, :k]
    return nearest.mean(axis=1).astype(np.float64)


def threshold_at_retention(validation_scores: np.ndarray, retention: float = DEFAULT_RETENTION) -> float:
    """The score below which ``retention`` of the validation cases lie (the higher-side quantile)."""
    scores = np.sort(np.asarray(validation_scores, dtype=np.float64))
    if scores.size == 0:
        raise ValueError("no validation scores")
    index = min(len(scores) - 1, math.ceil(retention * len(scores)) - 1)
    return float(scores[max(index, 0)])


def score(domain: Domain | None, folder: Path, features: np.ndarray | None) -> DomainScore:
    """The domain score of ``features`` for a plugin in ``folder`` (no domain data or features: score None)."""
    if domain is None or features is None:
        return DomainScore(None, None if domain is None else domain.threshold, METHOD)
    reference = load_reference(folder / domain.reference, domain.sha256)
    value = float(knn_distances(np.asarray(features, dtype=np.float32)[None], reference, domain.k)[0])
    return DomainScore(round(value, 6), domain.threshold, METHOD)


def save_reference(path: str | os.PathLike, features: np.ndarray) -> str:
    """Write a reference ``.npz`` atomically; returns its SHA-256 (for the manifest)."""
    matrix = normalise_rows(features)
    buffer = io.BytesIO()
    np.savez(buffer, features=matrix, format_version=np.asarray(FORMAT_VERSION))
    atomic_write_bytes(Path(path), buffer.getvalue())
    return sha256_file(path)


def load_reference(path: Path, sha256: str) -> np.ndarray:
    """The reference features, after checking the file's SHA-256 against the manifest's."""
    try:
        actual = sha256_file(path)
    except OSError as error:
        raise DomainDataError(f"{path}: domain reference not readable ({error})") from None
    if actual != sha256:
        raise DomainDataError(f"{path}: domain reference altered (sha256 {actual[:12]}, manifest {sha256[:12]})")
    return _read(str(path), actual)


@lru_cache(maxsize=8)
def _read(path: str, _sha256: str) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as data:
            features, version = data["features"], int(data["format_version"])
    except (OSError, ValueError, KeyError) as error:
        raise DomainDataError(f"{path}: not a domain reference file ({error})") from None
    if version != FORMAT_VERSION or features.ndim != 2 or features.shape[0] == 0:
        raise DomainDataError(f"{path}: needs format_version {FORMAT_VERSION} and a non-empty (n, d) features array")
    if not np.all(np.isfinite(features)):
        raise DomainDataError(f"{path}: features must be finite")
    return features.astype(np.float32)
