"""The simulated "new site": a documented, deterministic transform of the phantom's four sequences.

Per sequence, on the phantom's unit signal scale (stored value / 1600): a gamma curve (changes the
relative tissue contrast, which z-scoring cannot undo), a stronger multiplicative bias field than the
phantom's own (log-amplitude ``bias_strength`` vs 0.10-0.25), and extra Rician noise (``noise_sigma`` vs
0.015-0.035), then re-quantised to 12-bit. Random draws come from ``[seed, 7007]`` so a case is the same
every time it is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from training.phantoms.shapes import bias_field, rician

SIGNAL_SCALE = 1600.0


@dataclass(frozen=True)
class SiteShift:
    """Parameters of the new-site transform (defaults: the site used for the adaptation experiments)."""

    gamma: dict[str, float] = field(default_factory=lambda: {"T1": 0.6, "T1c": 1.6, "T2": 0.65, "FLAIR": 1.6})
    bias_strength: float = 0.45
    noise_sigma: float = 0.06

    def describe(self) -> str:
        gammas = ", ".join(f"{name} {value:g}" for name, value in self.gamma.items())
        return (f"gamma per sequence ({gammas}), bias-field log-amplitude {self.bias_strength:g}, "
                f"Rician noise sigma {self.noise_sigma:g} of unit signal")

    def apply(self, sequences: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
        """The shifted sequences (uint16, same shapes) of one phantom case."""
        rng = np.random.default_rng([seed, 7007])
        shifted = {}
        for name, pixels in sequences.items():
            signal = np.asarray(pixels, dtype=np.float32) / SIGNAL_SCALE
            signal = np.power(np.maximum(signal, 0.0), self.gamma.get(name, 1.0))
            signal *= bias_field(rng, signal.shape, self.bias_strength)
            signal = rician(rng, signal, self.noise_sigma)
            shifted[name] = np.clip(np.rint(signal * SIGNAL_SCALE), 0, 4095).astype(np.uint16)
        return shifted
