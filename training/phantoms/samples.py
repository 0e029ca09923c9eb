"""The sample studies shipped for demos and manual testing: one study per phantom kind.

Run ``python -m training.phantoms.samples [--out DIR] [--force]`` (the `sightline samples` command does).
Each study is written into a hidden temporary folder and renamed into place when complete, so an
interrupted run never leaves a half-written study that later runs would skip.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from training.phantoms.brain_mri import make_brain_mri
from training.phantoms.cardiac_ct import make_cardiac_ct
from training.phantoms.chest_xray import make_chest_xray
from training.phantoms.export import (
    write_brain_mri_study,
    write_cardiac_ct_study,
    write_chest_xray_study,
    write_prostate_mri_study,
)
from training.phantoms.prostate_mri import make_prostate_mri

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "resources" / "samples"

# The chest radiograph's phantom seed lies outside every seed range the chest X-ray model was trained,
# validated or tested on (training.cxr: train 0-1199, validation 500000-500249, test 900000-900249), so the
# demo shows the detector on an image it never saw. Its three nodules (6-10 mm) lie in both lungs; the shipped
# model finds all three (probabilities 0.94 / 0.90 / 0.87) and one 4 mm false positive at 0.06 (needs review)
# (tests/plugins/test_chest_xray_nodules.py checks that the shipped model finds at least one).
CHEST_XRAY_SEED = 1_000_004
# The same for the other studies (brain: train 0-95, validation 100000-100011, test 200000-200039, new site
# 300000-400019; cardiac CT: train 0-99, validation 100000-100023, test 200000-200039; CCELLA: 0-1199,
# 100000-100399, 200000-200255). Measured with `sightline analyze`: brain Dice WT 0.936 / TC 0.945 / ET 0.919
# against the phantom's truth; cardiac CT Agatston LAD 266.8 + RCA 209.1 = 475.9, equal to the truth.
BRAIN_MRI_SEED = 1_000_012
CARDIAC_CT_SEED = 1_000_012
PROSTATE_MRI_SEED = 1_000_014

# study folder name -> writer of that study into a given folder
SAMPLE_STUDIES: dict[str, Callable[[Path], list[Path]]] = {
    "chest_xray": lambda folder: write_chest_xray_study(make_chest_xray(CHEST_XRAY_SEED, nodules=3), folder),
    "brain_mri": lambda folder: write_brain_mri_study(make_brain_mri(BRAIN_MRI_SEED), folder),
    "cardiac_ct": lambda folder: write_cardiac_ct_study(make_cardiac_ct(CARDIAC_CT_SEED), folder),
    "prostate_mri": lambda folder: write_prostate_mri_study(make_prostate_mri(PROSTATE_MRI_SEED, positive=True),
                                                            folder),
}


def write_samples(out_dir: str | Path = DEFAULT_OUT, force: bool = False,
                  log: Callable[[str], None] = print) -> list[Path]:
    """Write the sample studies missing from ``out_dir`` (all with ``force``); returns their folders."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for index, (name, writer) in enumerate(SAMPLE_STUDIES.items(), start=1):
        target = out / name
        if target.exists() and not force:
            log(f"{name}: already present, skipped ({target})")
            continue
        log(f"{name}: writing ({index}/{len(SAMPLE_STUDIES)})")  # the welcome screen's progress reads it
        start = time.perf_counter()
        partial = out / f".{name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        files = writer(partial)
        if target.exists():
            shutil.rmtree(target)
        partial.rename(target)
        size_mb = sum(p.stat().st_size for p in target.rglob("*") if p.is_file()) / 1e6
        seconds = time.perf_counter() - start
        log(f"{name}: wrote {len(files)} DICOM files, {size_mb:.1f} MB in {seconds:.1f} s ({target})")
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``--out DIR`` (default resources/samples) and ``--force``."""
    parser = argparse.ArgumentParser(prog="python -m training.phantoms.samples", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--force", action="store_true", help="rewrite studies that already exist")
    args = parser.parse_args(argv)
    write_samples(args.out, args.force, log=lambda message: print(message, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
