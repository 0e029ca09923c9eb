"""Import a trained nnU-Net v2 model folder as a declarative Sightline plugin (ONNX, no PyTorch at run time).

    python -m training.importers.nnunet RESULTS_FOLDER --out PLUGIN_DIR [--folds 0 1 ...] [--separate-folds]
        [--id ID] [--modality CT|MR] [--example ROLE=IMAGE.nii.gz ...] [--overwrite]

RESULTS_FOLDER is the trained model folder nnU-Net writes, e.g.
``nnUNet_results/Dataset042_Liver/nnUNetTrainer__nnUNetPlans__3d_fullres``: ``plans.json``,
``dataset.json`` and ``fold_*/checkpoint_final.pth``. The network is rebuilt from the plans with
dynamic-network-architectures (what nnU-Net itself uses), loaded with each fold's weights and exported
to ONNX: the folds averaged in-graph (one model, nnU-Net averages fold logits too) or, with
``--separate-folds``, one ONNX per fold averaged by the engine. The manifest's ``[pipeline]`` carries the
plans: transpose, crop to the non-zero region, the per-channel normalisation (CTNormalization with the
foreground percentiles, mean and sd; z-score with or without the mask), target spacing and the
resampling orders (separate low-resolution axis), patch size, tile step 0.5, Gaussian weighting and the
mirroring axes of the checkpoint. Refused with the reason: region-based (sigmoid) training, ignore
labels, 2D configurations and cascades, readers other than SimpleITK/nibabel, custom resampling.
"""

from __future__ import annotations

import argparse
import json
import pydoc
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from training.importers import toml_out
from training.importers.common import (
    GENERIC_CODE,
    PALETTE,
    Averaged,
    ImportRefused,
    export_onnx,
    file_entry,
    parse_examples,
    plugin_id,
    publish,
    role_name,
    staging_folder,
    write_example,
)

ORIENTATION = {"SimpleITKIO": "as_stored", "NibabelIO": "as_stored", "NibabelIOWithReorient": "RAS"}
NORMALIZATION = {"CTNormalization": "ct", "ZScoreNormalization": "zscore", "NoNormalization": "none",
                 "RescaleTo01Normalization": "rescale01"}
SEPARATE_Z = {None: "auto", True: "always", False: "never"}


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ImportRefused(f"{path}: missing (is this an nnU-Net v2 trained model folder?)") from None
    except (OSError, json.JSONDecodeError) as error:
        raise ImportRefused(f"{path}: not readable JSON ({error})") from None


def find_folds(results: Path, folds: Sequence[str] | None) -> list[Path]:
    if folds:
        paths = [results / f"fold_{fold}" / "checkpoint_final.pth" for fold in folds]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise ImportRefused(f"{missing[0]}: missing")
        return paths
    paths = sorted(p for p in results.glob("fold_*/checkpoint_final.pth"))
    if not paths:
        raise ImportRefused(f"{results}: no fold_*/checkpoint_final.pth")
    return paths


def build_network(configuration: dict[str, Any], channels: int, classes: int, source: Path) -> torch.nn.Module:
    """The network of the plans, built as nnU-Net builds it (pydoc.locate of the class and of the
    kwargs that name classes), without deep supervision."""
    architecture = configuration.get("architecture")
    if not isinstance(architecture, dict):
        raise ImportRefused(f"{source}: the configuration has no 'architecture' (plans older than nnU-Net 2.4?)")
    kwargs = dict(architecture["arch_kwargs"])
    for name in architecture.get("_kw_requires_import", []):
        if kwargs.get(name) is not None:
            located = pydoc.locate(kwargs[name])
            if located is None:
                raise ImportRefused(f"{source}: cannot import {kwargs[name]} ({name})")
            kwargs[name] = located
    network_class = pydoc.locate(architecture["network_class_name"])
    if network_class is None:
        raise ImportRefused(f"{source}: cannot import the network class {architecture['network_class_name']}")
    kwargs["deep_supervision"] = False
    return network_class(input_channels=channels, num_classes=classes, **kwargs)


def load_weights(network: torch.nn.Module, checkpoint: dict[str, Any], path: Path) -> None:
    weights = {key.removeprefix("_orig_mod.").removeprefix("module."): value
               for key, value in checkpoint["network_weights"].items()}
    try:
        network.load_state_dict(weights)
    except RuntimeError as error:
        raise ImportRefused(f"{path}: weights do not fit the network of the plans ({error})") from None


def import_nnunet(results: str | Path, out: str | Path, *, folds: Sequence[str] | None = None,
                  separate_folds: bool = False, plugin: str | None = None, modality: str | None = None,
                  examples: dict[str, Path] | None = None, overwrite: bool = False) -> Path:
    """Write the plugin for the nnU-Net v2 model folder ``results`` into ``out``; returns ``out``."""
    results, out = Path(results), Path(out)
    dataset = read_json(results / "dataset.json")
    plans = read_json(results / "plans.json")
    checkpoints = find_folds(results, folds)
    first = torch.load(checkpoints[0], map_location="cpu", weights_only=False)
    configuration_name = first.get("init_args", {}).get("configuration")
    configurations = plans.get("configurations", {})
    if configuration_name not in configurations:
        raise ImportRefused(f"{checkpoints[0]}: configuration {configuration_name!r} is not in plans.json")
    configuration = resolve(configurations, configuration_name, results / "plans.json")
    labels = dataset.get("labels", {})
    refuse_unsupported(dataset, plans, configuration, results)
    channel_names = [dataset["channel_names"][k] for k in sorted(dataset["channel_names"], key=int)]
    foreground = sorted(((int(v), name) for name, v in labels.items() if int(v) != 0))
    classes = len(foreground) + 1
    networks = []
    for path in checkpoints:
        checkpoint = first if path == checkpoints[0] else torch.load(path, map_location="cpu", weights_only=False)
        if checkpoint.get("init_args", {}).get("configuration") != configuration_name:
            raise ImportRefused(f"{path}: a fold of another configuration")
        network = build_network(configuration, len(channel_names), classes, results / "plans.json")
        load_weights(network, checkpoint, path)
        networks.append(network.eval())
    patch = [int(p) for p in configuration["patch_size"]]
    staging = staging_folder(out)
    try:
        models, parities = [], []
        if separate_folds or len(networks) == 1:
            for path, network in zip(checkpoints, networks, strict=True):
                name = path.parent.name
                parities.append(export_onnx(network, staging / f"{name}.onnx", len(channel_names), patch))
                models.append(file_entry(staging, f"{name}.onnx", name))
        else:
            parities.append(export_onnx(Averaged(networks), staging / "ensemble.onnx", len(channel_names), patch))
            models.append(file_entry(staging, "ensemble.onnx", "ensemble"))
        mirror = first.get("inference_allowed_mirroring_axes")
        manifest = manifest_tables(dataset, plans, configuration, channel_names, foreground, models,
                                   list(mirror) if mirror is not None else [], plugin, modality)
        write_manifest(staging, manifest, [], {})
        card = model_card(dataset, plans, configuration_name, checkpoints, len(networks) > 1 and not separate_folds,
                          parities)
        (staging / "MODEL_CARD.md").write_text(card, encoding="utf-8")
        if examples:
            roles = [table["role"] for _, table in manifest["inputs"]]
            unknown = sorted(set(examples) - set(roles))
            if unknown:
                raise ImportRefused(f"--example {unknown[0]}: not an input role ({', '.join(roles)})")
            example = write_example(staging, examples)
            files = [file_entry(staging, path, f"example {role}") for role, path in example["inputs"].items()]  # type: ignore[union-attr]
            files.append(file_entry(staging, str(example["expected_labels"]), "example expected labels"))
            write_manifest(staging, manifest, files, example)
        return publish(staging, out, overwrite)
    except BaseException:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        raise


def resolve(configurations: dict[str, Any], name: str, source: Path) -> dict[str, Any]:
    """A configuration with its ``inherits_from`` chain merged (as nnU-Net's PlansManager does)."""
    configuration = dict(configurations[name])
    seen = {name}
    while "inherits_from" in configuration:
        parent = configuration.pop("inherits_from")
        if parent in seen or parent not in configurations:
            raise ImportRefused(f"{source}: configuration {name} inherits from unknown or cyclic {parent!r}")
        seen.add(parent)
        configuration = {**configurations[parent], **configuration}
    return configuration


def refuse_unsupported(dataset: dict[str, Any], plans: dict[str, Any], configuration: dict[str, Any],
                       results: Path) -> None:
    labels = dataset.get("labels", {})
    if any(isinstance(v, (list, tuple)) for v in labels.values()) or "regions_class_order" in dataset:
        raise ImportRefused(f"{results / 'dataset.json'}: region-based (sigmoid) training is not supported yet")
    if "ignore" in labels:
        raise ImportRefused(f"{results / 'dataset.json'}: an ignore label is not supported yet")
    values = sorted(int(v) for v in labels.values())
    if values != list(range(len(values))) or not values or values[0] != 0:
        raise ImportRefused(f"{results / 'dataset.json'}: labels must be 0 (background), 1, 2, ... consecutively")
    if len(configuration.get("patch_size", [])) != 3:
        raise ImportRefused(f"{results / 'plans.json'}: only 3D configurations are supported (2D comes later)")
    if configuration.get("previous_stage"):
        raise ImportRefused(f"{results / 'plans.json'}: cascade stages are not supported")
    reader = plans.get("image_reader_writer", "SimpleITKIO")
    if reader not in ORIENTATION:
        raise ImportRefused(f"{results / 'plans.json'}: image reader {reader} is not supported "
                            f"({', '.join(ORIENTATION)})")
    for key in ("resampling_fn_data", "resampling_fn_probabilities"):
        if configuration.get(key) != "resample_data_or_seg_to_shape":
            raise ImportRefused(f"{results / 'plans.json'}: {key} {configuration.get(key)!r} is not nnU-Net's "
                                "default resample_data_or_seg_to_shape")
    for scheme in configuration.get("normalization_schemes", []):
        if scheme not in NORMALIZATION:
            raise ImportRefused(f"{results / 'plans.json'}: normalisation {scheme} is not supported")


def manifest_tables(dataset: dict[str, Any], plans: dict[str, Any], configuration: dict[str, Any],
                    channel_names: list[str], foreground: list[tuple[int, str]], models: list[dict[str, str]],
                    mirror_axes: list[int], plugin: str | None, modality: str | None) -> dict[str, Any]:
    schemes = configuration["normalization_schemes"]
    is_ct = "CTNormalization" in schemes
    modality = (modality or ("CT" if is_ct else "MR")).upper()
    name = plans.get("dataset_name", "nnU-Net model")
    taken: set[str] = set()
    inputs = []
    roles = []
    for index, channel in enumerate(channel_names):
        role = role_name(channel, taken)
        roles.append(role)
        table: dict[str, Any] = {"role": role, "modalities": [modality], "dimensions": "3d"}
        if len(channel_names) > 1:
            table["description_patterns"] = [f"(?i){_pattern(channel)}"]
        inputs.append(("[[inputs]]", table))
        del index
    normalization = []
    properties = plans.get("foreground_intensity_properties_per_channel", {})
    use_mask = configuration.get("use_mask_for_norm", [False] * len(channel_names))
    for c, scheme in enumerate(schemes):
        rule: dict[str, Any] = {"scheme": NORMALIZATION[scheme]}
        if scheme == "CTNormalization":
            stats = properties.get(str(c))
            if stats is None:
                raise ImportRefused(f"plans.json: CTNormalization of channel {c} without intensity properties")
            rule.update(mean=float(stats["mean"]), sd=float(stats["std"]), lower=float(stats["percentile_00_5"]),
                        upper=float(stats["percentile_99_5"]))
        if scheme == "ZScoreNormalization":
            rule["use_mask"] = bool(use_mask[c])
        normalization.append(("[[pipeline.normalization]]", rule))
    data_kwargs = configuration.get("resampling_fn_data_kwargs", {})
    back_kwargs = configuration.get("resampling_fn_probabilities_kwargs", {})
    if data_kwargs.get("force_separate_z") != back_kwargs.get("force_separate_z"):
        raise ImportRefused("plans.json: different force_separate_z for data and probabilities is not supported")
    labels = [("[[labels]]", {"value": value, "name": label_name, "color": list(PALETTE[(value - 1) % len(PALETTE)]),
                               "code": dict(GENERIC_CODE)}) for value, label_name in foreground]
    top = {
        "schema_version": 1,
        "id": plugin or plugin_id(name, "nnunet"),
        "name": f"{name} (imported nnU-Net v2)",
        "version": "0.1.0",
        "kind": "segmentation",
        "modalities": [modality],
        "intended_use": f"Research only: the nnU-Net v2 model {name}, imported without validation by Sightline; "
                        "every output needs review by a reader. Not a medical device; not for clinical use.",
        "training_data": f"Unknown to Sightline: imported from an nnU-Net v2 results folder (dataset.json "
                         f"numTraining = {dataset.get('numTraining', 'not given')}).",
        "clinical_use": False,
    }
    pipeline = {
        "channels": roles,
        "orientation": ORIENTATION[plans.get("image_reader_writer", "SimpleITKIO")],
        "transpose": [int(a) for a in plans.get("transpose_forward", [0, 1, 2])],
        "crop_foreground": True,
    }
    resample = {
        "spacing": [float(s) for s in configuration["spacing"]],
        "order": int(data_kwargs.get("order", 3)),
        "order_z": int(data_kwargs.get("order_z", 0)),
        "separate_z": SEPARATE_Z[data_kwargs.get("force_separate_z")],
        "back_order": int(back_kwargs.get("order", 1)),
        "back_order_z": int(back_kwargs.get("order_z", 0)),
    }
    inference = {"models": [m["name"] for m in models], "patch_size": [int(p) for p in configuration["patch_size"]],
                 "overlap": 0.5, "gaussian": True, "sigma_scale": 0.125, "mirror_axes": [int(a) for a in mirror_axes],
                 "accumulate": "float16"}  # nnUNetPredictor's float16 sums: parity at the image corners
    return {"top": top, "inputs": inputs, "models": [("[[models]]", m) for m in models], "labels": labels,
            "pipeline": pipeline, "resample": resample, "normalization": normalization, "inference": inference}


def _pattern(channel: str) -> str:
    import re

    return re.escape(channel)


def write_manifest(folder: Path, tables: dict[str, Any], files: list[dict[str, str]], example: dict[str, Any]) -> None:
    sections = [*tables["inputs"], *tables["models"], *tables["labels"],
                ("[calibration]", {"temperature": 1.0, "high": 0.90, "medium": 0.70}),
                ("[pipeline]", tables["pipeline"]), ("[pipeline.resample]", tables["resample"]),
                *tables["normalization"], ("[pipeline.inference]", tables["inference"]),
                ("[pipeline.postprocess]", {"activation": "softmax"})]
    sections += [("[[files]]", entry) for entry in files]
    if example:
        sections.append(("[example]", example))
    toml_out.write_manifest(folder / "manifest.toml", tables["top"], sections,
                            "Written by training.importers.nnunet from an nnU-Net v2 results folder. No domain\n"
                            "data yet: every finding needs review until reference cases are added.")


def model_card(dataset: dict[str, Any], plans: dict[str, Any], configuration: str, checkpoints: list[Path],
               averaged: bool, parities: list[float]) -> str:
    name = plans.get("dataset_name", "?")
    folds = ", ".join(p.parent.name for p in checkpoints)
    channels = ", ".join(dataset["channel_names"][k] for k in sorted(dataset["channel_names"], key=int))
    labels = ", ".join(f"{v} {k}" for k, v in dataset["labels"].items())
    ensembled = " averaged in one ONNX graph" if averaged else ""
    return f"""Imported model, validation UNKNOWN: nnU-Net v2 {name} was converted by Sightline, not trained or \
validated by it; not for clinical use.

# {name} (nnU-Net v2, {configuration})

## What is known
- Source: an nnU-Net v2 results folder ({plans.get('plans_name', 'nnUNetPlans')}, configuration {configuration}),
  folds {folds}{ensembled}.
- Channels: {channels}; labels: {labels}.
- Training cases according to dataset.json: {dataset.get('numTraining', 'not given')}.
- ONNX export: the largest |PyTorch - ONNX Runtime| logit difference on a random patch was {max(parities):.2e}.
- The pipeline (crop, normalisation, resampling, sliding window with Gaussian weighting, mirroring, float16
  accumulation) is nnU-Net's, taken from plans.json and the checkpoint.

## What is not known
- The training data, its population, scanners and protocols; the validation metrics; the intended use.
- Whether the model works on this site's images: no domain reference data, so every finding is "needs review".
- The label codes: every label carries the generic SNOMED CT code 85756007 "Tissue" until someone maps it.
- nnU-Net's optional post-processing (postprocessing.pkl) is not applied.
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.importers.nnunet", description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path, help="nnU-Net v2 trained model folder (plans.json, dataset.json, fold_*)")
    parser.add_argument("--out", type=Path, required=True, help="plugin folder to write")
    parser.add_argument("--folds", nargs="+", help="folds to use (default: every fold_* with checkpoint_final.pth)")
    parser.add_argument("--separate-folds", action="store_true", help="one ONNX per fold instead of one averaged graph")
    parser.add_argument("--id", help="plugin id (default: nnunet-<dataset name>)")
    parser.add_argument("--modality", help="DICOM modality of the inputs (default: CT with CTNormalization, else MR)")
    parser.add_argument("--example", action="append", default=[], metavar="ROLE=IMAGE.nii.gz",
                        help="an example input the plugin carries; its output becomes the expected output")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    examples = parse_examples(parser, args.example)
    try:
        out = import_nnunet(args.results, args.out, folds=args.folds, separate_folds=args.separate_folds,
                            plugin=args.id, modality=args.modality, examples=examples, overwrite=args.overwrite)
    except (ImportRefused, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
