"""Wall-clock budgeted training: a learning-rate schedule over a fixed time budget, and the log lines."""

from __future__ import annotations

import math
import time


class Budget:
    """Counts steps against ``seconds`` of wall time; ``lr_factor`` is a warm-up + cosine decay over it."""

    def __init__(self, seconds: float, warmup_steps: int = 20) -> None:
        self.seconds = float(seconds)
        self.warmup_steps = warmup_steps
        self.start = time.perf_counter()
        self.steps = 0

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def running(self) -> bool:
        return self.elapsed < self.seconds

    def lr_factor(self) -> float:
        warm = min(1.0, (self.steps + 1) / self.warmup_steps)
        progress = min(1.0, self.elapsed / self.seconds)
        return warm * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress)))
