"""Similar-case search over embeddings: exact cosine top-k in numpy, behind a small index interface.

Exact search is the measured default (tests/bench/bench_retrieval.py): one float32 matrix-vector product
plus ``argpartition`` answers a 100k x 128 library in a few milliseconds with perfect recall. An approximate
backend only has to provide ``search`` and ``__len__``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np


class EmbeddingIndex(Protocol):
    """Nearest neighbours by cosine similarity."""

    def __len__(self) -> int: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Row indices (q, k) and cosine similarities (q, k), best first, for ``queries`` (q, d) or (d,)."""
        ...


IndexFactory = Callable[[np.ndarray], EmbeddingIndex]


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """Float32 copy of ``vectors`` (n, d) scaled to unit length; zero rows are an error."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D (n, d) array, got shape {matrix.shape}")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if np.any(norms == 0) or not np.all(np.isfinite(norms)):
        raise ValueError("embeddings must be finite and non-zero")
    return matrix / norms


class ExactCosineIndex:
    """Exact cosine search: normalised float32 matrix, matrix product, ``argpartition`` for the top k."""

    def __init__(self, embeddings: np.ndarray) -> None:
        self._matrix = normalise_rows(embeddings)

    def __len__(self) -> int:
        return len(self._matrix)

    @property
    def dimension(self) -> int:
        return self._matrix.shape[1]

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = normalise_rows(np.atleast_2d(queries))
        if queries.shape[1] != self.dimension:
            raise ValueError(f"query dimension {queries.shape[1]} is not the index's ({self.dimension})")
        k = min(k, len(self))
        if len(queries) == 1:
            # memory-bound matrix-vector product: one thread is as fast, and threaded BLAS stalls on busy CPUs
            similarities = np.einsum("ij,j->i", self._matrix, queries[0])[None]
        else:
            similarities = queries @ self._matrix.T
        if k < len(self):
            top = np.argpartition(similarities, len(self) - k, axis=1)[:, len(self) - k :]
        else:
            top = np.broadcast_to(np.arange(len(self)), similarities.shape)
        top_similarities = np.take_along_axis(similarities, top, axis=1)
        order = np.argsort(-top_similarities, axis=1, kind="stable")
        return np.take_along_axis(top, order, axis=1), np.take_along_axis(top_similarities, order, axis=1)
