"""Write the tiny declarative plugin that `sightline --smoke-test` runs: ``resources/self_check_plugin/``.

The frozen app has no onnx or torch, so the plugin is made here once and committed: a 3x3x3 mean filter as a
two-channel ONNX network (background logit 0, foreground logit 20 * (local mean - 0.25) of the clip-scaled
input, i.e. bright above ~50), a manifest whose ``[pipeline]`` exercises reorientation, resampling,
clip/scale normalisation, Gaussian sliding windows with mirroring and the largest-component step, an oblique
anisotropic example CT and the label map the pipeline gives on it. The self-check (app/self_check.py) runs
the example through the engine's pipeline in the app as it is installed and compares with that label map,
as `sightline plugins add` does for an imported plugin.

    python -m training.self_check_plugin [--out resources/self_check_plugin]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from engine.ai.hashing import sha256_file
from engine.ai.install import check_files, run_example_inputs
from engine.ai.manifest import SCHEMA_VERSION, Code, InputRole, Manifest, ModelFile, OutputLabel, load_manifest
from engine.atomic import atomic_write_bytes
from engine.geometry import Geometry
from engine.nifti import read_nifti, write_nifti
from engine.resources import resource_root
from engine.volume import Volume

PLUGIN_ID = "self_check_threshold"
FOLDER = resource_root() / "resources" / "self_check_plugin"
EXAMPLE, EXPECTED = "example/CT.nii.gz", "example/expected.nii.gz"
CARD = "MODEL_CARD.md"
MIN_TRUTH_DICE = 0.85  # the pipeline's answer against the analytic sphere (resampled twice, filtered)
PIPELINE = {
    "orientation": "RAS",
    "crop_foreground": False,
    "resample": {"spacing": [2.0, 1.5, 1.5]},
    "normalization": [{"scheme": "clip_scale", "clip": [0.0, 200.0, 0.0, 1.0, 1]}],
    "inference": {"models": ["net"], "patch_size": [8, 8, 8], "overlap": 0.5, "gaussian": True,
                  "mirror_axes": [0, 1, 2]},
    "postprocess": {"largest_component": [1]},
}
CARD_TEXT = """# Self-check plugin (not a model) — not for clinical use

A fixed 3x3x3 mean filter with a threshold, written by `training/self_check_plugin.py` so that
`sightline --smoke-test` can run a declarative ([pipeline]) plugin the way an imported nnU-Net or MONAI model
runs: reorientation, resampling, clip/scale normalisation, Gaussian sliding windows with mirroring, the
largest connected component. Its example output was computed by the source tree's pipeline; the installed
app must reproduce it.
"""


def mean_filter_model(path: Path) -> None:
    """A Conv3d (1 -> 2 channels, 3x3x3, padding 1): channel 0 = 0, channel 1 = 20 * (mean - 0.25)."""
    from onnx import TensorProto, helper

    weights = np.concatenate([np.zeros(27), np.full(27, 20.0 / 27)]).astype(np.float32)
    weight = helper.make_tensor("w", TensorProto.FLOAT, [2, 1, 3, 3, 3], weights.tolist())
    bias = helper.make_tensor("b", TensorProto.FLOAT, [2], [0.0, -5.0])
    node = helper.make_node("Conv", ["image", "w", "b"], ["logits"], pads=[1, 1, 1, 1, 1, 1])
    graph = helper.make_graph([node], "mean_threshold",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, "z", "y", "x"])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2, "z", "y", "x"])],
                              initializer=[weight, bias])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    atomic_write_bytes(path, model.SerializeToString())


def example_volume() -> tuple[Volume, np.ndarray]:
    """An oblique, anisotropic CT: a bright ball (120) in 10, plus a bright 3x3x3 speck in a corner that the
    largest-component step must remove; and the ball's mask (the analytic answer)."""
    z, y, x = np.indices((16, 20, 14), dtype=float)
    ball = (((z - 8) * 2.4) ** 2 + ((y - 10) * 1.0) ** 2 + ((x - 7) * 1.2) ** 2) < 6.5 ** 2
    image = np.where(ball, 120.0, 10.0).astype(np.float32)
    image[1:4, 1:4, 1:4] = 200.0
    a = np.radians(20)
    direction = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]]) @ np.diag([1, -1, -1])
    geometry = Geometry(shape=image.shape, spacing=(1.2, 1.0, 2.4), origin=(5.0, 2.0, -7.0), direction=direction)
    return Volume(image, geometry, modality="CT"), ball


def manifest(folder: Path, files: list[ModelFile]) -> Manifest:
    return Manifest(
        schema_version=SCHEMA_VERSION, id=PLUGIN_ID, name="Self-check threshold (declarative)", version="1.0.0",
        kind="segmentation", modalities=["CT"],
        intended_use="Self-check of the installed app only: not a model, not for any reading.",
        training_data="None: a fixed mean filter and threshold.", clinical_use=False,
        inputs=[InputRole(role="CT", modalities=["CT"], dimensions="3d")],
        models=[ModelFile(name="net", path="model.onnx", sha256=sha256_file(folder / "model.onnx"))],
        labels=[OutputLabel(value=1, name="bright", color=(255, 0, 0), code=Code("SCT", "85756007", "Tissue"))],
        pipeline=PIPELINE, files=files, example={"inputs": {"CT": EXAMPLE}, "expected_labels": EXPECTED},
    )


def write_plugin(out: Path = FOLDER) -> Path:
    """Write the plugin into ``out`` (replaced atomically as a folder); returns ``out``."""
    with tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as scratch:
        folder = Path(scratch) / "plugin"
        (folder / "example").mkdir(parents=True)
        mean_filter_model(folder / "model.onnx")
        volume, ball = example_volume()
        write_nifti(volume, folder / EXAMPLE)
        (folder / CARD).write_text(CARD_TEXT, encoding="utf-8")
        # first without the expected output: run the pipeline to get it
        (folder / "manifest.toml").write_text(manifest(folder, []).to_toml(), encoding="utf-8")
        labels = run_example_inputs(folder, {"CT": folder / EXAMPLE})
        write_nifti(labels, folder / EXPECTED)
        produced = np.asarray(read_nifti(folder / EXPECTED).array) == 1
        dice = 2 * float((produced & ball).sum()) / float(produced.sum() + ball.sum())
        if dice < MIN_TRUTH_DICE or produced[1:4, 1:4, 1:4].any():
            raise RuntimeError(f"the pipeline's example output is not the ball (Dice {dice:.3f}); not written")
        files = [ModelFile(name=path, path=path, sha256=sha256_file(folder / path))
                 for path in (EXAMPLE, EXPECTED, CARD)]
        header = "Generated by training/self_check_plugin.py: the plugin `sightline --smoke-test` runs."
        (folder / "manifest.toml").write_text(manifest(folder, files).to_toml(header), encoding="utf-8")
        problems = check_files(folder, load_manifest(folder / "manifest.toml"))
        if problems:
            raise RuntimeError("; ".join(problems))
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(folder, out)
    for path in out.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=FOLDER)
    args = parser.parse_args(argv)
    print(f"wrote {write_plugin(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
