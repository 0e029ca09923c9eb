"""LoRA for 3D convolutions: a trainable low-rank update added to frozen conv weights (Hu et al. 2021).

For a convolution with weight W (out, in, k, k, k) the adapter learns ``up`` (out, r) and ``down``
(r, in*k^3) and uses W + (alpha / r) * reshape(up @ down); ``up`` starts at zero, so an adapted model
starts exactly where the base model is. ``add_lora`` wraps every Conv3d and freezes everything else
(BatchNorm running statistics included, via ``freeze_norm_statistics``); ``merge_lora`` folds the
adapters back into plain convolutions for export.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class LoRAConv3d(nn.Module):
    """A frozen Conv3d plus a rank-``rank`` weight update."""

    def __init__(self, conv: nn.Conv3d, rank: int = 4, alpha: float = 4.0) -> None:
        super().__init__()
        self.conv = conv
        for parameter in conv.parameters():
            parameter.requires_grad_(False)
        fan_in = conv.in_channels // conv.groups * math.prod(conv.kernel_size)
        self.down = nn.Parameter(torch.randn(rank, fan_in) / math.sqrt(fan_in))
        self.up = nn.Parameter(torch.zeros(conv.out_channels, rank))
        self.scale = alpha / rank

    def delta(self) -> torch.Tensor:
        """The weight update, shaped like the conv weight."""
        return (self.up @ self.down).view_as(self.conv.weight) * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv
        return F.conv3d(x, conv.weight + self.delta(), conv.bias, conv.stride, conv.padding, conv.dilation,
                        conv.groups)


def add_lora(model: nn.Module, rank: int = 4, alpha: float = 4.0) -> list[nn.Parameter]:
    """Wrap every Conv3d of ``model`` in place; freeze all other parameters; return the adapter parameters."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.Conv3d):
                setattr(module, child_name, LoRAConv3d(child, rank, alpha))
    return [p for p in model.parameters() if p.requires_grad]


def freeze_norm_statistics(model: nn.Module) -> None:
    """Put every BatchNorm in eval mode (running statistics used and left unchanged)."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every LoRAConv3d by a plain Conv3d with the merged weight (in place); returns ``model``."""
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, LoRAConv3d):
                conv = child.conv
                with torch.no_grad():
                    conv.weight.copy_(conv.weight + child.delta())
                setattr(module, child_name, conv)
    return model
