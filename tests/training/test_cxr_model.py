"""NoduleNet: output shapes, CAM = Grad-CAM (checked against the grad-cam package), ONNX export parity."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from training.cxr.export import export_onnx, parity  # noqa: E402
from training.cxr.model import STRIDE, ExportWrapper, NoduleNet  # noqa: E402

SIZE = 128


@pytest.fixture(scope="module")
def model() -> NoduleNet:
    torch.manual_seed(0)
    net = NoduleNet()
    # move BatchNorm statistics away from the identity so that eval mode is non-trivial
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(4, 1, SIZE, SIZE))
    return net.eval()


def _image(seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    blob = torch.exp(-((yy - 40.0) ** 2 + (xx - 80.0) ** 2) / 30.0)
    return (0.3 + blob + 0.05 * torch.randn(SIZE, SIZE, generator=generator))[None, None].float()


def test_output_shapes(model: NoduleNet) -> None:
    with torch.no_grad():
        out = model(torch.zeros(2, 1, SIZE, SIZE))
    grid = SIZE // STRIDE
    assert out["heatmap"].shape == (2, grid, grid) and out["log_size"].shape == (2, grid, grid)
    assert out["offset"].shape == (2, 2, grid, grid) and out["image_logit"].shape == (2,)
    assert out["cam_features"].shape == (2, model.config.cam_channels, grid, grid)
    torch.testing.assert_close(out["embedding"].norm(dim=1), torch.ones(2))


def test_cam_is_exact_from_forward_pass(model: NoduleNet) -> None:
    with torch.no_grad():
        out = model(_image())
        from_cam = float(model.cam(out["cam_features"]).mean() + model.classifier.bias[0])
    assert from_cam == pytest.approx(float(out["image_logit"][0]), abs=1e-4)


def _import_grad_cam(monkeypatch: pytest.MonkeyPatch):
    """pytorch_grad_cam imports torchvision helpers that GradCAM itself never calls; PyPI torchvision
    does not match this torch build, so stand-ins are registered when torchvision is absent."""
    if importlib.util.find_spec("pytorch_grad_cam") is None or importlib.util.find_spec("cv2") is None:
        pytest.fail("grad-cam (pytorch-grad-cam) or opencv is missing: `make test` installs them")
    if importlib.util.find_spec("torchvision") is None:
        root = types.ModuleType("torchvision")
        transforms = types.ModuleType("torchvision.transforms")
        functional = types.ModuleType("torchvision.transforms.functional")
        ops = types.ModuleType("torchvision.ops")
        for name in ("Compose", "Normalize", "ToTensor"):
            setattr(transforms, name, type(name, (), {}))
        functional.resize = None
        ops.box_iou = None
        transforms.functional = functional
        root.transforms, root.ops = transforms, ops
        for name, module in (("torchvision", root), ("torchvision.transforms", transforms),
                             ("torchvision.transforms.functional", functional), ("torchvision.ops", ops)):
            monkeypatch.setitem(sys.modules, name, module)
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    return GradCAM, ClassifierOutputTarget


class _LogitOnly(torch.nn.Module):
    def __init__(self, net: NoduleNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)["image_logit"][:, None]


def test_cam_matches_grad_cam_package(model: NoduleNet, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.preprocessing.cxr import PreparedCxr, upsample_map

    GradCAM, ClassifierOutputTarget = _import_grad_cam(monkeypatch)
    image = _image(1)
    with torch.no_grad():
        ours = torch.relu(model.cam(model(image)["cam_features"]))[0].numpy()
    prepared = PreparedCxr(image=np.zeros((0, 0), np.float32), scale=1.0, source_shape=(SIZE, SIZE))
    ours_full = upsample_map(ours, prepared, STRIDE)
    with GradCAM(model=_LogitOnly(model), target_layers=[model.cam_layer]) as cam:
        theirs = cam(input_tensor=image, targets=[ClassifierOutputTarget(0)])[0]
    assert ours.max() > 0
    correlation = np.corrcoef(ours_full.ravel(), theirs.ravel())[0, 1]
    print(f"Grad-CAM correlation (ours vs pytorch_grad_cam): {correlation:.5f}")
    assert correlation >= 0.99


def test_onnx_export_parity(model: NoduleNet, tmp_path: Path) -> None:
    path = export_onnx(model, tmp_path / "model.onnx", SIZE)
    images = np.concatenate([_image(s)[:, 0].numpy() for s in range(2)])
    diffs = parity(model, path, images)
    assert set(diffs) == set(ExportWrapper.OUTPUTS) | {f"{name}_relative" for name in ExportWrapper.OUTPUTS}
    print(f"ONNX parity max abs diff: {max(diffs.values()):.2e}")
    assert max(diffs[name] for name in ExportWrapper.OUTPUTS) < 1e-4
    assert max(diffs[f"{name}_relative"] for name in ExportWrapper.OUTPUTS) < 1e-4
    import onnx

    graph = onnx.load(str(path))
    assert max(op.version for op in graph.opset_import if op.domain in ("", "ai.onnx")) >= 17


def test_cam_layer_from_heatmap_is_an_evidence_histogram(model: NoduleNet) -> None:
    from training.cxr.train import CAM_GAIN, init_cam_from_heatmap

    net = NoduleNet()
    net.load_state_dict(model.state_dict())
    net.eval()
    thresholds = init_cam_from_heatmap(net)
    with torch.no_grad():
        out = net(_image(2))
    expected = CAM_GAIN * torch.relu(out["heatmap"][0][None] - torch.from_numpy(thresholds).float()[:, None, None])
    torch.testing.assert_close(out["cam_features"][0], expected, atol=1e-3, rtol=1e-4)


def test_int8_model_runs_every_convolution_quantised(model: NoduleNet, tmp_path: Path) -> None:
    """S8S8 calibration, activations stored as uint8: the same QDQ numbers as the S8S8 graph, and ONNX
    Runtime fuses every Conv but the FP32 stem into QLinearConv (with int8 activations it fused only some,
    and INT8 was slower than FP32)."""
    import onnx
    import onnxruntime as ort

    from training.cxr.quantize import quantize

    fp32 = export_onnx(model, tmp_path / "model.onnx", SIZE)
    images = np.concatenate([_image(s)[:, 0].numpy() for s in range(4)])
    int8 = quantize(fp32, tmp_path / "model_int8.onnx", images)
    graph = onnx.load(str(int8))
    initializers = {tensor.name: tensor for tensor in graph.graph.initializer}
    activation_zero_points = [initializers[node.input[2]] for node in graph.graph.node
                              if node.op_type == "QuantizeLinear" and node.input[0] not in initializers]
    assert activation_zero_points and all(zp.data_type == onnx.TensorProto.UINT8 for zp in activation_zero_points)

    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(int8), options, providers=["CPUExecutionProvider"])
    ops = [node.op_type for node in onnx.load(str(tmp_path / "optimized.onnx")).graph.node]
    convolutions = sum(node.op_type == "Conv" for node in onnx.load(str(fp32)).graph.node)
    assert ops.count("Conv") == 1 and ops.count("QLinearConv") == convolutions - 1  # the stem stays FP32

    # the uint8 form computes exactly what the S8S8 graph computes (reference QDQ semantics, no fusion)
    names = {zp.name for zp in activation_zero_points}
    graph_s8 = onnx.load(str(int8))
    for tensor in graph_s8.graph.initializer:
        if tensor.name in names:
            value = onnx.numpy_helper.to_array(tensor).astype(np.int16) - 128
            tensor.CopyFrom(onnx.numpy_helper.from_array(value.astype(np.int8), tensor.name))
    del graph_s8.graph.value_info[:]
    signed = tmp_path / "model_s8.onnx"
    onnx.save(onnx.shape_inference.infer_shapes(graph_s8), str(signed))
    reference = ort.SessionOptions()
    reference.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    batch = images[:2, None].astype(np.float32)
    unsigned_out = ort.InferenceSession(str(int8), reference, providers=["CPUExecutionProvider"]).run(
        None, {"image": batch})
    signed_out = ort.InferenceSession(str(signed), reference, providers=["CPUExecutionProvider"]).run(
        None, {"image": batch})
    for a, b in zip(unsigned_out, signed_out, strict=True):
        np.testing.assert_array_equal(a, b)
