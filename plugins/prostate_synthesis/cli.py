"""`sightline synthesize --prompt TEXT [--class auto|negative|positive] --seed N --steps 50 [--guidance W] --out FILE`.

Generates one SYNTHETIC prostate T2 volume headless with the synthesis plugin (CCELLA), prints the class
predicted from the prompt and its probabilities (and the lesion side and level the model read), and writes FILE:
a .nii/.nii.gz file (plus a JSON sidecar) or, for any other path, a folder holding a new DICOM MR series
marked SYNTHETIC. Every generation is appended to the audit log. Exit status 0 on success, 1 when the plugin
is refused or fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .types import CLASS_MODES, DEFAULT_GUIDANCE


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synthesize",
        help="generate a SYNTHETIC prostate T2 volume from a report prompt",
        description="Report-guided 3D prostate T2 synthesis (CCELLA; phantom-trained, research use only). "
        "Writes NIfTI (.nii/.nii.gz) or, for any other --out, a DICOM series folder marked SYNTHETIC.",
    )
    parser.add_argument("--prompt", required=True, help="the report text (empty = no report)")
    parser.add_argument("--class", dest="class_mode", choices=CLASS_MODES, default="auto",
                        help="auto = predicted from the report (CCELLA); negative/positive = override (extension)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed (same seed + prompt = same volume)")
    parser.add_argument("--steps", type=int, default=50, help="DDIM steps (default 50)")
    parser.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE,
                        help=f"classifier-free guidance scale, 1 = none (default {DEFAULT_GUIDANCE:g})")
    parser.add_argument("--out", type=Path, required=True, help="output .nii.gz file or DICOM folder")
    parser.add_argument("--plugin-folder", type=Path, help="look for the plugin in this folder instead")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from engine.ai.registry import PluginRefused, discover
    from engine.ai.runner import PluginError

    from .export import write_synthetic_dicom, write_synthetic_nifti
    from .runner import synthesize
    from .types import SynthesisRequest

    try:
        request = SynthesisRequest(prompt=args.prompt, class_mode=args.class_mode, seed=args.seed, steps=args.steps,
                                   guidance=args.guidance)
    except ValueError as error:
        print(f"sightline synthesize: {error}", file=sys.stderr)
        return 2
    registry = discover([args.plugin_folder], entry_points=False) if args.plugin_folder else None
    try:
        result = synthesize(request, registry=registry)
    except (PluginRefused, PluginError, KeyError) as error:
        print(f"sightline synthesize: {error}", file=sys.stderr)
        return 1
    out = Path(args.out)
    if out.name.endswith((".nii", ".nii.gz")):
        written = [str(p) for p in write_synthetic_nifti(result, out)]
    else:
        written = [str(out)]
        write_synthetic_dicom(result, out)
    summary = {
        "predicted_class": result.predicted_class,
        "probabilities": result.probabilities,
        "class_confidence": result.class_confidence,
        "prompt_domain": None if result.domain is None else {"score": result.domain.score,
                                                              "threshold": result.domain.threshold},
        "warnings": result.warnings,
        "class_used": result.class_used,
        "guidance": result.request.guidance,
        "predicted_side": result.predicted_side,
        "side_probabilities": result.side_probabilities,
        "predicted_level": result.predicted_level,
        "level_probabilities": result.level_probabilities,
        "shape": list(result.volume.array.shape),
        "spacing_mm": list(result.volume.spacing),
        "written": written,
        "duration_s": round(result.provenance.duration_s, 3) if result.provenance else None,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        probabilities = ", ".join(f"{name} {p:.3f}" for name, p in result.probabilities.items())
        print(f"SYNTHETIC volume {summary['shape']} written to {', '.join(written)}")
        low = ", LOW CONFIDENCE" if result.class_confidence == "low" else ""
        print(f"predicted class: {result.predicted_class} ({probabilities}{low}); class used: {result.class_used}")
        for finding, read, read_probabilities in (("side", result.predicted_side, result.side_probabilities),
                                                  ("level", result.predicted_level, result.level_probabilities)):
            if read:
                listed = ", ".join(f"{name} {p:.3f}" for name, p in read_probabilities.items())
                print(f"lesion {finding} read in the prompt: {read} ({listed})")
        for warning in result.warnings:
            print(f"WARNING: {warning}")
    return 0
