"""Benchmark: top-5 cosine retrieval among 100k random 128-d vectors.

ours     = engine.ai.retrieval.ExactCosineIndex.search (pre-normalised float32 matrix, argpartition top-k)
baseline = naive exact numpy search: the same normalised matrix, similarities, then a full argsort
Both are timed per query (median over queries) in the same run; recall@5 of ours against the baseline's
exact answer. Prints one line:
    BENCH retrieval_100k ours=<s> baseline=<s> ratio=<ours/baseline> recall=<recall@5>
Run: python tests/bench/bench_retrieval.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.ai.retrieval import ExactCosineIndex, normalise_rows  # noqa: E402

N, DIMENSION, K, QUERIES, WARMUP = 100_000, 128, 5, 200, 5


def main() -> None:
    rng = np.random.default_rng(0)
    library = rng.standard_normal((N, DIMENSION), dtype=np.float32)
    queries = rng.standard_normal((QUERIES + WARMUP, DIMENSION), dtype=np.float32)
    index = ExactCosineIndex(library)
    matrix = normalise_rows(library)

    def baseline(query: np.ndarray) -> np.ndarray:
        similarities = matrix @ (query / np.linalg.norm(query))
        return np.argsort(-similarities)[:K]

    ours_times, baseline_times, hits = [], [], 0
    for number, query in enumerate(queries):
        start = time.perf_counter()
        found, _ = index.search(query, K)
        middle = time.perf_counter()
        exact = baseline(query)
        end = time.perf_counter()
        if number < WARMUP:
            continue
        ours_times.append(middle - start)
        baseline_times.append(end - middle)
        hits += len(set(found[0].tolist()) & set(exact.tolist()))
    ours, base = statistics.median(ours_times), statistics.median(baseline_times)
    print(
        f"BENCH retrieval_100k ours={ours:.6f} baseline={base:.6f} ratio={ours / base:.3f} "
        f"recall={hits / (K * QUERIES):.3f}"
    )


if __name__ == "__main__":
    main()
