"""LesionNet: a small two-branch CNN that tells which artery (or none) a candidate calcified lesion is on.

- local branch: the lesion's 3 x 32 x 32 neighbourhood (0.6 mm) -> global-average-pooled features
  (what the lesion looks like: plaque vs bone edge vs noise);
- context branch: 3 x 64 x 64 planes (3 mm, 192 mm field) centred on the lesion -> a 4 x 4 map kept
  spatial (where the heart, aorta, sternum and spine lie relative to the lesion decides the artery);
- scalars: size, density and position relative to the body centre.
Outputs ``logits`` over CLASSES (non-coronary, LM, LAD, LCX, RCA) and a unit-length ``embedding``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from plugins.coronary_calcium_ct.features import CONTEXT_SIZE, LOCAL_SIZE, N_SCALARS
from training.calcium.records import CLASSES

EMBEDDING = 64


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.MaxPool2d(2))


class LesionNet(nn.Module):
    """See the module docstring; ``width`` sets the channel counts."""

    def __init__(self, width: int = 16, dropout: float = 0.2) -> None:
        super().__init__()
        self.local = nn.Sequential(_block(3, width), _block(width, 2 * width), _block(2 * width, 4 * width),
                                   nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.context = nn.Sequential(_block(3, width), _block(width, 2 * width), _block(2 * width, 2 * width),
                                     _block(2 * width, 2 * width), nn.Flatten(),
                                     nn.Linear(2 * width * (CONTEXT_SIZE // 16) ** 2, 4 * width), nn.ReLU(inplace=True))
        self.scalars = nn.Sequential(nn.Linear(N_SCALARS, 2 * width), nn.ReLU(inplace=True))
        self.fuse = nn.Sequential(nn.Linear(10 * width, EMBEDDING), nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(EMBEDDING, len(CLASSES))
        assert LOCAL_SIZE % 8 == 0 and CONTEXT_SIZE % 16 == 0

    def forward(self, local: torch.Tensor, context: torch.Tensor, scalars: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.fuse(torch.cat([self.local(local), self.context(context), self.scalars(scalars)], dim=1))
        return self.head(self.dropout(features)), F.normalize(features, dim=1, eps=1e-6)
