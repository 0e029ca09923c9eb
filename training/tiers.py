"""Tier precision, ECE of the reported findings and specificity, with case-level bootstrap 95% CIs.

The findings are the ones a reader sees (each with its calibrated probability and whether it is true);
their tier comes from the manifest's thresholds through :class:`engine.ai.calibration.Calibration`, the
runtime's own rule. Every interval resamples cases (images or volumes), not findings, because findings of
one case are not independent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.ai.calibration import TIERS, Calibration, expected_calibration_error

Z95 = 1.959964


@dataclass
class ReportedFindings:
    """The reported findings of a set of cases: per finding its case index, probability and truth."""

    case: np.ndarray  # (m,) int
    probability: np.ndarray  # (m,) float
    true: np.ndarray  # (m,) bool
    n_cases: int
    capped: np.ndarray | None = None  # (m,) bool: the case was outside the domain, the runtime shows "needs review"

    @classmethod
    def collect(cls, per_case: list[list[tuple[float, bool]]],
                capped_cases: list[bool] | None = None) -> ReportedFindings:
        """From one list of (probability, true) per case; ``capped_cases``: per case, whether the domain check
        flagged it (every finding of a flagged case is shown as "needs review", engine.ai.runner)."""
        rows = [(c, p, t) for c, findings in enumerate(per_case) for p, t in findings]
        case = np.array([r[0] for r in rows], dtype=int)
        capped = None if capped_cases is None else np.asarray(capped_cases, dtype=bool)[case]
        return cls(case, np.array([r[1] for r in rows], dtype=float),
                   np.array([r[2] for r in rows], dtype=bool), len(per_case), capped)

    def tiers(self, calibration: Calibration) -> np.ndarray:
        """Each finding's tier as the reader sees it: the model's tier, or "needs review" in a capped case."""
        tiers = np.array([calibration.tier(float(p)) for p in self.probability], dtype=object)
        if self.capped is not None:
            tiers[self.capped] = "needs_review"
        return tiers


def tier_table(findings: ReportedFindings, calibration: Calibration, n_boot: int = 1000, seed: int = 0) -> dict:
    """Per tier (and over all findings): count, true findings, observed precision and its bootstrap 95% CI
    over cases (null where a tier has no finding); plus the ECE of the reported findings (10 bins)."""
    tiers = findings.tiers(calibration)
    groups = {tier: tiers == tier for tier in TIERS} | {"all": np.ones(len(tiers), dtype=bool)}
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {name: [] for name in groups}
    eces: list[float] = []
    by_case = [np.nonzero(findings.case == c)[0] for c in range(findings.n_cases)]
    for _ in range(n_boot):
        drawn = rng.integers(0, findings.n_cases, findings.n_cases)
        rows = np.concatenate([by_case[c] for c in drawn]) if findings.n_cases else np.zeros(0, int)
        for name, member in groups.items():
            chosen = rows[member[rows]]
            if chosen.size:
                samples[name].append(float(findings.true[chosen].mean()))
        if rows.size:
            eces.append(expected_calibration_error(findings.probability[rows], findings.true[rows]))
    table: dict = {}
    for name, member in groups.items():
        count, true = int(member.sum()), int(findings.true[member].sum())
        table[name] = {"findings": count, "true": true,
                       "precision": true / count if count else None,
                       "ci95": _percentiles(samples[name]) if count else None}
    ece = expected_calibration_error(findings.probability, findings.true) if len(tiers) else None
    table["ece"] = ece
    table["ece_ci95"] = _percentiles(eces) if eces else None
    table["cases"] = findings.n_cases
    return table


def specificity(reported_per_case: np.ndarray) -> dict:
    """Share of (negative) cases with no reported finding, with its Wilson 95% interval."""
    clear = int(np.sum(np.asarray(reported_per_case) == 0))
    n = len(reported_per_case)
    return {"cases": n, "without_finding": clear, "specificity": clear / n if n else None,
            "ci95": wilson(clear, n) if n else None}


def wilson(successes: int, n: int, z: float = Z95) -> list[float]:
    """Wilson 95% interval of a proportion ``successes / n``."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def _percentiles(values: list[float]) -> list[float]:
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def tier_rows(name: str, table: dict) -> str:
    """One markdown table row: set name, then per tier 'true/findings = precision [CI]', ECE."""
    cells = [name]
    for tier in (*TIERS, "all"):
        row = table[tier]
        if not row["findings"]:
            cells.append("0 findings")
            continue
        lo, hi = row["ci95"]
        cells.append(f"{row['true']}/{row['findings']} = {row['precision']:.3f} [{lo:.3f}, {hi:.3f}]")
    ece = table.get("ece")
    cells.append("n/a" if ece is None else f"{ece:.3f}" + (
        f" [{table['ece_ci95'][0]:.3f}, {table['ece_ci95'][1]:.3f}]" if table.get("ece_ci95") else ""))
    return "| " + " | ".join(cells) + " |"


TIER_HEADER = ("| Set | High | Medium | Needs review | All reported | ECE (reported findings) |\n"
               "|---|---|---|---|---|---|")


def specificity_cell(row: dict | None) -> str:
    if not row or not row["cases"]:
        return "no negative case"
    lo, hi = row["ci95"]
    return f"{row['without_finding']}/{row['cases']} = {row['specificity']:.3f} [{lo:.3f}, {hi:.3f}]"


def finite(value):
    """``value`` with every NaN / infinite float (nested in dicts, lists, tuples) replaced by None: strict
    JSON for metrics.json."""
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value


def shown_tiers_section(sets: dict[str, dict], size_key: str, unit: str) -> str:
    """The tier table after the domain check's cap (rows "tiers_as_shown", "outside_domain" and ``size_key``
    per set; ``unit``: "image" or "case"), or "" where a set was not measured with the domain check."""
    if not all("tiers_as_shown" in row for row in sets.values()):
        return ""
    rows = "\n".join(tier_rows(f"`{name}` ({row['outside_domain']}/{row[size_key]} outside)", row["tiers_as_shown"])
                     for name, row in sets.items())
    article = "an" if unit[0] in "aeiou" else "a"
    return f"""
As the reader sees them: the same findings after the domain check (every finding of {article} {unit} outside the
validated domain is shown as "needs review"; the {unit}s outside are counted per set):

{TIER_HEADER}
{rows}
"""
