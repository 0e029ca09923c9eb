"""NoduleNet: a small CenterNet-style detector for CPU inference, with a CAM image head and an embedding.

Encoder (strides 2..16) -> top-down neck to stride 4 -> one shared head layer -> 1x1 heads on the stride-4 grid:
- ``heatmap``: centre heat-map logits (1 channel), ``log_size``: log diameter in model pixels,
  ``offset``: sub-cell (row, col) offset of the centre;
- ``cam_features`` (the Grad-CAM target layer ``cam_layer``): ReLU conv features on the shared head
  features; the image-level "nodule present" logit is a linear layer on their global average, so
  CAM = sum_c w_c A_c is Grad-CAM up to scale;
- ``embedding``: L2-normalised concatenation of the pooled deepest features and pooled CAM features.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

STRIDE = 4


def conv_bn(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """3x3 conv + batch norm + ReLU."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


class Residual(nn.Module):
    """Two 3x3 conv-bn layers with an identity shortcut."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_bn(channels, channels), nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


@dataclass(frozen=True)
class NetConfig:
    """Channel widths per stride (2, 4, 8, 16) and of the CAM target layer."""

    widths: tuple[int, int, int, int] = (16, 32, 48, 64)
    cam_channels: int = 32


class NoduleNet(nn.Module):
    """Input (B, 1, S, S) normalised radiograph; output dict of heads (see module docstring)."""

    def __init__(self, config: NetConfig | None = None) -> None:
        super().__init__()
        self.config = config or NetConfig()
        w1, w2, w3, w4 = self.config.widths
        self.stem = conv_bn(1, w1, 2)
        self.stage2 = nn.Sequential(conv_bn(w1, w2, 2), Residual(w2))
        self.stage3 = nn.Sequential(conv_bn(w2, w3, 2), Residual(w3))
        self.stage4 = nn.Sequential(conv_bn(w3, w4, 2), Residual(w4), Residual(w4))
        self.lateral3 = nn.Conv2d(w3, w2, 1)
        self.lateral4 = nn.Conv2d(w4, w2, 1)
        self.neck = conv_bn(w2, w2)
        self.head = conv_bn(w2, w2)
        self.heatmap = nn.Conv2d(w2, 1, 1)
        self.log_size = nn.Conv2d(w2, 1, 1)
        self.offset = nn.Conv2d(w2, 2, 1)
        self.cam_layer = conv_bn(w2, self.config.cam_channels)
        self.classifier = nn.Linear(self.config.cam_channels, 1)
        nn.init.constant_(self.heatmap.bias, -4.0)  # CenterNet prior: few centres

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.heads(*self.trunk(image))

    def trunk(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Deepest encoder features (stride 16) and the shared head features (stride 4)."""
        c2 = self.stage2(self.stem(image))
        c3 = self.stage3(c2)
        c4 = self.stage4(c3)
        p3 = self.lateral3(c3) + F.interpolate(self.lateral4(c4), size=c3.shape[-2:], mode="nearest")
        neck = self.neck(c2 + F.interpolate(p3, size=c2.shape[-2:], mode="nearest"))
        return c4, self.head(neck)

    def heads(self, c4: torch.Tensor, head: torch.Tensor) -> dict[str, torch.Tensor]:
        """All outputs from the trunk features."""
        cam_features = self.cam_layer(head)
        pooled_cam = cam_features.mean(dim=(2, 3))
        embedding = torch.cat([c4.mean(dim=(2, 3)), pooled_cam], dim=1)
        return {
            "heatmap": self.heatmap(head)[:, 0],
            "log_size": self.log_size(head)[:, 0],
            "offset": self.offset(head),
            "image_logit": self.classifier(pooled_cam)[:, 0],
            "cam_features": cam_features,
            "embedding": F.normalize(embedding, dim=1, eps=1e-6),
        }

    def cam(self, cam_features: torch.Tensor) -> torch.Tensor:
        """Class activation map sum_c w_c A_c (B, h, w) for the "nodule present" logit.

        Written as a 1x1 convolution with the classifier weights rather than an einsum: the same sum, but
        ONNX Runtime runs a Conv in its blocked (NCHWc) CPU kernels and can quantise it, while its Einsum
        kernel took 15% (1 thread) to a third (2 threads) of the exported detector's run time."""
        return F.conv2d(cam_features, self.classifier.weight[:, :, None, None])[:, 0]


class ExportWrapper(nn.Module):
    """The ONNX graph: sigmoid-free heads, image logit, CAM, embedding (named outputs, fixed order)."""

    OUTPUTS = ("heatmap", "log_size", "offset", "image_logit", "cam", "embedding")

    def __init__(self, net: NoduleNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.net(image)
        cam = self.net.cam(out["cam_features"])
        return out["heatmap"], out["log_size"], out["offset"], out["image_logit"], cam, out["embedding"]
