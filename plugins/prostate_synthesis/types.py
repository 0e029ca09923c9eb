"""What the synthesis panel, the CLI and the plugin exchange: a request and a result (Qt-free)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from engine.ai.result import DomainScore, Provenance
from engine.volume import Volume

ClassMode = Literal["auto", "negative", "positive"]
CLASS_MODES: tuple[str, ...] = ("auto", "negative", "positive")
CLASS_NAMES: tuple[str, str] = ("negative", "positive")
# Classifier-free guidance scale w (eps = eps_null + w * (eps_report - eps_null)); 1 = no guidance. The default
# comes from the guidance table of plugins/prostate_synthesis/MODEL_CARD.md: at w = 2 every positive prompt drew
# its lesion on the named side and the fewest negative prompts drew one (w = 1.5 scores a better FID and level).
DEFAULT_GUIDANCE = 2.0
MAX_GUIDANCE = 10.0
# What the denoiser reads in the report about its lesion (the first name: no lesion named).
SIDE_NAMES: tuple[str, str, str] = ("none", "right", "left")
LEVEL_NAMES: tuple[str, str, str, str] = ("none", "apex", "mid", "base")


@dataclass(frozen=True)
class SynthesisRequest:
    """A report-guided generation: prompt text, class mode, noise seed, DDIM steps and guidance scale.

    ``class_mode`` "auto" is CCELLA proper (the class is predicted from the report); "negative" /
    "positive" is a Sightline extension that replaces the predicted class vector fed to the denoiser.
    ``guidance`` is the classifier-free guidance scale against the missing report (1 = none; each step
    then runs the denoiser twice).
    """

    prompt: str
    class_mode: ClassMode = "auto"
    seed: int = 0
    steps: int = 50
    guidance: float = DEFAULT_GUIDANCE

    def __post_init__(self) -> None:
        if self.class_mode not in CLASS_MODES:
            raise ValueError(f"class mode must be one of {', '.join(CLASS_MODES)}, got {self.class_mode!r}")
        if not 1 <= int(self.steps) <= 1000:
            raise ValueError(f"steps must be 1..1000, got {self.steps}")
        if int(self.seed) < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
        if not 0.0 <= float(self.guidance) <= MAX_GUIDANCE:
            raise ValueError(f"guidance must be 0..{MAX_GUIDANCE:g}, got {self.guidance}")


@dataclass
class SynthesisResult:
    """The generated volume (SYNTHETIC), the class predicted from the prompt and the class actually used, and
    the lesion side and level the model read in the prompt (``side_probabilities`` over SIDE_NAMES,
    ``level_probabilities`` over LEVEL_NAMES; empty for a model without those heads).

    ``domain_features`` is the prompt's text embedding the plugin returns; the runtime fills ``domain`` (how
    far the prompt lies from the training reports) and, outside that domain, a warning: what was read from
    such a prompt is low confidence (``class_confidence``)."""

    request: SynthesisRequest
    volume: Volume
    predicted_class: str
    probabilities: dict[str, float]
    class_used: str
    model_name: str
    side_probabilities: dict[str, float] = field(default_factory=dict)
    level_probabilities: dict[str, float] = field(default_factory=dict)
    provenance: Provenance | None = None
    extra: dict[str, float] = field(default_factory=dict)
    domain_features: np.ndarray | None = None
    domain: DomainScore | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def class_confidence(self) -> str:
        """"low" when the prompt lies outside the reports the model was validated on (or that is unknown)."""
        return "normal" if self.domain is not None and self.domain.in_domain else "low"

    @property
    def predicted_side(self) -> str:
        """The most probable of SIDE_NAMES, or "" when the model does not predict a side."""
        return _most_probable(self.side_probabilities)

    @property
    def predicted_level(self) -> str:
        """The most probable of LEVEL_NAMES, or "" when the model does not predict a level."""
        return _most_probable(self.level_probabilities)


def _most_probable(probabilities: dict[str, float]) -> str:
    return max(probabilities, key=probabilities.__getitem__) if probabilities else ""
