"""A small declarative plugin built in a test: a two-channel 1x1x1 convolution (background logit 0,
foreground logit = intensity - 50) run by the engine's pipeline, with its example input and expected labels."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from engine.geometry import Geometry
from engine.nifti import write_nifti
from engine.volume import Volume

MANIFEST = """schema_version = 1
id = "{plugin_id}"
name = "Declared threshold"
version = "0.1.0"
kind = "segmentation"
modalities = ["CT"]
intended_use = "Research: a test plugin."
training_data = "None: a fixed convolution."
clinical_use = false

[[inputs]]
role = "CT"
modalities = ["CT"]
dimensions = "3d"

[[models]]
name = "net"
path = "model.onnx"
sha256 = "{sha}"

[[labels]]
value = 1
name = "bright"
color = [255, 0, 0]
code = {{ scheme = "SCT", value = "85756007", meaning = "Tissue" }}

[pipeline]
orientation = "RAS"
crop_foreground = false

[pipeline.resample]
spacing = [2.0, 1.5, 1.5]

[[pipeline.normalization]]
scheme = "none"

[pipeline.inference]
models = ["net"]
patch_size = [8, 8, 8]
mirror_axes = [0, 1, 2]

[pipeline.postprocess]
largest_component = [1]
{tail}"""


def conv_model(path: Path) -> str:
    from onnx import TensorProto, helper

    shape_in, shape_out = ["N", 1, "z", "y", "x"], ["N", 2, "z", "y", "x"]
    weight = helper.make_tensor("w", TensorProto.FLOAT, [2, 1, 1, 1, 1], [0.0, 1.0])
    bias = helper.make_tensor("b", TensorProto.FLOAT, [2], [0.0, -50.0])
    graph = helper.make_graph([helper.make_node("Conv", ["image", "w", "b"], ["logits"])], "threshold",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape_in)],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, shape_out)],
                              initializer=[weight, bias])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    data = model.SerializeToString()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def example_volume() -> Volume:
    z, y, x = np.indices((12, 14, 10), dtype=float)
    image = np.where((z - 6) ** 2 + (y - 7) ** 2 + (x - 5) ** 2 < 12, 120.0, 10.0).astype(np.float32)
    image[1, 1, 1] = 200.0  # a speck the largest-component step removes
    a = np.radians(25)
    direction = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]]) @ np.diag([1, -1, -1])
    return Volume(image, Geometry(shape=image.shape, spacing=(1.2, 1.0, 2.4), origin=(5.0, 2.0, -7.0),
                                  direction=direction), modality="CT")


def make_plugin(folder: Path, plugin_id: str = "declared") -> Path:
    """Write the plugin into ``folder`` (created) with its example and hashes; returns ``folder``."""
    from engine.ai.hashing import sha256_file
    from engine.ai.install import run_example_inputs

    folder.mkdir(parents=True)
    sha = conv_model(folder / "model.onnx")
    (folder / "example").mkdir()
    write_nifti(example_volume(), folder / "example" / "CT.nii.gz")
    (folder / "manifest.toml").write_text(MANIFEST.format(plugin_id=plugin_id, sha=sha, tail=""))
    labels = run_example_inputs(folder, {"CT": folder / "example" / "CT.nii.gz"})
    write_nifti(labels, folder / "example" / "expected.nii.gz")
    (folder / "MODEL_CARD.md").write_text("Test plugin: a fixed threshold; not for clinical use.\n")
    files = "".join(f'\n[[files]]\nname = "{name}"\npath = "{path}"\nsha256 = "{sha256_file(folder / path)}"\n'
                    for name, path in [("example", "example/CT.nii.gz"), ("expected", "example/expected.nii.gz"),
                                       ("card", "MODEL_CARD.md")])
    tail = files + '\n[example]\ninputs = { CT = "example/CT.nii.gz" }\nexpected_labels = "example/expected.nii.gz"\n'
    (folder / "manifest.toml").write_text(MANIFEST.format(plugin_id=plugin_id, sha=sha, tail=tail))
    return folder
