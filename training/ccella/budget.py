"""Budgeted training: a learning-rate schedule over a fixed wall-clock or step budget."""

from __future__ import annotations

import math
import time


class Budget:
    """Counts steps against ``seconds`` of wall time or ``max_steps`` steps (whichever ends first);
    ``lr_factor`` is a warm-up + cosine decay over the budget."""

    def __init__(self, seconds: float = math.inf, warmup_steps: int = 20, max_steps: int | None = None) -> None:
        self.seconds = float(seconds)
        self.max_steps = max_steps
        self.warmup_steps = warmup_steps
        self.start = time.perf_counter()
        self.steps = 0

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def running(self) -> bool:
        return self.progress() < 1.0

    def progress(self) -> float:
        """Fraction of the budget used, 0..1."""
        by_steps = self.steps / self.max_steps if self.max_steps else 0.0
        return min(1.0, max(self.elapsed / self.seconds, by_steps))

    def lr_factor(self) -> float:
        warm = min(1.0, (self.steps + 1) / self.warmup_steps)
        progress = self.progress()
        return warm * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress)))
