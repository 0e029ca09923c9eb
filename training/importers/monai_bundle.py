"""Import a MONAI bundle (segmentation) as a declarative Sightline plugin (ONNX, no PyTorch or MONAI at run time).

    python -m training.importers.monai_bundle BUNDLE_DIR --out PLUGIN_DIR [--id ID] [--modality CT|MR]
        [--example ROLE=IMAGE.nii.gz] [--overwrite]

Reads ``configs/metadata.json`` and ``configs/inference.json`` with MONAI's own ConfigParser, builds
``network_def`` and loads ``models/model.pt``, exports the network to ONNX and translates the transforms
into the manifest's ``[pipeline]``: LoadImaged, EnsureChannelFirstd, EnsureTyped (nothing to do),
Orientationd (axcodes), Spacingd (pixdim, bilinear or nearest; MONAI's grid: first voxel centres aligned),
ScaleIntensityRanged, NormalizeIntensityd (whole image), SlidingWindowInferer (roi, overlap, constant or
gaussian blending), Activationsd (softmax or sigmoid, applied before Invertd as MONAI does), Invertd,
AsDiscreted (argmax or threshold), KeepLargestConnectedComponentd, SaveImaged (ignored). Any other
transform, or an option of these that changes the result and is not translated, is refused by name.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from training.importers import toml_out
from training.importers.common import (
    GENERIC_CODE,
    PALETTE,
    ImportRefused,
    export_onnx,
    file_entry,
    parse_examples,
    plugin_id,
    publish,
    staging_folder,
    write_example,
)

PASS_THROUGH = {"LoadImaged", "LoadImage", "EnsureChannelFirstd", "EnsureTyped", "ToTensord", "SaveImaged",
                "Invertd", "CopyItemsd", "EnsureType"}
MODES = {"bilinear": 1, "nearest": 0, 1: 1, 0: 0}


def _name(transform: dict[str, Any]) -> str:
    return str(transform.get("_target_", "?")).split(".")[-1]


def _transforms(config: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(config, dict) and _name(config) == "Compose":
        config = config.get("transforms", [])
    if not isinstance(config, list) or not all(isinstance(t, dict) for t in config):
        raise ImportRefused(f"{where}: expected a Compose of transforms written as tables")
    return config


def _check_options(transform: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(transform) - allowed - {"_target_", "keys", "allow_missing_keys"})
    if extra:
        raise ImportRefused(f"{where}: {_name(transform)} option(s) {', '.join(extra)} are not translated")


def translate(preprocessing: list[dict[str, Any]], inferer: dict[str, Any], postprocessing: list[dict[str, Any]],
              source: Path) -> dict[str, Any]:
    """The pipeline tables of a bundle's transforms (ImportRefused naming an untranslatable one)."""
    pipeline: dict[str, Any] = {"orientation": "as_stored", "transpose": [2, 1, 0], "crop_foreground": False,
                                "normalize_after_resample": True}
    resample: dict[str, Any] | None = None
    normalization: dict[str, Any] = {"scheme": "none"}
    for transform in preprocessing:
        name = _name(transform)
        if name in PASS_THROUGH:
            continue
        if name == "Orientationd":
            _check_options(transform, {"axcodes", "labels", "as_closest_canonical"}, str(source))
            pipeline["orientation"] = str(transform["axcodes"]).upper()
        elif name == "Spacingd":
            _check_options(transform, {"pixdim", "mode", "align_corners", "padding_mode", "dtype"}, str(source))
            mode = transform.get("mode", "bilinear")
            mode = mode[0] if isinstance(mode, list) else mode
            if mode not in MODES or transform.get("padding_mode", "border") != "border" or transform.get(
                    "align_corners", False):
                raise ImportRefused(f"{source}: Spacingd mode {mode!r} / padding / align_corners not translated")
            resample = {"spacing": [float(p) for p in transform["pixdim"]], "order": MODES[mode],
                        "back_order": 1, "grid": "corners", "separate_z": "never"}
        elif name == "ScaleIntensityRanged":
            _check_options(transform, {"a_min", "a_max", "b_min", "b_max", "clip", "dtype"}, str(source))
            normalization = {"scheme": "clip_scale", "clip": [float(transform["a_min"]), float(transform["a_max"]),
                                                               float(transform.get("b_min", 0.0)),
                                                               float(transform.get("b_max", 1.0)),
                                                               1.0 if transform.get("clip", False) else 0.0]}
        elif name == "NormalizeIntensityd":
            _check_options(transform, {"nonzero", "channel_wise", "dtype"}, str(source))
            if transform.get("nonzero", False):
                raise ImportRefused(f"{source}: NormalizeIntensityd(nonzero=True) is not translated yet")
            normalization = {"scheme": "zscore"}
        else:
            raise ImportRefused(f"{source}: preprocessing transform {name} is not supported (refused, not guessed)")
    if _name(inferer) != "SlidingWindowInferer":
        raise ImportRefused(f"{source}: inferer {_name(inferer)} is not supported (SlidingWindowInferer only)")
    _check_options(inferer, {"roi_size", "sw_batch_size", "overlap", "mode", "sigma_scale", "padding_mode", "cval",
                             "progress", "device", "sw_device"}, str(source))
    if inferer.get("padding_mode", "constant") != "constant":
        raise ImportRefused(f"{source}: SlidingWindowInferer padding_mode {inferer['padding_mode']} not translated")
    roi = [int(r) for r in inferer["roi_size"]]
    inference = {"patch_size": roi, "overlap": float(inferer.get("overlap", 0.25)),
                 "gaussian": inferer.get("mode", "constant") == "gaussian",
                 "sigma_scale": float(inferer.get("sigma_scale", 0.125)), "mirror_axes": [], "tiling": "monai",
                 "pad_value": float(inferer.get("cval", 0.0))}
    post: dict[str, Any] = {"activation": "softmax", "resample_back": "probabilities"}
    for transform in postprocessing:
        name = _name(transform)
        if name in PASS_THROUGH:
            continue
        if name == "Activationsd":
            _check_options(transform, {"softmax", "sigmoid"}, str(source))
            post["activation"] = "sigmoid" if transform.get("sigmoid") else "softmax"
        elif name == "AsDiscreted":
            _check_options(transform, {"argmax", "threshold", "to_onehot"}, str(source))
            if transform.get("threshold") is not None:
                post["threshold"] = float(transform["threshold"])
        elif name == "KeepLargestConnectedComponentd":
            _check_options(transform, {"applied_labels", "is_onehot", "independent", "connectivity"}, str(source))
            labels = transform.get("applied_labels")
            post["largest_component"] = [int(v) for v in (labels if isinstance(labels, list) else [labels])]
        else:
            raise ImportRefused(f"{source}: postprocessing transform {name} is not supported (refused, not guessed)")
    return {"pipeline": pipeline, "resample": resample, "normalization": normalization, "inference": inference,
            "postprocess": post}


def import_bundle(bundle: str | Path, out: str | Path, *, plugin: str | None = None, modality: str | None = None,
                  examples: dict[str, Path] | None = None, overwrite: bool = False) -> Path:
    """Write the plugin for the MONAI bundle ``bundle`` into ``out``; returns ``out``."""
    from monai.bundle import ConfigParser

    bundle, out = Path(bundle), Path(out)
    inference_file, metadata_file = bundle / "configs" / "inference.json", bundle / "configs" / "metadata.json"
    for path in (inference_file, metadata_file, bundle / "models" / "model.pt"):
        if not path.is_file():
            raise ImportRefused(f"{path}: missing (is this a MONAI bundle with JSON configs?)")
    metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
    parser = ConfigParser()
    parser.read_config(str(inference_file))
    parser.read_meta(str(metadata_file))
    parser["bundle_root"] = str(bundle)
    tables = translate(_transforms(parser.get("preprocessing"), str(inference_file)), parser.get("inferer"),
                       _transforms(parser.get("postprocessing"), str(inference_file)), inference_file)
    network = parser.get_parsed_content("network_def", instantiate=True)
    state = torch.load(bundle / "models" / "model.pt", map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    try:
        network.load_state_dict(state)
    except RuntimeError as error:
        raise ImportRefused(f"{bundle / 'models' / 'model.pt'}: weights do not fit network_def ({error})") from None
    formats = metadata.get("network_data_format", {})
    channels = int(formats.get("inputs", {}).get("image", {}).get("num_channels", 1))
    channel_def = formats.get("outputs", {}).get("pred", {}).get("channel_def", {})
    if channels != 1:
        raise ImportRefused(f"{metadata_file}: only single-channel bundles are translated yet")
    names = {int(k): str(v) for k, v in channel_def.items()}
    softmax = tables["postprocess"]["activation"] == "softmax"
    values = sorted(k for k in names if k != 0) if softmax else sorted(k + 1 for k in names)
    if not values:
        raise ImportRefused(f"{metadata_file}: network_data_format.outputs.pred.channel_def names no labels")
    label_names = {v: names[v] if softmax else names[v - 1] for v in values}
    staging = staging_folder(out)
    try:
        parity = export_onnx(network, staging / "model.onnx", channels, tables["inference"]["patch_size"])
        models = [file_entry(staging, "model.onnx", "network")]
        tables["inference"]["models"] = ["network"]
        modality = (modality or metadata.get("modality") or "CT").upper()
        name = str(metadata.get("name", bundle.name))
        top = {
            "schema_version": 1, "id": plugin or plugin_id(name, "monai"), "name": f"{name} (imported MONAI bundle)",
            "version": "0.1.0", "kind": "segmentation", "modalities": [modality],
            "intended_use": f"Research only: the MONAI bundle {name}, imported without validation by Sightline; every "
                            "output needs review by a reader. Not a medical device; not for clinical use.",
            "training_data": "Unknown to Sightline: " + str(metadata.get("data_source", "not stated by the bundle")),
            "clinical_use": False,
        }
        labels = [("[[labels]]", {"value": v, "name": label_names[v], "color": list(PALETTE[(v - 1) % len(PALETTE)]),
                                  "code": dict(GENERIC_CODE)}) for v in values]
        sections = [("[[inputs]]", {"role": "image", "modalities": [modality], "dimensions": "3d"}),
                    *[("[[models]]", m) for m in models], *labels,
                    ("[calibration]", {"temperature": 1.0, "high": 0.90, "medium": 0.70}),
                    ("[pipeline]", tables["pipeline"])]
        if tables["resample"] is not None:
            sections.append(("[pipeline.resample]", tables["resample"]))
        sections += [("[[pipeline.normalization]]", tables["normalization"]),
                     ("[pipeline.inference]", tables["inference"]), ("[pipeline.postprocess]", tables["postprocess"])]
        _write(staging, top, sections)
        card = (f"Imported model, validation UNKNOWN: MONAI bundle {name} was converted by Sightline, not trained "
                f"or validated by it; not for clinical use.\n\n# {name} (MONAI bundle {metadata.get('version', '?')})"
                f"\n\n## What is known\n- The bundle's description: {metadata.get('description', 'none')}\n"
                f"- ONNX export: largest |PyTorch - ONNX Runtime| logit difference {parity:.2e}.\n"
                "- The pipeline is translated from configs/inference.json (unknown transforms are refused).\n\n"
                "## What is not known\n- Validation on this site's data: no domain reference data, so every "
                "finding needs review.\n- The label codes: generic SNOMED CT 85756007 \"Tissue\".\n")
        (staging / "MODEL_CARD.md").write_text(card, encoding="utf-8")
        if examples:
            example = write_example(staging, examples)
            files = [file_entry(staging, path, f"example {role}") for role, path in example["inputs"].items()]  # type: ignore[union-attr]
            files.append(file_entry(staging, str(example["expected_labels"]), "example expected labels"))
            _write(staging, top, sections + [("[[files]]", f) for f in files] + [("[example]", example)])
        return publish(staging, out, overwrite)
    except BaseException:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write(folder: Path, top: dict[str, Any], sections: list[tuple[str, dict[str, Any]]]) -> None:
    toml_out.write_manifest(folder / "manifest.toml", top, sections,
                            "Written by training.importers.monai_bundle. No domain data yet: every finding\n"
                            "needs review.")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.importers.monai_bundle",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--id")
    parser.add_argument("--modality")
    parser.add_argument("--example", action="append", default=[], metavar="ROLE=IMAGE.nii.gz")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    examples = parse_examples(parser, args.example)
    try:
        out = import_bundle(args.bundle, args.out, plugin=args.id, modality=args.modality, examples=examples,
                            overwrite=args.overwrite)
    except (ImportRefused, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
