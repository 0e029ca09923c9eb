"""Give an imported (declarative) plugin its domain check from a site's own reference cases.

    python -m training.importers.domain PLUGIN_DIR --reference CASE.nii.gz ... --validation CASE.nii.gz ...
        [--role ROLE] [--k 5] [--retention 0.95]

Runs the plugin's pipeline (ONNX Runtime, as the app does) on every case, keeps its domain features
(engine.ai.pipeline.run.domain_features: the normalised input's histogram and the mean class
probabilities), writes ``domain.npz`` from the reference cases and the manifest's ``[domain]`` table with
the threshold that keeps ``retention`` of the validation cases (training.domain_fit). Until then every
finding of an imported model says "no validated domain data: every finding needs review". The manifest
changes, so sign it again afterwards (`sightline plugins sign`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.ai.manifest import load_manifest
from engine.ai.pipeline.run import predict
from engine.ai.pipeline.schema import parse_pipeline
from engine.ai.sessions import cpu_session
from engine.nifti import read_nifti
from training.domain_fit import DomainFit, fit_domain
from training.importers.common import ImportRefused

FEATURES = "pipeline features (normalised-input histogram and mean class probabilities)"


def case_features(plugin: Path, cases: Sequence[Path], role: str | None = None) -> np.ndarray:
    """The domain features of every case (single-channel plugins, or the channel of ``role``)."""
    manifest = load_manifest(plugin / "manifest.toml")
    if not manifest.pipeline:
        raise ImportRefused(f"{plugin / 'manifest.toml'}: not a declarative [pipeline] plugin")
    pipeline = parse_pipeline(manifest.pipeline)
    roles = pipeline.channels or [r.role for r in manifest.inputs]
    if len(roles) != 1:
        raise ImportRefused(f"{plugin}: multi-channel plugins need one file per role (not supported yet)")
    if role is not None and role != roles[0]:
        raise ImportRefused(f"{plugin}: has no input role {role!r} ({roles[0]})")
    sessions = {name: cpu_session(plugin / manifest.model(name).path) for name in pipeline.inference.models}

    def predictor(batch: np.ndarray) -> np.ndarray:
        outputs = [s.run(None, {s.get_inputs()[0].name: batch})[0] for s in sessions.values()]
        return np.mean(outputs, axis=0)

    rows = []
    for case in cases:
        volume = read_nifti(case)
        prediction = predict(pipeline, [label.value for label in manifest.labels], [volume.array], volume.geometry,
                             predictor, temperature=manifest.calibration.temperature)
        assert prediction.features is not None
        rows.append(prediction.features)
    return np.stack(rows)


def fit(plugin: str | Path, reference: Sequence[Path], validation: Sequence[Path], *, role: str | None = None,
        k: int = 5, retention: float = 0.95) -> DomainFit:
    plugin = Path(plugin)
    if len(reference) < 2 or not validation:
        raise ImportRefused("give at least 2 reference cases and 1 validation case")
    return fit_domain(plugin, case_features(plugin, reference, role), case_features(plugin, validation, role),
                      k=min(k, len(reference)), retention=retention, features=FEATURES)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.importers.domain", description=__doc__.split("\n")[0])
    parser.add_argument("plugin", type=Path)
    parser.add_argument("--reference", type=Path, nargs="+", required=True, help="in-domain cases (NIfTI)")
    parser.add_argument("--validation", type=Path, nargs="+", required=True, help="held-out in-domain cases")
    parser.add_argument("--role")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--retention", type=float, default=0.95)
    args = parser.parse_args(argv)
    try:
        result = fit(args.plugin, args.reference, args.validation, role=args.role, k=args.k, retention=args.retention)
    except (ImportRefused, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"domain check: threshold {result.threshold:.6f} (k={result.k}, {result.reference_cases} reference cases, "
          f"{result.validation_retained:.3f} of validation retained); sign the manifest again")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
