"""The synthesis plugin's step of `sightline --smoke-test` (manifest ``[host] self_check``): a generation with a
few DDIM steps, written as NIfTI, proves the three ONNX models, the tokenizer and the writers work."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.ai.registry import Plugin

from .export import write_synthetic_nifti
from .runner import synthesize
from .types import SynthesisRequest

PROMPT = "Prostate MRI: no focal lesion in the peripheral or transition zone. PI-RADS 1."


def run(plugin: Plugin, out: Path, steps: int) -> str:
    """Generate from PROMPT with ``steps`` DDIM steps into ``out/<plugin id>/``; the line for the report."""
    request = SynthesisRequest(prompt=PROMPT, steps=steps)
    result = synthesize(request, plugin_id=plugin.id, audit_log=out / "audit.log")
    if not np.isfinite(result.volume.array).all():
        raise RuntimeError("the synthetic volume has non-finite voxels")
    written = write_synthetic_nifti(result, out / plugin.id / "synthetic.nii.gz")
    return (f"{steps} steps, {result.volume.array.shape}, predicted {result.predicted_class}, "
            f"wrote {', '.join(path.name for path in written)}")
