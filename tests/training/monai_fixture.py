"""A small MONAI bundle (configs/metadata.json, configs/inference.json, models/model.pt) as MONAI's bundle
layout prescribes: a monai.networks.nets.UNet, LoadImaged -> EnsureChannelFirstd -> Orientationd(RAS) ->
Spacingd(bilinear) -> ScaleIntensityRanged, a Gaussian SlidingWindowInferer, and Activationsd(softmax) ->
Invertd -> AsDiscreted(argmax) -> KeepLargestConnectedComponentd -> SaveImaged. The weights get a few Adam
steps on the phantom so that the labels are confident."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

ROI = [16, 16, 16]
NETWORK = {"_target_": "UNet", "spatial_dims": 3, "in_channels": 1, "out_channels": 3, "channels": [8, 16, 32],
           "strides": [2, 2], "num_res_units": 1}
PREPROCESSING = [
    {"_target_": "LoadImaged", "keys": "image"},
    {"_target_": "EnsureChannelFirstd", "keys": "image"},
    {"_target_": "Orientationd", "keys": "image", "axcodes": "RAS"},
    {"_target_": "Spacingd", "keys": "image", "pixdim": [1.5, 1.5, 2.0], "mode": "bilinear"},
    {"_target_": "ScaleIntensityRanged", "keys": "image", "a_min": -50.0, "a_max": 250.0, "b_min": 0.0,
     "b_max": 1.0, "clip": True},
    {"_target_": "EnsureTyped", "keys": "image"},
]
POSTPROCESSING = [
    {"_target_": "Activationsd", "keys": "pred", "softmax": True},
    {"_target_": "Invertd", "keys": "pred", "transform": "@preprocessing", "orig_keys": "image",
     "nearest_interp": False, "to_tensor": True},
    {"_target_": "AsDiscreted", "keys": "pred", "argmax": True},
    {"_target_": "KeepLargestConnectedComponentd", "keys": "pred", "applied_labels": [1]},
    {"_target_": "SaveImaged", "keys": "pred", "output_dir": "$@bundle_root + '/eval'", "output_postfix": "seg",
     "resample": False, "separate_folder": False},
]


def write_bundle(root: Path, image: np.ndarray, labels: np.ndarray, steps: int = 120, seed: int = 0) -> Path:
    """The bundle folder; ``image``/``labels`` (z, y, x) train the UNet for a few steps."""
    from monai.bundle import ConfigParser

    bundle = root / "phantom_bundle"
    (bundle / "configs").mkdir(parents=True)
    (bundle / "models").mkdir()
    inference = {
        "imports": ["$import glob", "$import os"],
        "bundle_root": ".",
        "device": "$torch.device('cpu')",
        "network_def": NETWORK,
        "network": "$@network_def.to(@device)",
        "preprocessing": {"_target_": "Compose", "transforms": PREPROCESSING},
        "inferer": {"_target_": "SlidingWindowInferer", "roi_size": ROI, "sw_batch_size": 2, "overlap": 0.25,
                    "mode": "gaussian"},
        "postprocessing": {"_target_": "Compose", "transforms": POSTPROCESSING},
    }
    metadata = {
        "schema": "https://github.com/Project-MONAI/MONAI-extra-test-data/releases/download/0.8.1/meta_schema_20220324.json",
        "version": "0.1.0", "name": "Phantom organ segmentation", "description": "A test bundle: organ and lesion.",
        "monai_version": "1.6.1", "pytorch_version": torch.__version__.split("+")[0], "numpy_version": np.__version__,
        "task": "segmentation", "modality": "CT", "data_source": "synthetic phantoms",
        "network_data_format": {
            "inputs": {"image": {"type": "image", "format": "hounsfield", "num_channels": 1,
                                 "spatial_shape": ROI, "dtype": "float32"}},
            "outputs": {"pred": {"type": "image", "format": "segmentation", "num_channels": 3,
                                 "spatial_shape": ROI, "dtype": "float32",
                                 "channel_def": {"0": "background", "1": "organ", "2": "lesion"}}},
        },
    }
    (bundle / "configs" / "inference.json").write_text(json.dumps(inference, indent=2))
    (bundle / "configs" / "metadata.json").write_text(json.dumps(metadata, indent=2))
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    torch.manual_seed(seed)  # the initial weights too: the fixture model is the same on every run
    network = parser.get_parsed_content("network_def")
    rng = np.random.default_rng(seed)
    data = np.clip((image.transpose(2, 1, 0) + 50.0) / 300.0, 0, 1).astype(np.float32)
    target = labels.transpose(2, 1, 0).astype(np.int64)
    optimiser = torch.optim.Adam(network.parameters(), lr=3e-3)
    network.train()
    for _ in range(steps):
        starts = [int(rng.integers(0, max(1, n - p + 1))) for n, p in zip(data.shape, ROI, strict=True)]
        window = tuple(slice(s, s + p) for s, p in zip(starts, ROI, strict=True))
        pads = [(0, p - n) for n, p in zip(data[window].shape, ROI, strict=True)]  # a crop smaller than the ROI
        x = torch.from_numpy(np.ascontiguousarray(np.pad(data[window], pads)))[None, None]
        y = torch.from_numpy(np.pad(target[window], pads))[None]
        loss = torch.nn.functional.cross_entropy(network(x), y, weight=torch.tensor([1.0, 2.0, 8.0]))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    network.eval()
    torch.save(network.state_dict(), bundle / "models" / "model.pt")
    return bundle


def monai_inference(bundle: Path, image: Path) -> tuple[np.ndarray, np.ndarray]:
    """MONAI's own bundle inference on ``image``: the probabilities after Invertd (before AsDiscreted) and
    the final label map, both in the file's voxel order (x, y, z)."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    parser.read_meta(str(bundle / "configs" / "metadata.json"))
    parser["bundle_root"] = str(bundle)
    preprocessing = parser.get_parsed_content("preprocessing")
    network = parser.get_parsed_content("network")
    network.load_state_dict(torch.load(bundle / "models" / "model.pt", map_location="cpu", weights_only=True))
    network.eval()
    inferer = parser.get_parsed_content("inferer")
    postprocessing = parser.get_parsed_content("postprocessing")
    data = preprocessing({"image": str(image)})
    with torch.no_grad():
        data["pred"] = inferer(data["image"][None], network)[0]
    transforms = postprocessing.transforms
    for transform in transforms[:2]:  # Activationsd, Invertd
        data = transform(data)
    probabilities = np.asarray(data["pred"].detach().cpu().numpy(), dtype=np.float32)
    for transform in transforms[2:4]:  # AsDiscreted, KeepLargestConnectedComponentd (SaveImaged not needed)
        data = transform(data)
    return probabilities, np.asarray(data["pred"].detach().cpu().numpy())[0].astype(np.uint8)
