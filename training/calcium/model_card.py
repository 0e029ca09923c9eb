"""MODEL_CARD.md for the coronary-calcium plugin, written from the evaluation facts (metrics.json)."""

from __future__ import annotations

import os
from pathlib import Path

from engine.atomic import atomic_write_bytes
from plugins.coronary_calcium_ct.rules import ScoringRules
from training.domain_card import domain_section
from training.tiers import TIER_HEADER, shown_tiers_section, specificity_cell, tier_rows

FIRST_LINE = ("**The weights of this model were trained on synthetic cardiac CT phantoms only (no patient data) "
              "and are NOT for clinical use.**")


DOMAIN_HOW = ("The features are image-level (`domain_features.py`, the code the plugin runs), since the lesion "
              "classifier sees candidate lesions only and a calcium-free heart has none: the square-rooted HU "
              "histogram of the body (-1000..1500 HU, 50 HU bins), the noise of homogeneous soft tissue (robust "
              "standard deviation of an in-plane high-pass, soft-binned on a log scale) and the share of 150-600 HU "
              "in the central mediastinum (iodine in the blood pool), each group of unit length.")
DOMAIN_NOTES = ("A calcium-free heart is an ordinary calcium-scoring CT (score zero): it should stay inside, so "
                "its flagged share matters and its AUROC is only reported. The shifted phantoms are transforms of "
                "the phantom's HU volume described in the table; real CT images are single slices or short stacks "
                "of head, neck, abdomen and perfusion studies (colour images left out, identical pixel arrays once).")


def _ci(system: dict, key: str, digits: int = 3) -> str:
    value = system["metrics"].get(key)
    if value is None:
        return "n/a"
    low, high = system["ci95"].get(key, (float("nan"), float("nan")))
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _value(entry: dict | None, digits: int = 3) -> str:
    if not entry or entry.get("value") is None:
        return "n/a"
    ci = entry.get("ci95") or [None, None]
    if ci[0] is None:
        return f"{entry['value']:.{digits}f}"
    return f"{entry['value']:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def int8_decision(int8: dict) -> str:
    if int8.get("decided_on") == "validation":
        return (f"Decided on the validation split (Agatston change there "
                f"{int8['validation_agatston_relative_change']:.3%}, speed on validation cases); the test change "
                "above only reports.")
    return ("This version's choice used the test split's Agatston change (the 0.1.0 pipeline). The pipeline now "
            "decides on validation; re-deciding this version needs its FP32 export, which only a retrain "
            "regenerates (the shipped INT8 file cannot be turned back into FP32).")


def budget_text(facts: dict) -> str:
    budget = facts.get("budget")
    if not budget:
        return ("This version trained under a 15-minute wall-clock cap (60 epochs at most, early stopping); the "
                "pipeline now has no wall-clock limit: epochs and an optional optimizer-step cap (`--max-steps`).")
    cap = f", capped at {budget['max_steps']} steps" if budget.get("max_steps") else ""
    return (f"Budget: {budget['epochs']} epochs at most{cap}, seed {budget.get('seed')}; {budget.get('steps_run')} "
            f"optimizer steps ran, best checkpoint at step {budget.get('steps_at_best')}.")


def augmentation_text(facts: dict) -> str:
    """The kernel / dose augmentation of training (metrics.json "augmentation"), or what its absence means."""
    aug = facts.get("augmentation")
    if not aug:
        return ("No kernel / dose augmentation of the volumes: the shifted kernel and noise sets lie outside "
                "everything training saw.")
    counts = ", ".join(f"{n} {name}" for name, n in aug["candidates"].items())
    noise, blur = aug["noise_sigma_hu"], aug["blur_sigma_px"]
    return (f"Kernel / dose augmentation (`training/calcium/augment.py`, seeded stream {aug['stream']}): every "
            f"training and validation phantom also gives a noisy variant (unfiltered white noise, sigma "
            f"{noise[0]:g}-{noise[1]:g} HU) and a blurred one (in-plane Gaussian, sigma {blur[0]:g}-{blur[1]:g} px), "
            "added to the HU volume BEFORE the candidate stage, so the model sees the noise candidates a sharp "
            f"kernel makes (of a variant's non-coronary candidates at most {aug['max_background']} are kept, three "
            f"quarters within {aug['near_heart_mm']:g} mm of the heart). Variant candidates: {counts}. Training "
            "and early stopping use them; the temperature, the INT8 choice and the baseline radius use the clean "
            "validation split.")


def overlap_text(facts: dict) -> str:
    aug = facts.get("augmentation")
    if not aug or not aug.get("overlaps"):
        return ""
    sets = "; ".join(f"`{name}`: {text}" for name, text in aug["overlaps"].items())
    return ("\n**Overlap with training.** The augmentation covers these shifted sets' parameters, so they are no "
            f"longer fully outside the training distribution (their seeds and phantoms still are): {sets}. "
            "The augmentation does not cover `contrast-enhanced` or `calcium-free`.\n")


def render_text(facts: dict, n_cases: int) -> str:
    if "render" in facts["timings_s"]:
        return (f" (\"render\": {facts.get('phantoms_rendered', 0)} phantoms missing from the cache, each rendered "
                "once for its record, variants and domain features, two processes; \"data\": the cache read)")
    return (f", plus rendering\nthe {n_cases} phantoms into the cache when it is empty (4-15 s per phantom there, "
            "about 25 min with two\nprocesses on that machine; \"data\" above is the cache read)")


METRICS_HEADER = ("| Set | Cases | Reference lesions | Lesion accuracy | FP lesions / case | Kappa model "
                  "| Kappa baseline | Category agreement model | Category agreement baseline | ICC total model "
                  "| ICC total baseline |\n"
                  "|---|---|---|---|---|---|---|---|---|---|---|")


def tiers_section(tiers: dict | None, facts: dict | None = None) -> str:
    """Tier precision, shifted sets side by side, calcium-free specificity and the candidate-stage baseline
    (metrics.json "tiers", training/calcium/honest.py)."""
    if not tiers:
        return ""
    overlap = overlap_text(facts or {})
    sets = tiers["sets"]
    rows = "\n".join(tier_rows(f"`{name}` ({row['cases']} cases)", row["tiers"]) for name, row in sets.items())
    metrics = "\n".join(
        f"| `{name}` | {row['cases']} | {row['reference_lesions']} | {_value(row['model']['lesion_accuracy'])} | "
        f"{_value(row['model']['false_positive_lesions_per_case'], 2)} | {_value(row['model']['kappa'])} | "
        f"{_value(row['baseline']['kappa'])} | {_value(row['model']['category_accuracy'])} | "
        f"{_value(row['baseline']['category_accuracy'])} | {_value(row['model']['icc_total'])} | "
        f"{_value(row['baseline']['icc_total'])} |" for name, row in sets.items())
    zero = "; ".join(f"`{name}` {specificity_cell(row['specificity_zero_score'])}" for name, row in sets.items()
                     if row.get("specificity_zero_score"))
    descriptions = "\n".join(f"- `{name}`: {text}" for name, text in tiers["shifted_descriptions"].items())
    base = tiers["baseline"]
    shown = shown_tiers_section(sets, "cases", "case")
    return f"""
## Shifted sets, tiers and calcium-free hearts (shipped model)
Shifted held-out phantoms (the transforms of `training/calcium/domain.py`, their own seeds):
{descriptions}
{overlap}
Model vs the candidate-stage baseline ({base['stage']}; radius {base['radius_mm']:.0f} mm chosen among
{', '.join(f"{r:.0f}" for r in base['radii_mm'])} mm by {base['chosen_on']}). Point estimate [95% bootstrap CI
over cases, {tiers['bootstrap']} resamples]:

{METRICS_HEADER}
{metrics}

Tiers of the findings (every candidate the model puts on an artery, with the calibrated probability of that
artery; true when the candidate's reference class is that artery): true / reported = observed precision
[95% CI], and the ECE (15 bins) of the reported findings:

{TIER_HEADER}
{rows}
{shown}
Specificity on hearts with a zero reference score (no coronary finding, i.e. the score 0 is reported):
{zero}.
"""


def write_model_card(path: str | os.PathLike, facts: dict) -> Path:
    """Write the card; ``facts`` is the pipeline's metrics.json content."""
    model, baseline, int8 = facts["systems"]["model"], facts["systems"]["baseline"], facts["int8"]
    splits = facts["splits"]
    regions = ("LM", "LAD", "LCX", "RCA", "total")
    agreement = "\n".join(
        f"| {r} | {_ci(model, f'icc_{r}')} | {_ci(model, f'ba_mean_{r}', 2)} | "
        f"[{model['metrics'][f'ba_loa_low_{r}']:.2f}, {model['metrics'][f'ba_loa_high_{r}']:.2f}] |"
        for r in regions)
    timings = ", ".join(f"{k} {v / 60:.1f} min" for k, v in facts["timings_s"].items())
    speed = " vs ".join(f"{k} {v:.4f}" for k, v in int8["seconds_per_case"].items())
    n_cases = sum(size["cases"] for size in facts["split_sizes"].values())
    render = render_text(facts, n_cases)
    ece = f"{model['metrics']['ece_before']:.3f} / {model['metrics']['ece_after']:.3f}"
    seeds = {name: f"{s['first']}-{s['first'] + s['count'] - 1}" for name, s in splits.items()}
    sizes = facts["split_sizes"]
    text = f"""{FIRST_LINE}

# Coronary artery calcium scoring (CT) — model card

Version {facts['version']}. Generated by `training/calcium/pipeline.py`; numbers below are measured on
held-out phantoms that training never saw.

## What it does
Candidate lesions are the 26-connected components of >= 130 HU voxels inside the body that hold a
countable per-slice lesion (candidates.py; components > 3000 mm^3 are bone by rule).
LesionNet (a two-branch CNN: a 19 mm local patch, a 192 mm context patch, 8 size/density/position
scalars; {facts['parameters']:,} parameters) assigns each candidate to non-coronary / LM / LAD / LCX / RCA.
The lesions it assigns to an artery form the artery label map, which is scored exactly:
{ScoringRules().describe(3.0)}
Risk category (total Agatston): 0 none, 1-10 minimal, 11-100 mild, 101-400 moderate, > 400 severe
(Rumberger / AHA wording), with the CAC-DRS grade A0-A3 alongside.

## Intended use
Research and demonstration: a second reader's aid on non-contrast, ECG-gated calcium-scoring CT (3 mm
axial slices, 120 kVp), for a reader who checks every lesion. Not a medical device; not for clinical use.

## Data
Synthetic cardiac CT phantoms (training/phantoms/cardiac_ct.py): body, lungs, heart in epicardial fat,
aorta, spine, ribs, (ossified) costal cartilage, sternum; calcified plaques (130-1000 HU peak) on LM / LAD /
LCX / RCA centre lines, some next to bone; unlabelled aortic-wall calcifications as distractors; ~12%
zero-calcium cases. Seeds (disjoint): train {seeds['train']} (odd seeds rendered at 384 px, even at
512 px), validation {seeds['val']} (512 px), test {seeds['test']} (512 px).
Candidates: {sizes['train']['candidates']} train, {sizes['val']['candidates']} validation, {sizes['test']['candidates']}
test ({sizes['test']['reference_lesions']} reference lesions in {sizes['test']['cases']} test cases).
Target of a candidate: the artery labelling at least half its voxels, else non-coronary.

## Training
AdamW, class-weighted cross-entropy, shift + noise augmentation (no mirroring), early stopping on the
validation loss (best epoch {facts['best_epoch']}), seed 0, one CPU thread. Temperature scaling fitted on the
validation split: T = {facts['temperature']:.3f}.
{augmentation_text(facts)}
{budget_text(facts)}

## Results on the held-out test split (case-level bootstrap 95% CIs, {facts['bootstrap']} resamples)
| Metric | Model | Threshold-only baseline |
|---|---|---|
| Per-lesion artery accuracy | {_ci(model, 'lesion_accuracy')} | n/a (no artery assignment) |
| Candidate accuracy (5 classes) | {_ci(model, 'candidate_accuracy')} | n/a |
| False-positive coronary lesions / case | {_ci(model, 'false_positive_lesions_per_case', 2)} | n/a |
| Risk category Cohen's kappa | {_ci(model, 'kappa')} | {_ci(baseline, 'kappa')} |
| Risk category kappa (linear weights) | {_ci(model, 'kappa_linear')} | {_ci(baseline, 'kappa_linear')} |
| Risk category agreement | {_ci(model, 'category_accuracy')} | {_ci(baseline, 'category_accuracy')} |
| Total Agatston ICC(2,1) | {_ci(model, 'icc_total')} | {_ci(baseline, 'icc_total')} |
| Total Agatston bias (system - reference) | {_ci(model, 'ba_mean_total', 2)} | {_ci(baseline, 'ba_mean_total', 2)} |
| ECE (15 bins), before / after temperature | {ece} | |

Per-artery Agatston agreement of the model (reference = the phantom's label map scored by the same rules):

| Region | ICC(2,1) | Bland-Altman bias | 95% limits of agreement |
|---|---|---|---|
{agreement}

Baseline: every >= 130 HU voxel within a sphere around the phantom's true heart centre scored as one
region (Agatston rules, no artery assignment); the radius ({facts['baseline_radius_mm']:.0f} mm) was chosen
among 50 / 60 / 70 mm by kappa on the validation split. It is given the true heart position, which the
model is not. Bland-Altman plots: `bland_altman.png`.

Confusion matrix on test candidates (rows reference, columns predicted; non-coronary, LM, LAD, LCX, RCA):
`{facts['confusion']}`
""" + tiers_section(facts.get("tiers"), facts) + domain_section(facts.get("domain"), DOMAIN_HOW, DOMAIN_NOTES,
                                                         "real CT") + f"""
## Runtime and export
ONNX opset {facts['opset']}; parity max |torch - ONNX Runtime|: {facts['parity_max_abs_diff']}.
INT8 static QDQ (S8S8, per-channel, calibrated on training candidates): {speed} s per case (classifier
only, median), Agatston change {int8['agatston_relative_change']:.3%} of the FP32 total (sum of per-artery
absolute differences over the test cases / FP32 sum);
shipped: {'INT8' if int8['shipped'] else 'FP32'} (rule: INT8 only if faster and within 1% Agatston).
{int8_decision(int8)}
`make models` step (`python -m training.calcium.pipeline`): {timings} on a shared 2-core CPU{render}.

## Failure modes and limitations
- Phantom anatomy is simple: real CT has valves, mitral annulus and pericardial calcium, stents, motion
  and blooming, none of which the phantoms show; accuracy on patients is unknown.
- A plaque that touches bone at >= 130 HU merges with it; components > 3000 mm^3 are never scored.
- Lesions are assigned whole: a calcification spanning two arteries (e.g. LM into LAD) goes to one.
- The baseline and the reference share the scoring rules; the model's errors come only from artery
  assignment and candidate selection.
- Mass scores use a default c_HA of {ScoringRules().mass_calibration} mg/cm^3 per HU: calibrate per scanner.
- Slice spacing other than 3 mm is rescaled (spacing / 3), which only approximates a 3 mm protocol.
"""
    target = Path(path)
    atomic_write_bytes(target, text.encode())
    return target
