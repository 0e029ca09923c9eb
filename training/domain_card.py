"""The "Domain check" section of a model card, from the ``domain`` facts of a plugin's metrics.json (written by
training/brain/domain.py and training/calcium/domain.py)."""

from __future__ import annotations

SHIFTED_AUROC_TARGET = 0.80
REAL_AUROC_TARGET = 0.95
TEST_FLAGGED_TARGET = 0.05


def domain_section(domain: dict | None, how: str, notes: str, real_name: str) -> str:
    """Markdown: ``how`` the features are made, the threshold and its validation, the measured table, the
    targets, and ``notes`` (limits of the measurement). Empty when ``domain`` is None."""
    if not domain:
        return ""
    validation, test = domain["validation"], domain["test"]
    splits = " + ".join(f"{s['name']} (seeds {s['seeds'][0]}-{s['seeds'][1]}, {s['cases']})"
                        for s in validation["splits"])
    rows = [f"| held-out test split (in distribution) | {test['cases']} | – | {test['flagged']:.1%} |"]
    real = domain.get("real")
    for row in [*domain["shifted"], *([real] if real else [])]:
        seeds = f", seeds {row['seeds'][0]}-{row['seeds'][1]}" if row["seeds"] else ""
        expected = " (expected inside)" if row.get("expect_inside") else ""
        rows.append(f"| {row['name']}{expected}: {row['description']}{seeds} | {row['cases']} | {row['auroc']:.3f} | "
                    f"{row['flagged']:.1%} |")
    targeted = [row for row in domain["shifted"] if not row.get("expect_inside")]
    missed = [row["name"] for row in targeted if row["auroc"] < SHIFTED_AUROC_TARGET]
    shifted_line = (f"shifted sets AUROC ≥ {SHIFTED_AUROC_TARGET:.2f}: "
                    + ("met for every set" if not missed else f"NOT met for {', '.join(missed)}"))
    real_line = f"{real_name} not measured"
    if real:
        real_line = (f"{real_name} AUROC {real['auroc']:.3f} vs ≥ {REAL_AUROC_TARGET:.2f} "
                     f"({'met' if real['auroc'] >= REAL_AUROC_TARGET else 'NOT met'})")
    test_line = (f"test flagged {test['flagged']:.1%} vs ≤ {TEST_FLAGGED_TARGET:.0%} "
                 f"({'met' if test['flagged'] <= TEST_FLAGGED_TARGET else 'NOT met'})")
    return f"""
## Domain check

Every result carries an out-of-distribution score: the mean cosine distance of the {domain['features']}
to the k = {domain['k']} nearest of the {domain['reference']['cases']} training phantoms (`domain.npz`, its SHA-256 in
the manifest). {how} Above the threshold **{domain['threshold']:.6f}** — set on validation only, so that
{validation['retained']:.1%} of {validation['cases']} cases ({splits}) lie at or below it — the result says it is
outside the validated domain and every finding is "needs review".

Measured afterwards (AUROC of the score for the set vs the held-out test split; flagged = share above the
threshold):

| set | cases | AUROC vs test | flagged |
|---|---|---|---|
""" + "\n".join(rows) + f"""

Targets: {test_line}; {shifted_line}; {real_line}. {notes} The check cannot tell a real scan that resembles
the phantoms from a phantom: it is a guard against the inputs above, not a validation on patient data.
"""
