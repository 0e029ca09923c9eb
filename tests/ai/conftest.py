"""Fixtures for the AI runtime tests: tiny ONNX models built with onnx.helper and a synthetic CT series."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from engine.ai.manifest import SCHEMA_VERSION, Code, InputRole, Manifest, ModelFile, OutputLabel
from engine.geometry import Geometry
from tests.dicom_factory import synthetic_ct_series

OPSET = 17


def conv_scale_model(path: Path, factor: float, spatial_dims: int = 2, bias: float = 0.0) -> str:
    """A one-layer ONNX graph: 1x1 (x1) convolution multiplying every voxel by ``factor``; returns its sha256.

    Input ``image`` and output ``logits`` are float32 (N, 1, *spatial) with dynamic sizes. Needs the
    ``onnx`` package (a dev dependency).
    """
    import onnx
    from onnx import TensorProto, helper

    shape = ["N", 1] + [f"s{i}" for i in range(spatial_dims)]
    weight = helper.make_tensor("w", TensorProto.FLOAT, [1, 1] + [1] * spatial_dims, [factor])
    bias_tensor = helper.make_tensor("b", TensorProto.FLOAT, [1], [bias])
    graph = helper.make_graph(
        [helper.make_node("Conv", ["image", "w", "b"], ["logits"])],
        "scale",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, shape)],
        initializer=[weight, bias_tensor],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def make_model(tmp_path: Path) -> Callable[..., tuple[Path, str]]:
    def make(
        name: str = "model.onnx", factor: float = 2.0, spatial_dims: int = 2, folder: Path | None = None
    ) -> tuple[Path, str]:
        path = (folder or tmp_path) / name
        return path, conv_scale_model(path, factor, spatial_dims)

    return make


def ct_series(
    n_slices: int = 4,
    rows: int = 12,
    columns: int = 10,
    spacing=(0.8, 0.7, 2.5),
    origin=(-40.0, -30.0, 100.0),
) -> tuple[list[Dataset], Geometry]:
    """A valid synthetic CT series (axial, LPS-aligned) and its grid; slices listed in reverse order."""
    return synthetic_ct_series(n_slices, rows, columns, spacing, origin)


LOGIC_RETURNING_NOTHING = "def run(context):\n    raise RuntimeError('not meant to run')\n"


def plugin_manifest(plugin_id: str, sha256: str, extra: str = "", model_path: str = "model.onnx") -> str:
    """A valid manifest for a CT plugin with one model and one label (Manifest.to_toml), plus ``extra`` TOML
    tables as written."""
    manifest = Manifest(
        schema_version=SCHEMA_VERSION, id=plugin_id, name=f"Test plugin {plugin_id}", version="1.2.3",
        kind="segmentation", modalities=["CT"], entry_point="logic:run", intended_use="Tests of the plugin runtime.",
        training_data="None: the model is a fixed scaling.", clinical_use=False,
        inputs=[InputRole(role="CT", modalities=["CT"])],
        models=[ModelFile(name="scaler", path=model_path, sha256=sha256)],
        labels=[OutputLabel(value=1, name="lesion", color=(255, 200, 0), code=Code("SCT", "52988006", "Lesion"))],
    )
    return manifest.to_toml() + extra


@pytest.fixture
def make_plugin(tmp_path: Path) -> Callable[..., Path]:
    """Create ``<tmp>/plugins/<id>/`` with a manifest, logic.py and a real ONNX model; returns the folder."""

    def make(
        plugin_id: str = "test_plugin",
        logic: str = LOGIC_RETURNING_NOTHING,
        extra: str = "",
        spatial_dims: int = 3,
        factor: float = 0.01,
        sha256: str | None = None,
    ) -> Path:
        folder = tmp_path / "plugins" / plugin_id
        folder.mkdir(parents=True)
        actual = conv_scale_model(folder / "model.onnx", factor, spatial_dims)
        (folder / "manifest.toml").write_text(plugin_manifest(plugin_id, sha256 or actual, extra))
        (folder / "logic.py").write_text(logic)
        return folder

    return make


@pytest.fixture
def manifest_text() -> Callable[..., str]:
    """:func:`plugin_manifest`, for tests that write manifests by hand."""
    return plugin_manifest


@pytest.fixture
def make_ct_series() -> Callable[..., tuple[list[Dataset], Geometry]]:
    """:func:`ct_series`, for tests that need several series."""
    return ct_series
