"""A tiny nnU-Net v2 results folder written the way nnU-Net writes one, and an oblique, anisotropic CT-like
phantom saved as NIfTI, for the importer's parity test and benchmark.

The folder holds ``dataset.json``, ``plans.json`` (3d_fullres: PlainConvUNet of dynamic-network-
architectures, CTNormalization, a transpose that puts the coarse axis first, target spacing that makes
nnU-Net resample the coarse axis separately) and ``fold_0/checkpoint_final.pth`` with the keys
nnUNetPredictor reads. The weights are trained for a few Adam steps on the phantom so that the labels are
confident (random weights would leave most voxels on a tie)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from engine.geometry import Geometry
from engine.nifti import write_nifti
from engine.volume import Volume

LABELS = {"background": 0, "organ": 1, "lesion": 2}
PATCH = [8, 16, 16]
INTENSITY = {"max": 260.0, "mean": 95.0, "median": 90.0, "min": -40.0, "percentile_00_5": -20.0,
             "percentile_99_5": 240.0, "std": 60.0}
ARCH = {
    "network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
    "arch_kwargs": {
        "n_stages": 3, "features_per_stage": [8, 16, 24], "conv_op": "torch.nn.modules.conv.Conv3d",
        "kernel_sizes": [[1, 3, 3], [3, 3, 3], [3, 3, 3]], "strides": [[1, 1, 1], [1, 2, 2], [2, 2, 2]],
        "n_conv_per_stage": [2, 2, 2], "n_conv_per_stage_decoder": [2, 2], "conv_bias": True,
        "norm_op": "torch.nn.modules.instancenorm.InstanceNorm3d", "norm_op_kwargs": {"eps": 1e-05, "affine": True},
        "dropout_op": None, "dropout_op_kwargs": None, "nonlin": "torch.nn.LeakyReLU",
        "nonlin_kwargs": {"inplace": True},
    },
    "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
}


def phantom(shape: tuple[int, int, int] = (30, 40, 14), seed: int = 0) -> tuple[Volume, np.ndarray]:
    """CT-like phantom (z, y, x) with spacing (x, y, z) = (3.2, 0.9, 1.1) mm, rotated 20 and 10 degrees
    (oblique), zero outside a cylindrical field of view (so cropping to the non-zero box matters): an
    'organ' ellipsoid and a bright 'lesion' in it. Returns the volume and its true labels."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape, dtype=float)
    cz, cy, cx = (np.asarray(shape) - 1) / 2
    spacing = (3.2, 0.9, 1.1)
    body = ((y - cy) / (0.42 * shape[1])) ** 2 + ((x - cx) / (0.45 * shape[2])) ** 2 <= 1
    organ = (((z - cz + 2) * 1.1 / 11) ** 2 + ((y - cy - 2) * 0.9 / 13) ** 2 + ((x - cx) * 3.2 / 16) ** 2) <= 1
    lesion = (((z - cz) * 1.1 / 5) ** 2 + ((y - cy - 5) * 0.9 / 5) ** 2 + ((x - cx) * 3.2 / 6) ** 2) <= 1
    image = np.where(body, 20.0, -1000.0) + rng.normal(0, 8, shape)
    image[organ] = 110 + rng.normal(0, 8, int(organ.sum()))
    image[lesion] = 210 + rng.normal(0, 8, int(lesion.sum()))
    fov = ((z - cz) / (0.48 * shape[0])) ** 2 + ((y - cy) / (0.5 * shape[1])) ** 2 <= 1
    image[~fov] = 0.0
    labels = np.where(lesion, 2, np.where(organ, 1, 0)).astype(np.uint8)
    labels[~fov] = 0
    a, b = np.radians(20), np.radians(10)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    geometry = Geometry(shape=shape, spacing=spacing, origin=(-12.5, 30.0, -40.0), direction=rz @ rx)
    return Volume(image.astype(np.float32), geometry, modality="CT"), labels


def plans(spacing_zyx: tuple[float, float, float]) -> dict:
    transpose = [int(a) for a in np.argsort([-s for s in spacing_zyx], kind="stable")]  # coarse axis first
    configuration = {
        "data_identifier": "nnUNetPlans_3d_fullres", "preprocessor_name": "DefaultPreprocessor", "batch_size": 2,
        "patch_size": PATCH, "median_image_size_in_voxels": [14, 30, 40],
        "spacing": [3.2, 1.5, 1.5], "normalization_schemes": ["CTNormalization"], "use_mask_for_norm": [False],
        "resampling_fn_data": "resample_data_or_seg_to_shape",
        "resampling_fn_seg": "resample_data_or_seg_to_shape",
        "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None},
        "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, "order_z": 0, "force_separate_z": None},
        "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
        "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, "order_z": 0, "force_separate_z": None},
        "architecture": ARCH, "batch_dice": False,
    }
    return {
        "dataset_name": "Dataset901_Phantom", "plans_name": "nnUNetPlans",
        "original_median_spacing_after_transp": [spacing_zyx[a] for a in transpose],
        "original_median_shape_after_transp": [14, 30, 40], "image_reader_writer": "SimpleITKIO",
        "transpose_forward": transpose, "transpose_backward": [int(a) for a in np.argsort(transpose)],
        "configurations": {"3d_fullres": configuration},
        "experiment_planner_used": "ExperimentPlanner", "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {"0": INTENSITY},
    }


def network() -> torch.nn.Module:
    from dynamic_network_architectures.architectures.unet import PlainConvUNet

    kwargs = dict(ARCH["arch_kwargs"])
    kwargs.update(conv_op=torch.nn.Conv3d, norm_op=torch.nn.InstanceNorm3d, nonlin=torch.nn.LeakyReLU,
                  dropout_op=None)
    return PlainConvUNet(input_channels=1, num_classes=len(LABELS), deep_supervision=False, **kwargs)


def train(net: torch.nn.Module, image: np.ndarray, labels: np.ndarray, steps: int = 80, seed: int = 0) -> None:
    """A few Adam steps on random patches of the normalised, transposed phantom (enough for confident labels)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    lo, hi = INTENSITY["percentile_00_5"], INTENSITY["percentile_99_5"]
    data = (np.clip(image, lo, hi) - INTENSITY["mean"]) / INTENSITY["std"]
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    net.train()
    for _ in range(steps):
        starts = [int(rng.integers(0, max(1, n - p + 1))) for n, p in zip(data.shape, PATCH, strict=True)]
        window = tuple(slice(s, s + p) for s, p in zip(starts, PATCH, strict=True))
        x = torch.from_numpy(np.ascontiguousarray(data[window], dtype=np.float32))[None, None]
        y = torch.from_numpy(labels[window].astype(np.int64))[None]
        loss = torch.nn.functional.cross_entropy(net(x), y, weight=torch.tensor([1.0, 2.0, 8.0]))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    net.eval()


def write_results_folder(root: Path, volume: Volume, labels: np.ndarray, steps: int = 80) -> tuple[Path, Path]:
    """nnUNet_results/Dataset901_Phantom/nnUNetTrainer__nnUNetPlans__3d_fullres with fold_0, and the phantom
    NIfTI (nnU-Net's naming, case_0000.nii.gz). Returns (results folder, image file)."""
    results = root / "nnUNet_results" / "Dataset901_Phantom" / "nnUNetTrainer__nnUNetPlans__3d_fullres"
    (results / "fold_0").mkdir(parents=True)
    spacing_zyx = volume.geometry.spacing[::-1]
    plan = plans(spacing_zyx)
    dataset = {"channel_names": {"0": "CT"}, "labels": LABELS, "numTraining": 1, "file_ending": ".nii.gz"}
    (results / "dataset.json").write_text(json.dumps(dataset, indent=2))
    (results / "plans.json").write_text(json.dumps(plan, indent=2))
    torch.manual_seed(0)  # the initial weights too: the fixture model is the same on every run
    net = network()
    transpose = plan["transpose_forward"]
    train(net, volume.array.transpose(transpose), labels.transpose(transpose), steps)
    checkpoint = {
        "network_weights": net.state_dict(), "optimizer_state": None, "grad_scaler_state": None, "logging": {},
        "_best_ema": None, "current_epoch": steps, "trainer_name": "nnUNetTrainer",
        "init_args": {"plans": plan, "configuration": "3d_fullres", "fold": 0, "dataset_json": dataset,
                      "device": "cpu"},
        "inference_allowed_mirroring_axes": (0, 1, 2),
    }
    torch.save(checkpoint, results / "fold_0" / "checkpoint_final.pth")
    image = root / "images" / "case_0000.nii.gz"
    image.parent.mkdir()
    write_nifti(volume, image)
    return results, image
