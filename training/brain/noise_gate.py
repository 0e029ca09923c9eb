"""The brain plugin's noise gate, fitted on validation: scans noisier than validated put every finding to review.

    python -m training.brain.noise_gate --plugin plugins/brain_tumor_mri

``prepare_brain`` measures each scan's air level (``air_level``: the median smoothed signal of the air, over
the 99th percentile; about 1.25 Rician noise sigmas). The limit is the highest air level of the validation
split and the domain-validation seed range, times ``MARGIN``; it goes to the manifest's
``[preprocessing].max_air_level``, which the plugin compares each scan with (``noise_review``). Measured
afterwards, never used for the fit: the share of the test split, the new-site split and each shifted set
above the limit. ``metrics.json`` gets ``"noise_gate"`` and MODEL_CARD.md is regenerated.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_bytes
from plugins.brain_tumor_mri.preprocessing import prepare_brain
from training.brain.data import SPLITS, SplitSpec, render_spec
from training.brain.domain import DOMAIN_VAL, SHIFTED, ShiftedSet, shifted_volumes
from training.domain_fit import record_metrics

MARGIN = 1.5  # the limit over the noisiest validation scan: the phantoms draw Rician sigma 0.015-0.035


def split_levels(spec: SplitSpec) -> list[float | None]:
    """The air level of every case of a phantom split, through the plugin's preprocessing."""
    return [render_spec(spec, seed).prepared.air_level for seed in spec.seeds]


def shifted_levels(spec: ShiftedSet) -> list[float | None]:
    return [prepare_brain(shifted_volumes(spec, seed)).air_level for seed in spec.seeds]


def fit_limit(levels: list[float | None], margin: float = MARGIN) -> float:
    """``margin`` times the highest measured air level of the validation cases."""
    measured = [level for level in levels if level is not None]
    if not measured:
        raise ValueError("no validation case has air in its field of view")
    return float(max(measured) * margin)


def set_max_air_level(manifest: Path, limit: float) -> None:
    """Write ``max_air_level`` into the manifest's ``[preprocessing]`` table (replacing any earlier value),
    after its ``join_mm`` line."""
    text = re.sub(r"(?m)^max_air_level = .*\n", "", manifest.read_text(encoding="utf-8"))
    anchor = re.search(r"(?m)^join_mm = .*\n", text)
    if anchor is None:
        raise ValueError(f"{manifest}: no join_mm line in [preprocessing]")
    text = text[:anchor.end()] + f"max_air_level = {limit:.6f}\n" + text[anchor.end():]
    atomic_write_bytes(manifest, text.encode())


def fit_and_measure(plugin: Path, validation: tuple[SplitSpec, ...] = (SPLITS["val"], DOMAIN_VAL),
                    test: SplitSpec = SPLITS["test"], site: SplitSpec = SPLITS["site_test"],
                    shifted: tuple[ShiftedSet, ...] = SHIFTED, log: Callable[[str], None] = print) -> dict:
    """Fit the limit into ``plugin``'s manifest and measure the flagged shares; the "noise_gate" facts."""
    levels = [level for spec in validation for level in split_levels(spec)]
    limit = fit_limit(levels)
    set_max_air_level(plugin / "manifest.toml", limit)
    log(f"[noise gate] limit {limit:.4f} (validation max {limit / MARGIN:.4f}, {len(levels)} cases)")

    def row(name: str, values: list[float | None]) -> dict:
        measured = np.array([v for v in values if v is not None], dtype=float)
        above = int(np.sum(measured > limit))
        facts = {"name": name, "cases": len(values), "flagged": above / max(len(values), 1),
                 "flagged_cases": above, "median_air_level": float(np.median(measured)) if measured.size else None}
        log(f"[noise gate] {name}: {above}/{len(values)} above the limit")
        return facts

    rows = [row("test", split_levels(test)), row("new site", split_levels(site))]
    rows += [row(spec.name, shifted_levels(spec)) for spec in shifted]
    return {"limit": limit, "margin": MARGIN, "validation_max": limit / MARGIN, "validation_cases": len(levels),
            "validation": [spec.name for spec in validation], "sets": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugin", default="plugins/brain_tumor_mri")
    args = parser.parse_args(argv)
    from training.brain.model_card import write_model_card
    from training.brain.train import limit_threads

    limit_threads(1)
    plugin = Path(args.plugin)
    write_model_card(plugin / "MODEL_CARD.md", record_metrics(plugin, "noise_gate", fit_and_measure(plugin)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
