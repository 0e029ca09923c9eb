"""The synthesis plugin's prompt domain check: is a prompt like the prostate MRI reports CCELLA learnt from?

    python -m training.ccella.prompt_domain --plugin plugins/prostate_synthesis

Embeds reports exactly as the plugin does (one report at a time through the shipped INT8 text encoder, then
the plugin's own ``prompt_embedding``): the training reports are the reference, a disjoint validation range
sets the threshold (95% retained), and the held-out test reports, paraphrased prostate reports and reports
of other studies are scored for the model card (flagged share, AUROC with bootstrap 95% CIs). Writes
``domain.npz`` and the manifest's ``[domain]`` table, ``prompt_domain.json`` and the card's section.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from engine.ai.sessions import cpu_session
from engine.atomic import atomic_write_bytes
from plugins.prostate_synthesis.logic import prompt_embedding
from plugins.prostate_synthesis.text import ReportTokenizer
from training.ccella.config import TEST_SEEDS, TRAIN_SEEDS
from training.ccella.data import VOLUME_SHAPE
from training.ccella.prompt_shift import OTHER_REPORTS, paraphrased_report
from training.domain_fit import domain_auroc, fit_domain
from training.phantoms.prostate_mri import make_prostate_mri

VALIDATION_SEEDS = range(300_000, 300_400)  # disjoint from every CCELLA split (config.py)
PARAPHRASE_SEEDS = range(400_000, 400_200)
METRICS_NAME = "prompt_domain.json"
SECTION = "## Prompt domain check"
BOOTSTRAP = 1000


def reports(seeds: range) -> list[str]:
    """The phantom reports of ``seeds`` (the prompts the model was trained / validated / tested on)."""
    return [make_prostate_mri(seed, shape=VOLUME_SHAPE).report for seed in seeds]


def embed(plugin: Path, texts: list[str]) -> np.ndarray:
    """Prompt embeddings exactly as the plugin computes them (each report encoded on its own)."""
    manifest = (plugin / "manifest.toml").read_text()
    max_tokens = int(re.search(r"^max_tokens = (\d+)", manifest, re.M).group(1))
    tokenizer = ReportTokenizer(plugin / "tokenizer.json", max_tokens)
    session = cpu_session(plugin / "text_encoder.onnx", 1)
    rows = []
    for text in texts:
        tokens = tokenizer([text])
        features = session.run(["tokens"], {"input_ids": tokens.ids, "attention_mask": tokens.mask})[0]
        rows.append(prompt_embedding(features.astype(np.float32), tokens.mask.astype(np.float32)))
    return np.stack(rows).astype(np.float32)


def auroc_ci(inside: np.ndarray, outside: np.ndarray, seed: int = 0) -> list[float]:
    """AUROC with a bootstrap 95% CI: [estimate, low, high]."""
    rng = np.random.default_rng(seed)
    draws = [domain_auroc(rng.choice(inside, len(inside)), rng.choice(outside, len(outside)))
             for _ in range(BOOTSTRAP)]
    return [domain_auroc(inside, outside), float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))]


def run(plugin: Path) -> dict:
    from engine.ai.domain import knn_distances

    reference = embed(plugin, reports(TRAIN_SEEDS))
    validation = embed(plugin, reports(VALIDATION_SEEDS))
    fit = fit_domain(plugin, reference, validation, k=5, features="prompt embedding (mean token feature)")
    sets = {"test": reports(TEST_SEEDS), "paraphrased prostate reports": [paraphrased_report(s)
                                                                          for s in PARAPHRASE_SEEDS],
            "other studies and non-reports": list(OTHER_REPORTS)}
    scores = {name: knn_distances(embed(plugin, texts), reference, fit.k) for name, texts in sets.items()}
    metrics = {
        "reference_reports": len(reference), "validation_reports": len(validation), "k": fit.k,
        "threshold": fit.threshold, "validation_retained": fit.validation_retained,
        "flagged": {name: float(np.mean(values > fit.threshold)) for name, values in scores.items()},
        "counts": {name: len(values) for name, values in scores.items()},
        "auroc_vs_test": {name: auroc_ci(scores["test"], values) for name, values in scores.items()
                          if name != "test"},
        "seeds": {"reference": [TRAIN_SEEDS.start, TRAIN_SEEDS.stop - 1],
                  "validation": [VALIDATION_SEEDS.start, VALIDATION_SEEDS.stop - 1],
                  "test": [TEST_SEEDS.start, TEST_SEEDS.stop - 1]},
    }
    atomic_write_bytes(plugin / METRICS_NAME, (json.dumps(metrics, indent=2) + "\n").encode())
    write_card_section(plugin / "MODEL_CARD.md", metrics)
    return metrics


def card_section(metrics: dict) -> str:
    """The model card's section, from ``prompt_domain.json``."""
    lines = [SECTION, "",
             f"A prompt is scored by the mean cosine distance of its embedding (mean token feature of the shipped "
             f"text encoder) to its {metrics['k']} nearest training reports ({metrics['reference_reports']}). "
             f"The threshold {metrics['threshold']:.4f} keeps {metrics['validation_retained']:.3f} of "
             f"{metrics['validation_reports']} validation reports (seeds {metrics['seeds']['validation'][0]}-"
             f"{metrics['seeds']['validation'][1]}). Above it the app warns that the prompt is not like the "
             "training reports and shows the class and lesion read from it as LOW CONFIDENCE.", "",
             "| prompts | n | flagged | AUROC vs test (95% CI) |", "|---|---|---|---|"]
    for name, count in metrics["counts"].items():
        auroc = metrics["auroc_vs_test"].get(name)
        text = "—" if auroc is None else f"{auroc[0]:.3f} [{auroc[1]:.3f}, {auroc[2]:.3f}]"
        lines.append(f"| {name} | {count} | {metrics['flagged'][name]:.3f} | {text} |")
    lines += ["", "Paraphrased prostate reports say what the templates say in other words: a site's own reports "
              "will often be flagged too, which is the honest answer for a model trained on templated text.", ""]
    return "\n".join(lines)


def write_card_section(card: Path, metrics: dict) -> None:
    """Replace (or append) the card's prompt-domain section; every other line stays."""
    text = card.read_text(encoding="utf-8")
    section = card_section(metrics)
    pattern = re.compile(re.escape(SECTION) + r"\n.*?(?=\n## |\Z)", re.S)
    text = pattern.sub(section.rstrip("\n"), text) if SECTION in text else text.rstrip("\n") + "\n\n" + section
    atomic_write_bytes(card, text.encode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugin", default="plugins/prostate_synthesis", type=Path)
    metrics = run(parser.parse_args(argv).plugin)
    print(json.dumps({k: metrics[k] for k in ("threshold", "flagged", "auroc_vs_test")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
